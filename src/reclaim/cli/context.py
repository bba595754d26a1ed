"""Shared CLI plumbing: settings, errors to exit codes, consoles."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console

from reclaim.cli.exits import ExitCode
from reclaim.config import Settings, SettingsError
from reclaim.errors import ReclaimError

P = ParamSpec("P")
R = TypeVar("R")

out = Console()
err = Console(stderr=True)

#: `--config`, the matcher's config file, for every `reclaim matcher` command.
ConfigPath = Annotated[
    Path,
    typer.Option(
        "--config", "-c", help="The matcher's TOML config file (see docs/matcher.md)."
    ),
]
DEFAULT_CONFIG = Path("matcher.toml")


class UpstreamError(ReclaimError):
    """The registry could not be reached or answered with a server error."""


def settings() -> Settings:
    """Settings from the environment, or a one-line error and exit 2."""
    try:
        return Settings.from_env()
    except SettingsError as error:
        fail(str(error), ExitCode.USER_ERROR)


def fail(message: str, code: ExitCode) -> NoReturn:
    """Print one line to stderr and exit with `code`."""
    typer.echo(f"reclaim: {message}", err=True)
    raise typer.Exit(code)


def user_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn ReclaimErrors into one line on stderr and exit 2 (3 if upstream)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except UpstreamError as error:
            fail(str(error), ExitCode.UPSTREAM_UNAVAILABLE)
        except ReclaimError as error:
            fail(str(error), ExitCode.USER_ERROR)
        raise AssertionError("unreachable")

    return wrapper
