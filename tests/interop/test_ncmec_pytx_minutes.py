"""Unmodified pytx against the NCMEC API with the registry's real clock: record
times are whole minutes rounded up, so a change shows in the first window that
reaches its minute's mark. pytx's checkpoints carry it there: late, never lost.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import select

from reclaim.interop.ncmec import NCMECSignalExchangeAPI
from reclaim.registry.models import HashRecord
from reclaim.registry.service import Registry
from tests.conftest import random_pdq
from tests.interop.test_ncmec_pytx import (  # noqa: F401 - fixtures
    clock_ahead,
    exchange,
    fetch,
    server,
    signals,
    submit,
    utc,
)

RNG = np.random.default_rng(60)


def test_pytx_gets_a_change_once_its_minute_has_come(
    server: str,  # noqa: F811 - the imported fixture
    exchange: NCMECSignalExchangeAPI,  # noqa: F811
    registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pdq = [random_pdq(RNG) for _ in range(5)]
    before = datetime.now(UTC)
    submit(server, *pdq, md5=("cd" * 16,))
    with registry.db.read() as session:
        stamps = {
            at.replace(tzinfo=UTC) if at.tzinfo is None else at
            for at in session.scalars(select(HashRecord.updated_at))
        }
    (mark,) = stamps  # one creation: one time, the next minute's mark
    assert (mark.second, mark.microsecond) == (0, 0)
    assert mark >= before  # rounded up, never before the change

    # pytx on a true clock: its windows end 5 s short of now, before the mark.
    state: dict = {}
    checkpoint, _ = fetch(exchange, state, None)
    assert state == {} and checkpoint is not None
    # Later, from that checkpoint: the window now reaches the mark.
    ahead = mark.timestamp() - time.time() + 6
    with clock_ahead(monkeypatch, ahead):
        checkpoint, _ = fetch(exchange, state, checkpoint)
    found = signals(state)
    assert found["pdq"] == set(pdq) and found["video_md5"] == {"cd" * 16}
    assert checkpoint is not None and checkpoint.get_entries_max_ts >= mark.timestamp()
