"""Signed webhooks to the platform's moderation system, and how to verify them.

Each delivery is a JSON POST with three headers:

* `X-Reclaim-Timestamp`: Unix seconds when it was signed;
* `X-Reclaim-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the
  shared secret, of `"{timestamp}." + body`;
* `X-Reclaim-Delivery`: a delivery id, the same on every retry (deduplicate on
  it: a delivery may arrive twice if an acknowledgement was lost).

A receiver checks the signature with `verify` and refuses old timestamps to
stop replays. Deliveries stay in the outbox until answered with a 2xx.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping

import httpx

from reclaim.matcher.config import WebhookConfig
from reclaim.matcher.feedback import Flushed
from reclaim.matcher.outbox import WEBHOOK, Outbox

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Reclaim-Timestamp"
SIGNATURE_HEADER = "X-Reclaim-Signature"
DELIVERY_HEADER = "X-Reclaim-Delivery"

#: How old a signed delivery a receiver should accept, in seconds.
TOLERANCE = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for a body signed at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE,
) -> bool:
    """Whether a delivery is signed with `secret` and recent enough."""
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not stamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(stamp), body), given)


class WebhookSender:
    """Delivers queued webhook messages, one POST each."""

    def __init__(
        self,
        config: WebhookConfig,
        outbox: Outbox,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.http = httpx.Client(timeout=config.timeout_seconds, transport=transport)

    def flush(self) -> Flushed:
        """Send every due delivery; failures are retried later."""
        if not self.config.enabled:
            return Flushed(0, 0)
        sent = failed = 0
        error: str | None = None
        for message in self.outbox.due(WEBHOOK, limit=200):
            body = json.dumps(
                {**message.payload, "delivery": message.id}, sort_keys=True
            ).encode()
            stamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: str(stamp),
                SIGNATURE_HEADER: sign(self.config.secret, stamp, body),
                DELIVERY_HEADER: str(message.id),
            }
            try:
                response = self.http.post(
                    self.config.url, content=body, headers=headers
                )
                ok = 200 <= response.status_code < 300
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as problem:
                ok, reason = False, type(problem).__name__
            if ok:
                self.outbox.done([message.id])
                sent += 1
                continue
            failed += 1
            error = (
                f"the webhook receiver did not accept delivery {message.id}: {reason}"
            )
            delay = self.outbox.retry_later([message], error)
            logger.warning("%s; retrying in %.0f s", error, delay)
        return Flushed(sent, failed, error)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()
