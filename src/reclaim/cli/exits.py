"""Process exit codes shared by every `reclaim` command."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What a `reclaim` process's exit status means."""

    OK = 0
    INTERNAL = 1
    USER_ERROR = 2
    UPSTREAM_UNAVAILABLE = 3
