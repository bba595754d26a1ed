"""Idempotent case creation, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta

import numpy as np
import psycopg
import pytest
from sqlalchemy import func, select, update

from reclaim.registry import creation, idempotency
from reclaim.registry.db import is_postgres
from reclaim.registry.errors import InvalidRequestError
from reclaim.registry.feed import utcnow
from reclaim.registry.idempotency import IdempotencyKey
from reclaim.registry.models import AuditEvent, Case, IdempotentAnswer
from reclaim.registry.service import Registry
from reclaim.registry.submissions import Program
from tests.conftest import random_pdq

RNG = np.random.default_rng(1414)


def pdq_item() -> dict[str, object]:
    return {"type": "pdq", "value": random_pdq(RNG), "quality": 100}


def new_key() -> IdempotencyKey:
    return IdempotencyKey.parse(secrets.token_urlsafe(16))


def count(registry: Registry, table: type) -> int:
    with registry.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_a_retry_gets_the_same_case_and_pin(registry: Registry) -> None:
    key, items = new_key(), [pdq_item(), pdq_item()]
    first = registry.create_case("adult", items, idempotency_key=key)
    again = registry.create_case("adult", items, idempotency_key=key)
    assert not first.replayed and again.replayed
    assert (again.number, again.pin) == (first.number, first.pin)
    assert again.view.hashes == first.view.hashes
    assert count(registry, Case) == 1 and count(registry, IdempotentAnswer) == 1
    with registry.db.read() as session:
        created = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "case_created")
        )
    assert created == 1
    # The PIN it gives back is the case's real PIN.
    assert registry.case_status(again.number, again.pin).number == first.number


def test_another_key_or_no_key_opens_another_case(registry: Registry) -> None:
    items = [pdq_item()]
    one = registry.create_case("adult", items, idempotency_key=new_key())
    two = registry.create_case("adult", items, idempotency_key=new_key())
    three = registry.create_case("adult", items)
    assert len({one.number, two.number, three.number}) == 3


def test_the_same_key_with_another_request_is_refused(registry: Registry) -> None:
    key = new_key()
    registry.create_case("adult", [pdq_item()], idempotency_key=key)
    for program, items in (("adult", [pdq_item()]), ("minor", [pdq_item()])):
        with pytest.raises(InvalidRequestError, match="already used for a different"):
            registry.create_case(program, items, idempotency_key=key)
    assert count(registry, Case) == 1


@pytest.mark.parametrize(
    "text",
    ["", "short", "x" * 21, "x" * 65, "a" * 21 + "!", "a" * 22 + " ", "é" * 30],
)
def test_malformed_keys_are_refused_without_echoing_them(text: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        IdempotencyKey.parse(text)
    message = str(refused.value)
    assert "22 to 64 URL-safe characters" in message and "128 random bits" in message
    assert (text not in message) or not text


def test_nothing_readable_is_stored(registry: Registry) -> None:
    key = new_key()
    new = registry.create_case("adult", [pdq_item()], idempotency_key=key)
    with registry.db.read() as session:
        row = session.execute(select(IdempotentAnswer)).scalar_one()
        stored = b"".join([row.lookup, row.fingerprint, row.sealed])
    for secret in (new.pin, new.number, key.text):
        for form in (secret, secret.replace("-", "")):
            assert form.encode() not in stored
    assert len(row.lookup) == 32 and len(row.fingerprint) == 32


def test_concurrent_retries_make_one_case(registry: Registry) -> None:
    key, items = new_key(), [pdq_item() for _ in range(3)]
    answers: list[tuple[str, str]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        try:
            new = registry.create_case("adult", items, idempotency_key=key)
            answers.append((new.number, new.pin))
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert len(answers) == 8 and len(set(answers)) == 1
    assert count(registry, Case) == 1


def test_expired_answers_are_forgotten_and_purged(registry: Registry) -> None:
    key, items = new_key(), [pdq_item()]
    first = registry.create_case("adult", items, idempotency_key=key)
    other = registry.create_case("adult", [pdq_item()], idempotency_key=new_key())
    with registry.db.write() as session:
        session.execute(
            update(IdempotentAnswer).values(expires_at=utcnow() - timedelta(hours=1))
        )
    # An expired answer is not given back: the key starts a new case.
    again = registry.create_case("adult", items, idempotency_key=key)
    assert not again.replayed and again.number != first.number
    assert registry.case_status(other.number, other.pin).number == other.number
    with registry.db.write() as session:
        assert idempotency.purge(session, now=utcnow()) == 1  # `other`'s only
    assert count(registry, IdempotentAnswer) == 1


def test_creations_purge_expired_answers(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.create_case("adult", [pdq_item()], idempotency_key=new_key())
    with registry.db.write() as session:
        session.execute(
            update(IdempotentAnswer).values(expires_at=utcnow() - timedelta(hours=1))
        )
    monkeypatch.setattr(registry._creator, "_next_purge", 0.0)
    registry.create_case("adult", [pdq_item()], idempotency_key=new_key())
    with registry.db.read() as session:
        left = session.scalars(select(IdempotentAnswer.expires_at)).all()
    assert len(left) == 1


def test_the_answer_and_the_case_commit_together(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure writing the answer leaves no case, and a failure writing the
    case leaves no answer: the key then simply works again."""
    key, items = new_key(), [pdq_item()]
    if is_postgres(registry.db.engine):
        from reclaim.registry import pg_create

        broken = pg_create._CREATE.replace("%(fingerprint)s::bytea,", "NULL::bytea,")
        assert broken != pg_create._CREATE
        monkeypatch.setattr(pg_create, "_CREATE", broken)
        expected: type[Exception] = psycopg.errors.NotNullViolation
    else:

        def crash(*_: object, **__: object) -> None:
            raise RuntimeError("power cut")

        monkeypatch.setattr(creation.idempotency, "store", crash)
        expected = RuntimeError
    with pytest.raises(expected):
        registry.create_case("adult", items, idempotency_key=key)
    monkeypatch.undo()
    assert count(registry, Case) == 0 and count(registry, IdempotentAnswer) == 0
    new = registry.create_case("adult", items, idempotency_key=key)
    assert not new.replayed and count(registry, Case) == 1


def test_keys_are_salted_with_the_registry_secret_and_never_shown() -> None:
    key = new_key()
    made = {
        secret: idempotency.Keyed.of(
            key,
            secret=secret,
            program=Program.ADULT,
            hashes=[],
            now=utcnow(),
            keep=timedelta(hours=1),
        )
        for secret in ("a" * 64, "b" * 64)
    }
    one, two = made.values()
    assert one.lookup != two.lookup and one.seal_key != two.seal_key
    assert key.text not in repr(key) and one.lookup.hex() not in repr(one)
