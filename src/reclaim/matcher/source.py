"""The source of the list: the protocol every source follows, and HTTP plumbing.

A source hands out pages (`records.Page`) after a cursor, or a snapshot when
there is no cursor yet, takes feedback, and may say what other platforms
reported about listed hashes (`records.Reports`). Errors are `SourceUnavailable`
(retry later: down, slow, 5xx, 429) or `SourceRejected` (the key was refused
or the request was wrong: retrying will not help until someone fixes it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

import httpx

from reclaim.hashing import SignalType
from reclaim.matcher.config import SourceConfig
from reclaim.matcher.errors import SourceError, SourceRejected, SourceUnavailable
from reclaim.matcher.records import Outcome, Page, Reports


class Source(Protocol):
    """A hash-list source (our registry, a StopNCII-compatible API, NCMEC)."""

    @property
    def name(self) -> str:
        """A short label for logs and /status (never a key)."""
        ...

    def pages(self, cursor: str | None) -> Iterator[Page]:
        """A snapshot when `cursor` is None, else the changes after it."""
        ...

    def report(self, outcomes: Sequence[Outcome]) -> None:
        """Send feedback; raises SourceError if it was not accepted."""
        ...

    def reports(
        self, hashes: Sequence[tuple[SignalType | str, str]]
    ) -> Mapping[tuple[str, str], Reports]:
        """Other platforms' feedback on listed (type, value) hashes, counted.

        Keyed by (type name, value) as asked; a hash the source does not list,
        or cannot report on, is absent. Raises SourceError when the source
        could not be asked (the caller shows "reports unavailable").
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def open_source(
    config: SourceConfig, *, transport: httpx.BaseTransport | None = None
) -> Source:
    """The source the config names."""
    from reclaim.matcher.ncmec_source import NcmecSource
    from reclaim.matcher.registry_source import RegistrySource
    from reclaim.matcher.stopncii_source import StopnciiSource

    if config.kind == "stopncii":
        return StopnciiSource(config, transport=transport)
    if config.kind == "ncmec":
        return NcmecSource(config, transport=transport)
    return RegistrySource(config, transport=transport)


def check(response: httpx.Response, what: str) -> httpx.Response:
    """Turn an HTTP failure into the matching SourceError."""
    if response.status_code < 400:
        return response
    raise failed(response.status_code, _reason(response), what)


def failed(status: int, reason: str, what: str) -> SourceError:
    """The SourceError for an HTTP error `status` answered to `what`."""
    if status in (401, 403):
        return SourceRejected(
            f"the source refused the API key for {what} (HTTP {status}): it may "
            "have been revoked or rotated; put a valid key in the config's "
            "[source] section"
        )
    if status == 429 or status >= 500:
        return SourceUnavailable(
            f"the source answered {what} with HTTP {status}: it is overloaded or "
            "down; the matcher keeps its last good list and retries"
        )
    return SourceRejected(
        f"the source refused {what} (HTTP {status}): "
        f"{reason or 'no error message'}; check the config's [source] url and "
        "programs"
    )


def unreachable(error: httpx.HTTPError, what: str) -> SourceUnavailable:
    """A transport failure as SourceUnavailable (names no URL with secrets)."""
    return SourceUnavailable(
        f"the source could not be reached for {what} ({type(error).__name__}): "
        "the matcher keeps its last good list and retries"
    )


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "no JSON error message"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])[:200]
    return ""
