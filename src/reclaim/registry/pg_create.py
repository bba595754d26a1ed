"""Case creation on PostgreSQL in one statement: the registry's busiest write.

A new case, its hash records, their links, the audit event and the feed
positions (and, for a request with an Idempotency-Key, its sealed answer)
are written by one `WITH ... INSERT` statement run in autocommit,
so a creation is a single round trip and a single transaction. The statement
locks the request's existing records, then the feed (`UPDATE instance`, which
the record upsert reads its positions from), and holds both until it
commits, so the positions it hands out become visible in commit order,
exactly as `feed.publish` guarantees for every other write.

SQLite takes the portable path in `cases.create`; both are tested alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Engine

from reclaim.registry.audit import Action, Actor
from reclaim.registry.feed import ceil_time, floor_time
from reclaim.registry.hashlist import Attached
from reclaim.registry.submissions import Program, SubmittedHash, item_numbers

# Existing records are locked first, in (type, digest) order, then the feed
# (`head` waits for `locked`): the order every other writer takes them in, so
# writers queue rather than deadlock. Feed positions follow the same order.
_CREATE = """
WITH locked AS (
    SELECT h.id FROM hashes h
      JOIN unnest(%(types)s::text[], %(digests)s::text[]) AS t(signal_type, digest)
        ON h.signal_type = t.signal_type AND h.digest = t.digest
     WHERE h.program = %(program)s
     ORDER BY h.signal_type, h.digest
       FOR UPDATE OF h
), head AS (
    UPDATE instance
       SET feed_head = feed_head + %(count)s,
           feed_time = GREATEST(feed_time, %(stamp)s)
     WHERE id = 1 AND (SELECT count(*) FROM locked) >= 0
 RETURNING feed_head - %(count)s AS base, feed_time AS stamp
), new_case AS (
    INSERT INTO cases (number, pin_hash, program, status, created_at)
    VALUES (%(number)s, %(pin_hash)s, %(program)s, 'active', %(now)s)
 RETURNING id
), incoming AS (
    SELECT t.signal_type, t.digest, t.value, t.quality, t.item, t.ord
      FROM unnest(%(types)s::text[], %(digests)s::text[], %(values)s::text[],
                  %(qualities)s::int[], %(items)s::int[]) WITH ORDINALITY
           AS t(signal_type, digest, value, quality, item, ord)
), upserted AS (
    INSERT INTO hashes AS h (signal_type, digest, value, quality, program, status,
                             case_count, quarantined, change, updated_at)
    SELECT i.signal_type, i.digest, i.value, i.quality, %(program)s, 'active',
           1, false, head.base + i.ord, head.stamp
      FROM incoming i CROSS JOIN head
     ORDER BY i.ord
    ON CONFLICT (signal_type, digest, program) DO UPDATE
       SET case_count = h.case_count + 1,
           status = CASE WHEN h.status = 'removed' THEN h.status ELSE 'active' END,
           quality = CASE
               WHEN excluded.quality IS NULL THEN h.quality
               WHEN h.quality IS NULL OR excluded.quality > h.quality
                   THEN excluded.quality
               ELSE h.quality END,
           change = excluded.change,
           updated_at = excluded.updated_at
 RETURNING h.id, h.signal_type, h.digest, h.value, h.status, (h.xmax = 0) AS fresh
), linked AS (
    INSERT INTO case_hashes (case_id, hash_id, added_at, item)
    SELECT new_case.id, upserted.id, %(now)s, i.item
      FROM new_case CROSS JOIN upserted
      JOIN incoming i
        ON i.signal_type = upserted.signal_type AND i.digest = upserted.digest
), audited AS (
    INSERT INTO audit_events (at, action, actor, platform_id, case_number, detail)
    VALUES (%(logged)s, %(action)s, %(actor)s, NULL, %(number)s, %(detail)s)
), answered AS (
    INSERT INTO idempotent_answers (lookup, fingerprint, sealed, expires_at)
    SELECT %(lookup)s::bytea, %(fingerprint)s::bytea, %(sealed)s::bytea,
           %(expires_at)s::timestamptz
      FROM head
     WHERE %(lookup)s::bytea IS NOT NULL
)
SELECT id, signal_type, digest, value, status, fresh FROM upserted
"""


_NO_ANSWER = {"lookup": None, "fingerprint": None, "sealed": None, "expires_at": None}


def create_case(
    engine: Engine,
    *,
    number: str,
    pin_hash: str,
    program: Program,
    hashes: Sequence[SubmittedHash],
    now: datetime,
    detail: str,
    answer: Mapping[str, object] | None = None,
) -> list[Attached]:
    """Write a whole new case in one autocommitted statement.

    `hashes` must be distinct (as `parse_hashes` leaves them). `answer` is
    the sealed answer's row for a creation with an Idempotency-Key
    (`idempotency.Keyed.row`), written in the same statement. Returns the
    records in the order of `hashes`. Raises the driver's errors (a duplicate
    case number or key, a deadlock) for the caller to retry or answer.
    """
    ordered = sorted(hashes, key=lambda h: (h.signal_type.value, h.digest))
    items = item_numbers(hashes, first=0)
    params = {
        "count": len(ordered),
        "now": now,
        # Coarse times, as `feed.publish` and `audit.record` write them.
        "stamp": ceil_time(now),
        "logged": floor_time(now),
        "number": number,
        "pin_hash": pin_hash,
        "program": program.value,
        "types": [h.signal_type.value for h in ordered],
        "digests": [h.digest for h in ordered],
        "values": [h.value for h in ordered],
        "qualities": [h.quality for h in ordered],
        "items": [items[(h.signal_type.value, h.digest)] for h in ordered],
        "action": Action.CASE_CREATED.value,
        "actor": Actor.PERSON.value,
        "detail": detail,
        **(answer or _NO_ANSWER),
    }
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        assert connection is not None
        connection.autocommit = True
        try:
            rows = connection.execute(_CREATE, params, prepare=True).fetchall()
        finally:
            connection.autocommit = False
    finally:
        raw.close()
    found = {
        (kind, digest): Attached(
            rid, kind, value, status, bool(fresh), items[(kind, digest)]
        )
        for rid, kind, digest, value, status, fresh in rows
    }
    return [found[(h.signal_type.value, h.digest)] for h in hashes]
