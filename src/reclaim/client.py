"""The one client of reclaim's registry API, for the person's side and the platform's.

`reclaim submit`/`status`/`withdraw` use the person's half (cases); the
platform matcher's registry source uses the platform's half (snapshot,
change feed, feedback and its summary). Both share the transport: one httpx
client, retries of what is safe to resend, and one reading of an answer.

Every request here is safe to send again: case creation carries an
`Idempotency-Key` (a retry gets the first answer, the same case number and
PIN, instead of a second case), adding hashes skips those a case holds, a
withdrawal found done by a retry is shown as done, and the platform's reads
change nothing. So a network failure, or a registry that is restarting
(502, 503, 504), is retried `attempts` times with backoff. Refusals (4xx,
429 included) are never retried.

Errors (`RegistryError`, a `ReclaimError`):

    RegistryError
    ├── RegistryUnavailable   no answer, or a server error: try again later
    └── RegistryRefusal       a 4xx answer about this request (.status, .reason)

Messages name what failed and the registry's answer; they never hold the
API key, a PIN or a hash. Callers add their own advice (the CLI its flags,
the matcher that it keeps its last good list).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from reclaim.errors import ReclaimError

logger = logging.getLogger(__name__)

#: Statuses that mean "not now" rather than "no": the request may be resent.
RETRY_STATUSES = frozenset({502, 503, 504})

#: The platform API's prefix.
PLATFORM = "/api/v1/platform"


class RegistryError(ReclaimError):
    """The registry did not do what was asked."""


class RegistryUnavailable(RegistryError):
    """No answer (network failure, timeout) or a server error (5xx)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        #: The HTTP status, or None when nothing answered.
        self.status = status


class RegistryRefusal(RegistryError):
    """The registry answered with an error about this request (4xx)."""

    def __init__(
        self, message: str, status: int, *, reason: str = "", retried: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        #: The registry's own error message (at most 200 characters).
        self.reason = reason
        #: Whether an earlier try of the same request got no answer.
        self.retried = retried


def new_idempotency_key() -> str:
    """A fresh key for one case creation: 128 random bits, 22 characters."""
    return secrets.token_urlsafe(16)


class RegistryClient:
    """One registry: cases for a person, the list and feedback for a platform.

    `api_key` is a platform's key (sent as a Bearer token); the person's
    calls need none. `attempts` counts every try of a request (1: no
    retries; the matcher's sync loop retries on its own schedule).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        attempts: int = 5,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts={attempts}: expected at least 1 try")
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers=headers,
            transport=transport,
        )
        self._attempts = attempts
        self._backoff = backoff

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ---- the person's side ------------------------------------------------

    def create_case(
        self,
        program: str,
        hashes: Sequence[dict[str, Any]],
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Open a case; the answer holds `case_number` and `pin`.

        One key for all tries (a new one if none is given), so a creation
        whose answer was lost is answered again rather than made twice.
        """
        key = idempotency_key or new_idempotency_key()
        return self._send(
            "POST",
            "/api/v1/cases",
            body={"program": program, "hashes": list(hashes)},
            headers={"Idempotency-Key": key},
            what="the case creation",
        )

    def status(self, number: str, pin: str) -> dict[str, Any]:
        """The case as its owner sees it."""
        answer = self._send(
            "POST", f"/api/v1/cases/{number}/status", body={"pin": pin}, what="the case"
        )
        return _case(answer)

    def add(
        self, number: str, pin: str, hashes: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        """Add hashes to an open case (hashes it holds already are skipped, so
        a retry adds nothing twice)."""
        body = {"pin": pin, "hashes": list(hashes)}
        answer = self._send(
            "POST", f"/api/v1/cases/{number}/hashes", body=body, what="the new hashes"
        )
        return _case(answer)

    def withdraw(self, number: str, pin: str) -> dict[str, Any]:
        """Withdraw a case. If a retry finds it withdrawn, the lost first try
        did it: the case is shown as it is."""
        try:
            answer = self._send(
                "POST",
                f"/api/v1/cases/{number}/withdraw",
                body={"pin": pin},
                what="the withdrawal",
            )
        except RegistryRefusal as refusal:
            if refusal.status == 409 and refusal.retried:
                return self.status(number, pin)
            raise
        return _case(answer)

    # ---- the platform's side ----------------------------------------------

    def snapshot(self, programs: Sequence[str]) -> Iterator[dict[str, Any]]:
        """The live list as records, then its closing line (`{"end": true,
        "count", "cursor"}`), read as it streams.

        Not retried: a stream cut part way raises RegistryUnavailable, and
        the caller starts again.
        """
        what = "the snapshot"
        params = httpx.QueryParams([("program", p) for p in programs])
        try:
            with self._http.stream("GET", f"{PLATFORM}/snapshot", params=params) as r:
                if r.status_code >= 400:
                    r.read()
                    self._answer(r, what=what, retried=False)
                for line in r.iter_lines():
                    if line:
                        yield _line(line, what)
        except httpx.HTTPError as error:
            raise _unreachable(error, what) from None

    def changes(
        self, programs: Sequence[str], *, cursor: int, limit: int
    ) -> dict[str, Any]:
        """One page of the change feed after `cursor`: `records`, `cursor`,
        `has_more`."""
        params = httpx.QueryParams(
            [*(("program", p) for p in programs), ("cursor", cursor), ("limit", limit)]
        )
        return self._send(
            "GET", f"{PLATFORM}/changes", params=params, what="the change feed"
        )

    def feedback(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Report what the platform did with matched hashes."""
        return self._send(
            "POST", f"{PLATFORM}/feedback", body={"items": list(items)}, what="feedback"
        )

    def feedback_summary(self, hashes: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """What other platforms reported about listed hashes (type, value):
        `results`, one per hash in order (`listed`, `quarantined`, `reports`
        counts). At most 100 hashes a call."""
        body = {"hashes": [{"type": kind, "value": value} for kind, value in hashes]}
        return self._send(
            "POST", f"{PLATFORM}/feedback/summary", body=body, what="feedback summary"
        )

    # ---- the transport ----------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: dict[str, Any] | None = None,
        params: httpx.QueryParams | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send, retrying network failures and 502-504 with backoff."""
        for attempt in range(self._attempts):
            last = attempt == self._attempts - 1
            try:
                response = self._http.request(
                    method, path, json=body, params=params, headers=headers
                )
            except httpx.TransportError as error:
                if last:
                    raise _unreachable(error, what, tries=self._attempts) from None
            else:
                if response.status_code not in RETRY_STATUSES or last:
                    return self._answer(response, what=what, retried=attempt > 0)
            delay = self._backoff * 2**attempt
            logger.info("registry unreachable; retrying in %.1f s", delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    @staticmethod
    def _answer(
        response: httpx.Response, *, what: str, retried: bool
    ) -> dict[str, Any]:
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            payload = {}
        reason = str(payload.get("error", ""))[:200]
        if status >= 500:
            raise RegistryUnavailable(
                f"the registry failed on {what} (HTTP {status}): "
                f"{reason or 'no details'}",
                status=status,
            )
        if status >= 400:
            details = "; ".join(str(e) for e in payload.get("errors", []))[:400]
            message = reason or f"the registry refused {what} (HTTP {status})"
            raise RegistryRefusal(
                f"{message}{': ' + details if details else ''}",
                status,
                reason=reason,
                retried=retried,
            )
        if status >= 300 or not payload:
            raise RegistryUnavailable(
                f"the registry answered {what} with HTTP {status} and no JSON "
                "object: is the URL a reclaim registry?",
                status=status,
            )
        return payload


def _case(answer: dict[str, Any]) -> dict[str, Any]:
    case = answer.get("case")
    if not isinstance(case, dict):
        raise RegistryUnavailable(
            "the registry's answer held no case: is the URL a reclaim registry?"
        )
    return case


def _line(line: str, what: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except ValueError:
        item = None
    if not isinstance(item, dict):
        raise RegistryUnavailable(
            f"{what} had a line that is not a record: the stream was damaged"
        )
    return item


def _unreachable(
    error: httpx.HTTPError, what: str, *, tries: int = 1
) -> RegistryUnavailable:
    counted = f", {tries} tries" if tries > 1 else ""
    return RegistryUnavailable(
        f"the registry could not be reached for {what} "
        f"({type(error).__name__}{counted})"
    )
