"""`RemovalStore`: removal requests in the matcher's store, in one object.

It is made of one part per concept: `ledger` (reading, and writing steps
of the record with their audit lines), `filing` (taking a request in),
`copy_log` (copies, takedowns asked, removals), `changes` (decisions,
hashes, searches owed) and `listing` (pages and counts). Personal data
lives only in `removal_requests.personal`; no IP address is stored; the
requester's receipt is random, shown once, and stored only as its SHA-256.
"""

from __future__ import annotations

from reclaim.matcher.removals.changes import Changes
from reclaim.matcher.removals.filing import Filing
from reclaim.matcher.removals.ledger import NOT_FOUND, Found, record
from reclaim.matcher.removals.listing import Counts, Listing, Page

__all__ = ["NOT_FOUND", "Counts", "Found", "Page", "RemovalStore", "record"]


class RemovalStore(Filing, Changes, Listing):
    """Filing, reading, listing and changing removal requests."""
