"""Every time a platform reads is a whole minute: the reclaim feed and snapshot,
StopNCII's records and NCMEC's entries and feedback (issue 14, item 11)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np

from reclaim.registry.service import Registry
from tests.conftest import random_pdq

RNG = np.random.default_rng(1414)
PLATFORM = "Example Social"
#: ISO times as the APIs write them: '...T10:37:00Z' or '...T10:37:00.000Z'.
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:(\d\d(?:\.\d+)?)(?:Z|\+00:00)")


def whole_minutes(text: str) -> list[str]:
    """Every ISO time in `text`; fails on one with seconds or a fraction."""
    found = ISO_TIME.findall(text)
    for seconds in found:
        assert float(seconds) == 0, text
    return found


def test_no_time_a_platform_reads_is_finer_than_a_minute(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    values = [random_pdq(RNG) for _ in range(3)]
    reply = client.post(
        "/api/v1/cases",
        json={
            "program": "adult",
            "hashes": [{"type": "pdq", "value": v, "quality": 100} for v in values],
        },
    )
    assert reply.status_code == 201, reply.text
    bearer = {"Authorization": f"Bearer {platform_key}"}
    given = client.post(
        "/api/v1/platform/feedback",
        headers=bearer,
        json={"items": [{"type": "pdq", "value": values[0], "feedback": "blocked"}]},
    )
    assert given.status_code == 200, given.text

    changes = client.get("/api/v1/platform/changes", headers=bearer)
    records = changes.json()["records"]
    assert len(records) == 3
    assert len(whole_minutes(changes.text)) == 3

    snapshot = client.get("/api/v1/platform/snapshot", headers=bearer)
    assert len(whole_minutes(snapshot.text)) == 3

    stopncii = client.get(
        "/stopncii/v1/FetchHashes",
        params={"startTimestamp": 0},
        headers={
            "x-functions-key": platform_key,
            "Ocp-Apim-Subscription-Key": platform_key,
        },
    ).json()
    assert len(stopncii["hashRecords"]) == 3
    assert stopncii["nextSetTimestamp"] % 60 == 0
    assert all(r["lastModtimestamp"] % 60 == 0 for r in stopncii["hashRecords"])

    # NCMEC: a window up to the records' minute mark (ahead of now).
    mark = max(r["updated_at"] for r in records)  # '...T10:38:00Z'
    entries = client.get(
        "/ncmec/v2/entries",
        params={
            "from": (start - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "to": mark,
        },
        auth=(PLATFORM, platform_key),
    )
    assert entries.status_code == 200, entries.text
    root = ET.fromstring(entries.content)
    assert sum(1 for e in root.iter() if e.tag.endswith("}image")) == 3
    assert "feedback" in entries.text  # the feedback's time too
    assert len(whole_minutes(entries.text)) >= 3 + 4
