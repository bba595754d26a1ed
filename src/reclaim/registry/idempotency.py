"""Idempotent case creation: a retried request gets the first answer back.

A client sends an `Idempotency-Key` (22 to 64 URL-safe characters, at least
128 random bits) with a case creation. If the answer is lost on the way (a
dropped connection, a crash after commit), the client sends the same request
with the same key and gets the same case number and PIN, not a second case.

The registry keeps no readable PIN, so the answer is kept sealed, in the same
transaction as the case, under keys that only the Idempotency-Key yields
(HKDF-SHA256 of it, salted with this registry's secret):

* `lookup`: the row's primary key, so a key finds its row and nothing else;
* `seal`: AES-256-GCM over the case number and PIN;
* `fingerprint`: HMAC-SHA256 of the parsed request, so the same key sent with
  a different request is refused rather than answered with another's case.

The row holds only these three opaque values and an expiry time. A copy is
kept `idempotency_hours` (a setting) and purged after.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes as crypto_hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from reclaim.registry.errors import ConflictError, InvalidRequestError
from reclaim.registry.models import IdempotentAnswer
from reclaim.registry.submissions import Program, SubmittedHash

#: The HTTP header that carries the key (the IETF draft's and Stripe's name).
HEADER = "Idempotency-Key"

_KEY = re.compile(r"[A-Za-z0-9_-]{22,64}")
_INFO = b"reclaim case creation idempotency v1"
_NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A client's key for one case creation, checked for form and length.

    Its text is a secret (it unlocks the case's PIN): never logged or shown.
    """

    text: str = field(repr=False)

    @classmethod
    def parse(cls, value: str) -> IdempotencyKey:
        """A key from the header's value, else InvalidRequestError."""
        if not isinstance(value, str) or not _KEY.fullmatch(value):
            length = len(value) if isinstance(value, str) else 0
            raise InvalidRequestError(
                f"the {HEADER} header ({length} characters) is not a valid key: "
                "expected 22 to 64 URL-safe characters (A-Z, a-z, 0-9, '-' and "
                "'_') holding at least 128 random bits; generate a new random "
                "key for each case, e.g. 16 random bytes in base64url, and send "
                "the same key again only to retry that case's creation"
            )
        return cls(value)


@dataclass(frozen=True, slots=True)
class Keyed:
    """What a keyed creation needs: the derived keys and the request's print."""

    lookup: bytes = field(repr=False)
    seal_key: bytes = field(repr=False)
    fingerprint: bytes = field(repr=False)
    expires_at: datetime

    @classmethod
    def of(
        cls,
        key: IdempotencyKey,
        *,
        secret: str,
        program: Program,
        hashes: Sequence[SubmittedHash],
        now: datetime,
        keep: timedelta,
    ) -> Keyed:
        """Derive the keys for `key` and fingerprint the parsed request."""
        derived = HKDF(
            algorithm=crypto_hashes.SHA256(),
            length=96,
            salt=secret.encode(),
            info=_INFO,
        ).derive(key.text.encode())
        lookup, seal_key, print_key = derived[:32], derived[32:64], derived[64:]
        request = json.dumps(
            [
                program.value,
                [[h.signal_type.value, h.value, h.quality, h.item] for h in hashes],
            ],
            separators=(",", ":"),
        ).encode()
        fingerprint = hmac.new(print_key, request, hashlib.sha256).digest()
        return cls(lookup, seal_key, fingerprint, now + keep)

    def seal(self, number: str, pin: str) -> bytes:
        """The answer (case number and PIN), encrypted under this key."""
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps({"number": number, "pin": pin}).encode()
        return nonce + AESGCM(self.seal_key).encrypt(nonce, plain, self.lookup)

    def row(self, number: str, pin: str) -> dict[str, object]:
        """The stored row for an answer: nothing readable without the key."""
        return {
            "lookup": self.lookup,
            "fingerprint": self.fingerprint,
            "sealed": self.seal(number, pin),
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """A case creation's first answer, unsealed."""

    number: str
    pin: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored answer row, still sealed."""

    fingerprint: bytes
    sealed: bytes
    expires_at: datetime


def find(session: Session, keyed: Keyed) -> Stored | None:
    """The row this key stored, expired or not, or None."""
    row = session.execute(
        select(
            IdempotentAnswer.fingerprint,
            IdempotentAnswer.sealed,
            IdempotentAnswer.expires_at,
        ).where(IdempotentAnswer.lookup == keyed.lookup)
    ).first()
    if row is None:
        return None
    return Stored(bytes(row.fingerprint), bytes(row.sealed), row.expires_at)


def unseal(keyed: Keyed, stored: Stored) -> Answer:
    """The first answer, if this is the same request; else InvalidRequestError."""
    if not hmac.compare_digest(stored.fingerprint, keyed.fingerprint):
        raise InvalidRequestError(
            f"this {HEADER} was already used for a different request: send the "
            "same request unchanged to get its answer again, or use a new key "
            "for a new case"
        )
    nonce, box = stored.sealed[:_NONCE_BYTES], stored.sealed[_NONCE_BYTES:]
    try:
        plain = AESGCM(keyed.seal_key).decrypt(nonce, box, keyed.lookup)
    except InvalidTag:
        raise ConflictError(
            f"the answer kept for this {HEADER} cannot be read: open the case "
            "again with a new key"
        ) from None
    found = json.loads(plain)
    return Answer(str(found["number"]), str(found["pin"]))


def store(session: Session, keyed: Keyed, number: str, pin: str) -> None:
    """Keep the sealed answer, in the caller's transaction (with the case)."""
    session.connection().execute(
        insert(IdempotentAnswer).values(**keyed.row(number, pin))
    )


def forget(session: Session, keyed: Keyed, *, now: datetime) -> None:
    """Drop this key's row if it has expired, so the key can be used afresh."""
    session.connection().execute(
        delete(IdempotentAnswer).where(
            IdempotentAnswer.lookup == keyed.lookup,
            IdempotentAnswer.expires_at <= now,
        )
    )


def purge(session: Session, *, now: datetime) -> int:
    """Drop every expired answer; returns how many."""
    result = session.connection().execute(
        delete(IdempotentAnswer).where(IdempotentAnswer.expires_at <= now)
    )
    return int(result.rowcount or 0)
