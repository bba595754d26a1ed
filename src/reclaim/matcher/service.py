"""`MatcherService`: the store, the matchable list, sync, review and delivery, wired.

The service owns one current `MatchableList` in an attribute. Queries read it once
and use that version throughout; a sync thread builds the next version and
swaps it in with one assignment, so queries never wait. Background threads
(started by `start`) poll the sources, one thread each so a slow or failing
source holds up no other, deliver webhooks and send feedback; tests and
one-shot commands call `sync_once` and `deliver` instead.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from reclaim.hashing import Md5Hash, PdqHash, SignalType, VideoHash, VpdqHash
from reclaim.index import (
    ListRecord,
    Match,
    MatchableList,
    MatchRule,
    match_md5,
    match_pdq,
    match_vpdq,
)
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.desk.previews import PREVIEW_SIDE, Previews
from reclaim.matcher.errors import ConfigError, NotReadyError
from reclaim.matcher.feedback import Flushed, flush_feedback
from reclaim.matcher.media import MediaHashes
from reclaim.matcher.metrics import Metrics
from reclaim.matcher.outbox import Outbox
from reclaim.matcher.removals.requests import RemovalRequests
from reclaim.matcher.review import Decided, QueuedMatch, ReviewQueue
from reclaim.matcher.source import Source, open_source
from reclaim.matcher.spikes import Fired, SpikeWatch
from reclaim.matcher.store import (
    Applied,
    ListStore,
    SyncState,
    forget_sources,
    listed_records,
    open_engine,
    prepare,
    stored_sources,
)
from reclaim.matcher.sync import Syncer, SyncStatus
from reclaim.matcher.sync_samples import SyncSamples
from reclaim.matcher.webhook import WebhookSender

if TYPE_CHECKING:
    from reclaim.matcher.catalog import MatcherCatalog, RescanOutcome

logger = logging.getLogger(__name__)

#: How often the background thread checks the spike rules.
ALERT_SECONDS = 60.0

_NONE = {kind.value: 0 for kind in (SignalType.PDQ, SignalType.MD5, SignalType.VPDQ)}


@dataclass(frozen=True, slots=True)
class Query:
    """One hash to match: PDQ variants of one image, an MD5 or a video."""

    pdq: tuple[PdqHash, ...] = ()
    md5: Md5Hash | None = None
    video: VpdqHash | VideoHash | None = None
    reference: str | None = None
    labels: tuple[str, ...] = ()  # what each PDQ hash is of (for `variant`)

    @classmethod
    def of_media(cls, hashes: MediaHashes, *, reference: str | None = None) -> Query:
        """The query for an upload's hashes (image: query side + MD5; video:
        MD5 + vPDQ), as the HTTP API and `reclaim matcher match` both ask it."""
        return cls(
            pdq=hashes.pdq,
            md5=hashes.md5,
            video=hashes.video,
            reference=reference,
            labels=hashes.labels,
        )


@dataclass(frozen=True, slots=True)
class _View:
    """The matchable list and each source's sync status and stored state, as of the
    latest sync attempt (what /status and readiness read)."""

    matchable: MatchableList
    statuses: dict[str, SyncStatus]
    states: dict[str, SyncState]


@dataclass(frozen=True, slots=True)
class Result:
    """The matches of one query, as queued for review."""

    matches: tuple[tuple[Match, QueuedMatch], ...]


class MatcherService:
    """Everything `reclaim matcher serve` runs, in one object.

    `sources` (by name) replace the sources the config would open; `source`
    replaces the first.
    """

    def __init__(
        self,
        config: MatcherConfig,
        *,
        source: Source | None = None,
        sources: Mapping[str, Source] | None = None,
        webhook_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        #: The match rule at the configured radius (`reclaim.index.MatchRule`).
        self.rule = MatchRule(distance=config.radius)
        self.engine = open_engine(config.store_url)
        prepare(self.engine)
        names = [c.name for c in config.sources]
        stale = stored_sources(self.engine) - set(names)
        if stale:
            logger.warning(
                "dropping the stored list of sources no longer in the config: %s",
                ", ".join(sorted(stale)),
            )
            forget_sources(self.engine, stale)
        self.stores = {
            name: ListStore(self.engine, name=name, prepared=True) for name in names
        }
        self.outbox = Outbox(
            self.engine, max_backoff=config.webhook.max_backoff_seconds
        )
        self.queue = ReviewQueue(
            self.engine, config.policy, webhooks=config.webhook.enabled
        )
        given = dict(sources or {})
        if source is not None:
            given.setdefault(config.source.name, source)
        self.sources: dict[str, Source] = {
            c.name: given.get(c.name) or open_source(c) for c in config.sources
        }
        self.webhooks = WebhookSender(
            config.webhook, self.outbox, transport=webhook_transport
        )
        self.metrics = Metrics()
        self.metrics.watch(self.engine)
        #: Spike alerts (`[[alerts]]`), checked every minute by `start`.
        self.spikes = SpikeWatch(
            self.engine, config.alerts, webhooks=config.webhook.enabled
        )
        #: Each source's sync lag over time, for the desk's dashboard.
        self.samples = SyncSamples(self.engine)
        #: Previews of matched uploads for the desk (`[desk] keep_media_hours`).
        self.previews = Previews(self.engine, hours=config.desk.keep_media_hours)
        self._matchable_lock = threading.Lock()
        self._sync_locks = {name: threading.Lock() for name in names}
        self._stop = threading.Event()
        self._wake_delivery = threading.Event()
        self._wake_catalog = threading.Event()
        #: A rescan (and withdrawal sweep) is owed: set by syncs that changed
        #: the list, cleared only when one succeeded.
        self._catalog_due = True
        self._threads: list[threading.Thread] = []
        #: The content catalog, when `[catalog] enabled` (else None).
        self.catalog: MatcherCatalog | None = None
        if config.catalog.enabled:
            self.catalog = _open_catalog(self, names)
        #: Wakes the removals loop: a request arrived, its search is owed.
        self._wake_removals = threading.Event()
        #: Legal removal requests (`reclaim.matcher.removals`).
        self.removals = RemovalRequests(
            self.engine,
            config.removals,
            rule=self.rule,
            catalog=self.catalog,
            webhooks=config.webhook.enabled,
            wake=self._wake_removals,
        )
        self.last_feedback = Flushed(0, 0)
        self.last_webhook = Flushed(0, 0)
        started = time.perf_counter()
        self.matchable = MatchableList.build(
            listed_records(self.engine, names), radius=self.rule.derived
        )
        self.load_seconds = time.perf_counter() - started
        self.syncers = {
            name: Syncer(
                self.stores[name],
                self.sources[name],
                on_applied=self._applied,
                on_snapshot=functools.partial(self._replace, name),
                poll_seconds=config.poll_seconds,
                max_backoff=config.max_backoff_seconds,
            )
            for name in names
        }
        self._published = self._view()
        self._observe()
        logger.info(
            "loaded %d listed records from the local store in %.2f s",
            len(self.matchable),
            self.load_seconds,
        )

    # ---- the sources (the first stands for all in a single-source config) --

    @property
    def store(self) -> ListStore:
        """The first source's part of the store."""
        return self.stores[self.config.source.name]

    @property
    def source(self) -> Source:
        """The first source."""
        return self.sources[self.config.source.name]

    @property
    def syncer(self) -> Syncer:
        """The first source's syncer."""
        return self.syncers[self.config.source.name]

    # ---- the list ---------------------------------------------------------

    def _applied(self, applied: Applied) -> None:
        with self._matchable_lock:
            self.matchable = self.matchable.with_changes(
                listed=applied.listed, gone=applied.gone
            )
        if self.catalog is not None:
            if applied.gone:
                try:
                    self.catalog.withdrawn(applied.gone)
                except Exception:  # the catalog loop's sweep catches up
                    logger.exception("withdrawing catalog matches failed")
                self._catalog_due = True
                self._wake_catalog.set()
            if applied.listed:
                self._catalog_due = True
                self._wake_catalog.set()

    def _replace(self, name: str, records: Sequence[ListRecord]) -> None:
        """A source's snapshot is in: it replaces that source's records."""
        self._catalog_due = True
        self._wake_catalog.set()
        with self._matchable_lock:
            if len(self.sources) == 1:
                self.matchable = MatchableList.build(records, radius=self.rule.derived)
            else:
                # The other sources' records come from the store, where this
                # snapshot is committed too.
                self.matchable = MatchableList.build(
                    listed_records(self.engine, self.sources), radius=self.rule.derived
                )

    def _reload(self) -> None:
        with self._matchable_lock:
            self.matchable = MatchableList.build(
                listed_records(self.engine, self.sources), radius=self.rule.derived
            )

    def sync_once(self) -> SyncStatus:
        """One sync attempt of every source now, one after another.

        Returns the status of the first source that failed, else the first's;
        `sync_source` and `syncers` tell each source's.
        """
        statuses = [self.sync_source(name) for name in self.syncers]
        return next((s for s in statuses if not s.healthy), statuses[0])

    def sync_source(self, name: str) -> SyncStatus:
        """One sync attempt of one source now (outcome in the returned status)."""
        syncer = self.syncers[name]
        with self._sync_locks[name]:
            try:
                syncer.attempt()
            finally:
                # A failed update may leave shared tables half-written:
                # rebuild from the store, which holds only committed pages.
                if syncer.status.result == "error":
                    self._reload()
            self.metrics.syncs.labels(syncer.status.result).inc()
            self.metrics.source_syncs.labels(name, syncer.status.result).inc()
            self._sample(name, syncer.status)
            self._published = self._view()
            self._observe()
            if self.catalog is not None and self._catalog_due:
                self._wake_catalog.set()  # now that readiness is up to date
        return syncer.status

    def _sample(self, name: str, status: SyncStatus) -> None:
        """Record the attempt for the dashboard's lag chart (never fails a sync)."""
        try:
            self.samples.record(
                name, result=status.result, last_success=status.last_success
            )
        except Exception:
            logger.exception("recording a sync sample of %s failed", name)

    def _view(self) -> _View:
        """The matchable with each source's sync status and stored state, read
        together under the matchable list lock, so /status and readiness agree."""
        with self._matchable_lock:
            return _View(
                self.matchable,
                {name: syncer.status for name, syncer in self.syncers.items()},
                {name: store.state() for name, store in self.stores.items()},
            )

    # ---- readiness --------------------------------------------------------

    def not_ready(self) -> list[str]:
        """The sources without a complete list yet (empty when ready).

        A source is ready once a complete snapshot of it is in the store
        (from this run or an earlier one), and stays ready while later syncs
        fail: it serves its last good list. Until every source is ready,
        matching would miss listed hashes.
        """
        states = self._published.states
        return [
            name
            for name, state in states.items()
            if state.cursor is None
            or (state.source is not None and state.source != self.sources[name].name)
        ]

    def require_ready(self) -> None:
        """Raise NotReadyError unless every source has a complete list."""
        waiting = self.not_ready()
        if waiting:
            raise NotReadyError(
                f"the matcher is not ready: {len(waiting)} of {len(self.stores)} "
                f"sources ({', '.join(waiting)}) have no complete list yet, so a "
                "match now could miss listed hashes: retry after the first sync "
                "(GET /readyz tells when)",
                retry_after=max(1, math.ceil(self.config.poll_seconds)),
            )

    def _observe(self) -> None:
        matchable = self.matchable
        for kind, count in matchable.counts().items():
            self.metrics.list_size.labels(kind).set(count)
        listed = matchable.counts_by_source()
        for name, syncer in self.syncers.items():
            for kind, count in listed.get(name, _NONE).items():
                self.metrics.source_list_size.labels(name, kind).set(count)
            if syncer.status.last_success:
                self.metrics.source_last_sync.labels(name).set(
                    syncer.status.last_success
                )
        successes = [s.status.last_success for s in self.syncers.values()]
        if all(successes):
            # The list is as fresh as its stalest source.
            self.metrics.last_sync.set(min(s for s in successes if s))

    # ---- matching ---------------------------------------------------------

    def find(self, queries: Sequence[Query]) -> list[list[Match]]:
        """The matches of each query, without queueing them."""
        matchable = self.matchable  # one version for the whole request
        found: list[list[Match]] = [[] for _ in queries]
        pdq = [(n, q.pdq) for n, q in enumerate(queries) if q.pdq]
        labels = [queries[n].labels for n, _ in pdq]
        groups = [group for _, group in pdq]
        for match in match_pdq(matchable, groups, rule=self.rule, labels=labels):
            found[pdq[match.query][0]].append(match)
        md5 = [(n, q.md5) for n, q in enumerate(queries) if q.md5 is not None]
        for match in match_md5(matchable, [digest for _, digest in md5]):
            found[md5[match.query][0]].append(match)
        videos = [(n, q.video) for n, q in enumerate(queries) if q.video is not None]
        for match in match_vpdq(
            matchable,
            [video for _, video in videos],
            radius=self.config.radius,
            threshold=self.config.vpdq_threshold,
        ):
            found[videos[match.query][0]].append(match)
        for kind, count in (
            (SignalType.PDQ, len(pdq)),
            (SignalType.MD5, len(md5)),
            (SignalType.VPDQ, len(videos)),
        ):
            if count:
                self.metrics.queries.labels(kind.value).inc(count)
        return found

    def match(self, queries: Sequence[Query]) -> list[Result]:
        """Match queries and queue them for review (committed on return).

        Each query's matches in one program are one review entry, led by the
        closest: a picture is listed with its derived views, and an upload
        that matched several of them is still one upload to review.
        """
        if self.catalog is not None:
            self.catalog.check(q.reference for q in queries)
        version = self.matchable
        found = self.find(queries)
        groups: list[tuple[int, list[Match]]] = []
        for number, matches in enumerate(found):
            by_program: dict[str, list[Match]] = {}
            for match in matches:
                by_program.setdefault(match.program, []).append(match)
            for program in sorted(by_program):
                ranked = sorted(by_program[program], key=lambda m: m.distance)
                groups.append((number, ranked))
        entries = [
            (ranked[0], ranked[1:], queries[number].reference)
            for number, ranked in groups
        ]
        queued = self.queue.record(entries) if entries else []
        entry_of: dict[int, QueuedMatch] = {}
        for (_, ranked), item in zip(groups, queued, strict=True):
            for match in ranked:
                entry_of[id(match)] = item
                self.metrics.source_matches.labels(match.source, match.kind.value).inc()
            self.metrics.matches.labels(item.kind, item.state.value).inc()
            self.metrics.program_matches.labels(item.program, item.state.value).inc()
        if entries:
            self._wake_delivery.set()
        self.removals.uploaded(queries)  # copies of reported content
        if self.catalog is not None:
            self.catalog.keep(_catalog_items(queries))
            if self.matchable is not version:
                # The list changed while this upload was matched: a rescan
                # that began meanwhile may have read the spool without it.
                self._catalog_due = True
                self._wake_catalog.set()
        return [
            Result(tuple((m, entry_of[id(m)]) for m in matches)) for matches in found
        ]

    def match_media(
        self,
        hashes: MediaHashes,
        *,
        reference: str | None,
        preview: bytes | None = None,
    ) -> Result:
        """Match an upload's hashes (image: PDQ variants + MD5; video: MD5 + vPDQ).

        `preview` (made by a decode worker) is kept for the desk only when
        the upload matched and previews are on; otherwise it is dropped here.
        """
        result = self.match([Query.of_media(hashes, reference=reference)])[0]
        if preview and result.matches:
            self.previews.keep({item.id for _, item in result.matches}, preview)
        return result

    @property
    def preview_side(self) -> int:
        """The preview size to ask decode workers for (0: keep none)."""
        return PREVIEW_SIDE if self.previews.enabled else 0

    # ---- review and delivery ----------------------------------------------

    def decide(
        self,
        match_id: int,
        decision: str,
        *,
        reviewer: str | None = None,
        actor: str = "api",
    ) -> QueuedMatch:
        """Record a decision made through the API (audited as `actor`, the
        reviewer in its detail); feedback and webhook follow at once."""
        item = self.queue.decide(match_id, decision, reviewer=reviewer, actor=actor)
        self.metrics.decided(item)
        self._wake_delivery.set()
        return item

    def decide_on_desk(
        self, match_ids: Sequence[int], decision: str, *, account: str
    ) -> Decided:
        """A desk account's decision on one or more matches, held for
        `[desk] undo_seconds` before its feedback and webhook leave."""
        decided = self.queue.decide_many(
            match_ids,
            decision,
            reviewer=account,
            actor=account,
            hold_seconds=self.config.desk.undo_seconds,
        )
        for item in decided.done:
            self.metrics.decided(item)
        return decided

    def check_alerts(self, now: datetime | None = None) -> list[Fired]:
        """Evaluate the spike rules now (or at `now`); each new spike is in
        desk_alerts and, with webhooks on, the outbox (see spikes.py)."""
        fired = self.spikes.check(now)
        for one in fired:
            self.metrics.spike_alerts.labels(one.rule.name).inc()
        if fired:
            self._wake_delivery.set()
        return fired

    def undo(self, match_id: int, *, account: str, lead: bool) -> QueuedMatch:
        """Undo a held desk decision (a lead may undo anyone's); UndoError
        after the window."""
        return self.queue.undo(match_id, actor=account, anyones=lead)

    def deliver(self) -> None:
        """Send due feedback and webhooks now."""
        self.last_feedback = flush_feedback(
            self.outbox, self.sources, stores=self.stores
        )
        self.last_webhook = self.webhooks.flush()
        self.previews.purge()  # expired previews go as the loop comes round
        for channel, count in self.outbox.pending().items():
            self.metrics.outbox.labels(channel).set(count)

    # ---- status -----------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What /status reports: list size, each source's cursor, lag and sync
        health, the review queue and the outbox.

        `sync` is the first source's (all there is in a single-source config);
        `sources` has every source's, by name. `ok` is whether all are healthy.
        """
        view = self._published
        matchable = view.matchable
        listed = matchable.counts_by_source()
        sources = {
            name: {
                "kind": config.kind,
                "description": self.sources[name].name,
                "listed": listed.get(name, dict(_NONE)),
                **self._sync_status(name, view),
            }
            for name, config in ((c.name, c) for c in self.config.sources)
        }
        return {
            "ok": all(s.healthy for s in view.statuses.values()),
            "ready": not self.not_ready(),
            "source": self.source.name,
            "list": {
                "size": len(matchable),
                "by_type": matchable.counts(),
                "loaded_in_seconds": round(self.load_seconds, 3),
            },
            "sync": self._sync_status(self.config.source.name, view),
            "sources": sources,
            "review": self.queue.counts(),
            "outbox": {
                **self.outbox.pending(),
                "last_feedback_error": self.last_feedback.error,
                "last_webhook_error": self.last_webhook.error,
            },
            "catalog": (
                self.catalog.report()
                if self.catalog is not None
                else {"enabled": False}
            ),
            "policy": {
                "auto_action_distance": self.config.policy.auto_action_distance,
                "radius": self.config.radius,
                "dihedral": self.config.dihedral,
            },
        }

    def _sync_status(self, name: str, view: _View) -> dict[str, Any]:
        sync = view.statuses[name]
        state = view.states[name]
        now = time.time()
        return {
            "cursor": state.cursor,
            "result": sync.result,
            "message": sync.message,
            "last_attempt": sync.last_attempt,
            "last_success": sync.last_success,
            "lag_seconds": (
                round(now - sync.last_success, 3) if sync.last_success else None
            ),
            "stored_at": state.synced_at.isoformat() if state.synced_at else None,
            "consecutive_failures": sync.failures,
            "backoff_seconds": sync.backoff_seconds,
            "last_listed": sync.listed,
            "last_gone": sync.gone,
            "serving": "last good list" if not sync.healthy else "current list",
        }

    # ---- background threads -----------------------------------------------

    def start(self) -> None:
        """Start polling the source and delivering messages in the background."""
        if self._threads:
            return
        self._stop.clear()
        loops: list[tuple[str, Any]] = [
            (f"sync-{name}", functools.partial(self._sync_loop, name))
            for name in self.syncers
        ]
        loops.append(("delivery", self._deliver_loop))
        loops.append(("removals", self._removals_loop))
        if self.spikes.rules:
            loops.append(("alerts", self._alert_loop))
        if self.catalog is not None:
            loops.append(("catalog", self._catalog_loop))
        for name, target in loops:
            thread = threading.Thread(
                target=target, name=f"reclaim-matcher-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _sync_loop(self, name: str) -> None:
        syncer = self.syncers[name]
        while not self._stop.is_set():
            self.sync_source(name)
            wait = (
                self.config.poll_seconds
                if syncer.status.healthy
                else syncer.status.backoff_seconds
            )
            self._stop.wait(wait)

    def _deliver_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver()
            except Exception:  # the loop must outlive a database hiccup
                logger.exception("delivery failed unexpectedly")
            self._wake_delivery.wait(1.0)
            self._wake_delivery.clear()

    def _alert_loop(self) -> None:
        """Check the spike rules about once a minute."""
        while not self._stop.is_set():
            try:
                self.check_alerts()
            except Exception:  # the loop must outlive a database hiccup
                logger.exception("checking spike alerts failed; retried")
            self._stop.wait(ALERT_SECONDS)

    def _removals_loop(self) -> None:
        """Removal requests: owed searches for copies on every wake (a
        request arrived) and at least each minute, when the reminders,
        escalations and purge run too."""
        ticked = float("-inf")
        while not self._stop.is_set():
            try:
                self.removals.search_owed()
            except Exception:  # the loop must outlive a database hiccup
                logger.exception("searching removal requests' copies failed; retried")
            if time.monotonic() - ticked >= 60.0:
                ticked = time.monotonic()
                try:
                    self.removals.tick()
                except Exception:  # the loop must outlive a database hiccup
                    logger.exception("the removal requests' clock failed; retried")
            self._wake_delivery.set()
            self._wake_removals.wait(60.0)
            self._wake_removals.clear()

    def _catalog_loop(self) -> None:
        """Rescan after syncs that changed the list (retrying, while one is
        owed, on every wake until it succeeds); write the spool out."""
        catalog = self.catalog
        assert catalog is not None
        while not self._stop.is_set():
            self._wake_catalog.wait(min(60.0, max(1.0, catalog.config.flush_seconds)))
            self._wake_catalog.clear()
            if self._stop.is_set():
                return
            try:
                catalog.flush()
            except Exception:  # the loop must outlive a failed flush
                logger.exception("writing the catalog spool out failed; retried")
            if not self._catalog_due or self.not_ready():
                continue
            try:
                self._catalog_due = False
                if catalog.config.rescan:
                    self.rescan_now()
                catalog.sweep()
            except Exception:  # the loop must outlive a failed rescan
                self._catalog_due = True
                logger.exception("catalog rescan failed; retried on the next wake")

    def rescan_now(self) -> RescanOutcome | None:
        """The rescan the background thread runs after a sync, now (tests and
        one-shot commands); None when nothing was listed since the last."""
        if self.catalog is None:
            return None
        try:
            outcome = self.catalog.rescan_new()
        except Exception:
            self.metrics.rescans.labels("failed").inc()
            raise
        if outcome is not None:
            self.metrics.rescans.labels("ok").inc()
            self.metrics.rescan_seconds.set(outcome.seconds)
            self.metrics.catalog_queued.inc(outcome.queued)
        return outcome

    def stop(self) -> None:
        """Stop the background threads and close connections."""
        self._stop.set()
        self._wake_delivery.set()
        self._wake_catalog.set()
        self._wake_removals.set()
        for thread in self._threads:
            thread.join(30)
        self._threads.clear()

    def close(self) -> None:
        """Stop, and release the source, webhooks and database."""
        self.stop()
        for source in self.sources.values():
            source.close()
        self.webhooks.close()
        self.engine.dispose()


def _open_catalog(service: MatcherService, names: Sequence[str]) -> MatcherCatalog:
    """The matcher's catalog; ConfigError when its libraries are missing."""
    try:
        from reclaim.matcher.catalog import MatcherCatalog
    except ImportError as error:
        raise ConfigError(
            f"[catalog] enabled = true needs the catalog libraries ({error.name} "
            "is missing): install reclaim[matcher,catalog], or turn the catalog off"
        ) from None
    return MatcherCatalog(
        service.engine,
        service.config.catalog,
        queue=service.queue,
        rule=service.rule,
        sources=names,
        on_queued=service._wake_delivery.set,
    )


def _catalog_items(queries: Sequence[Query]) -> list[Any]:
    """The catalog items of the queries that name the platform's content."""
    from reclaim.catalog.items import CatalogItem  # the catalog extra's

    now = datetime.now(UTC)
    items = []
    for query in queries:
        if query.reference is None or (query.md5 is None and len(query.pdq) < 4):
            continue
        item = CatalogItem.of_hashes(
            query.reference, now, md5=query.md5, pdq=query.pdq, labels=query.labels
        )
        if item.md5 is not None or item.pdq is not None:
            items.append(item)
    return items
