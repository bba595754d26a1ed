"""The person's side of the registry API, over HTTP (httpx).

Every request is safe to send again, so a network failure (or a registry
that is restarting: 502, 503, 504) is retried a few times with backoff. Case
creation is made safe by an `Idempotency-Key`: a retry gets the first answer
(the same case number and PIN) instead of opening a second case. Refusals
(4xx) are never retried.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import httpx

from reclaim.cli.context import UpstreamError
from reclaim.errors import ReclaimError

logger = logging.getLogger(__name__)

#: Statuses that mean "not now" rather than "no": the request may be resent.
RETRY_STATUSES = frozenset({502, 503, 504})


class RegistryRefusal(ReclaimError):
    """The registry answered with an error about this request (4xx)."""

    def __init__(self, message: str, status: int, *, retried: bool = False) -> None:
        super().__init__(message)
        self.status = status
        #: Whether an earlier try of the same request got no answer.
        self.retried = retried


def new_idempotency_key() -> str:
    """A fresh key for one case creation: 128 random bits, 22 characters."""
    return secrets.token_urlsafe(16)


class PersonClient:
    """Create, read, extend and withdraw cases on one registry."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        attempts: int = 5,
        backoff: float = 0.5,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)
        self._attempts = attempts
        self._backoff = backoff

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _post(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """POST, retrying network failures and 502-504 with backoff."""
        for attempt in range(self._attempts):
            last = attempt == self._attempts - 1
            try:
                response = self._http.post(
                    f"{self._base}{path}", json=body, headers=headers
                )
            except httpx.TransportError as error:
                if last:
                    raise UpstreamError(
                        f"cannot reach the registry at {self._base}: "
                        f"{type(error).__name__} ({self._attempts} tries); check "
                        "--registry / RECLAIM_REGISTRY_URL and your connection, "
                        "then run the same command again"
                    ) from None
            else:
                if response.status_code not in RETRY_STATUSES or last:
                    return self._answer(response, retried=attempt > 0)
            delay = self._backoff * 2**attempt
            logger.info("registry unreachable; retrying in %.1f s", delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _answer(self, response: httpx.Response, *, retried: bool) -> dict[str, Any]:
        try:
            payload: dict[str, Any] = response.json()
        except ValueError:
            payload = {}
        if response.status_code >= 500:
            raise UpstreamError(
                f"the registry failed ({response.status_code}): "
                f"{payload.get('error', 'no details')}; try again later"
            )
        if response.status_code >= 400:
            details = "; ".join(payload.get("errors", []))
            message = payload.get("error", f"refused ({response.status_code})")
            raise RegistryRefusal(
                f"{message}{': ' + details if details else ''}",
                response.status_code,
                retried=retried,
            )
        return payload

    def create_case(
        self,
        program: str,
        hashes: list[dict[str, Any]],
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Open a case; the answer holds `case_number` and `pin`.

        One key for all tries (a new one if none is given), so a creation
        whose answer was lost is answered again rather than made twice.
        """
        key = idempotency_key or new_idempotency_key()
        return self._post(
            "/api/v1/cases",
            {"program": program, "hashes": hashes},
            headers={"Idempotency-Key": key},
        )

    def status(self, number: str, pin: str) -> dict[str, Any]:
        """The case as its owner sees it."""
        return self._post(f"/api/v1/cases/{number}/status", {"pin": pin})["case"]  # type: ignore[no-any-return]

    def add(
        self, number: str, pin: str, hashes: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Add hashes to an open case (hashes it holds already are skipped, so
        a retry adds nothing twice)."""
        body = {"pin": pin, "hashes": hashes}
        return self._post(f"/api/v1/cases/{number}/hashes", body)["case"]  # type: ignore[no-any-return]

    def withdraw(self, number: str, pin: str) -> dict[str, Any]:
        """Withdraw a case. If a retry finds it withdrawn, the lost first try
        did it: the case is shown as it is."""
        try:
            return self._post(f"/api/v1/cases/{number}/withdraw", {"pin": pin})["case"]  # type: ignore[no-any-return]
        except RegistryRefusal as refusal:
            if refusal.status == 409 and refusal.retried:
                return self.status(number, pin)
            raise
