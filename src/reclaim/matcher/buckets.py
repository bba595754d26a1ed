"""Time buckets counted in SQL: which window of a fixed size a time falls in.

A busy platform has millions of matches a week, so charts and spike rules
count them with GROUP BY in the database instead of reading every row. The
bucket is the number of whole windows between an origin and the row's time,
computed from Unix seconds (SQLite: `strftime('%s')` of the stored UTC text;
PostgreSQL: `extract(epoch)` of the timestamptz), so it is the same in both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, cast, extract, func
from sqlalchemy.sql.elements import ColumnElement


def bucket(
    column: ColumnElement[Any], *, dialect: str, origin: datetime, seconds: int
) -> ColumnElement[Any]:
    """The window of `seconds` from `origin` that `column` falls in (0: the
    first), as an SQL expression; only for rows at or after `origin`, which
    the caller's WHERE must ensure, and an `origin` on a whole second."""
    start = int(origin.timestamp())
    if dialect == "sqlite":
        # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff" in UTC. SQLite would
        # round the fraction to milliseconds (59.9999995 s to the next
        # minute), so cut it: whole seconds, then integer division, both
        # truncating, which is the floor for times at or after the origin.
        unix = cast(func.strftime("%s", func.substr(column, 1, 19)), Integer)
        return (unix - start) // seconds
    return func.floor((extract("epoch", column) - start) / seconds)
