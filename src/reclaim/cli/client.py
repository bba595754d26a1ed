"""The person's side of the registry API, over HTTP (httpx)."""

from __future__ import annotations

from typing import Any

import httpx

from reclaim.cli.context import UpstreamError
from reclaim.errors import ReclaimError


class RegistryRefusal(ReclaimError):
    """The registry answered with an error about this request (4xx)."""


class PersonClient:
    """Create, read, extend and withdraw cases on one registry."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self._base = base_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.post(f"{self._base}{path}", json=body)
        except httpx.HTTPError as error:
            raise UpstreamError(
                f"cannot reach the registry at {self._base}: {type(error).__name__}; "
                "check --registry / RECLAIM_REGISTRY_URL and your connection"
            ) from None
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
            raise RegistryRefusal(f"{message}{': ' + details if details else ''}")
        return payload

    def create_case(self, program: str, hashes: list[dict[str, Any]]) -> dict[str, Any]:
        """Open a case; the answer holds `case_number` and `pin`."""
        return self._post("/api/v1/cases", {"program": program, "hashes": hashes})

    def status(self, number: str, pin: str) -> dict[str, Any]:
        """The case as its owner sees it."""
        return self._post(f"/api/v1/cases/{number}/status", {"pin": pin})["case"]  # type: ignore[no-any-return]

    def add(
        self, number: str, pin: str, hashes: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Add hashes to an open case."""
        body = {"pin": pin, "hashes": hashes}
        return self._post(f"/api/v1/cases/{number}/hashes", body)["case"]  # type: ignore[no-any-return]

    def withdraw(self, number: str, pin: str) -> dict[str, Any]:
        """Withdraw a case."""
        return self._post(f"/api/v1/cases/{number}/withdraw", {"pin": pin})["case"]  # type: ignore[no-any-return]
