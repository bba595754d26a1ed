"""A StopNCII exchange for python-threatexchange and HMA that honours withdrawals.

pytx's own `StopNCIISignalExchangeAPI` (<= 1.2.17) compares a record's
`hashValue`, not its `hashStatus`, with Withdrawn and Deleted, so a withdrawn
hash is never deleted and a first fetch imports tombstones as live. This
subclass keeps the exchange name `stop_ncii` (stored HMA configs and pytx
state keep working) and turns Withdrawn and Deleted records into deletions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from threatexchange.exchanges import fetch_state
from threatexchange.exchanges.clients.stopncii import api
from threatexchange.exchanges.impl import stop_ncii_api
from threatexchange.signal_type.signal_base import SignalType

#: Record statuses that mean "stop matching this hash".
TOMBSTONES = frozenset(
    {api.StopNCIICaseStatus.Withdrawn, api.StopNCIICaseStatus.Deleted}
)

Delta = fetch_state.FetchDelta[
    tuple[str, str],
    stop_ncii_api.StopNCIISignalMetadata,
    stop_ncii_api.StopNCIICheckpoint,
]


class StopNCIISignalExchangeAPI(stop_ncii_api.StopNCIISignalExchangeAPI):
    """pytx's StopNCII exchange, with Withdrawn and Deleted records as deletions."""

    @classmethod
    def get_name(cls) -> str:
        """The stock exchange's name, so stored configs and state still apply."""
        return stop_ncii_api.StopNCIISignalExchangeAPI.get_name()

    def fetch_iter(
        self,
        _supported_signal_types: Sequence[type[SignalType]],
        checkpoint: stop_ncii_api.StopNCIICheckpoint | None,
    ) -> Iterator[Delta]:
        """Pages of records keyed by (signal type, value); None deletes one."""
        start = api.StopNCIIAPI.DEFAULT_START_TIME
        if checkpoint is not None:
            start = checkpoint.update_time
        for page in self.api.fetch_hashes_iter(start_timestamp=start):
            updates: dict[
                tuple[str, str], stop_ncii_api.StopNCIISignalMetadata | None
            ] = {}
            for record in page.hashRecords:
                key, metadata = delta_of(record)
                if key is not None:
                    updates[key] = metadata
            yield fetch_state.FetchDelta(
                updates,
                stop_ncii_api.StopNCIICheckpoint.from_stopncii_fetch(page),
            )


def delta_of(
    record: api.StopNCIIHashRecord,
) -> tuple[tuple[str, str] | None, stop_ncii_api.StopNCIISignalMetadata | None]:
    """A record's key, and its metadata, or None when it is a tombstone.

    The key is None for signal types pytx has no name for.
    """
    type_name = stop_ncii_api._type_mapping().get(record.signalType)
    if not type_name:
        return None, None
    key = (type_name, record.hashValue)
    if record.hashStatus in TOMBSTONES:
        return key, None
    return key, stop_ncii_api.StopNCIISignalMetadata(record.CSPFeedbacks)
