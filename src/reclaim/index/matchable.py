"""The in-memory, matchable copy of the list: PDQ index, MD5 set, vPDQ frames.

A `MatchableList` is immutable to its readers. `with_changes` returns a new one
that shares what did not change; the service swaps it in with one
assignment, so queries never wait for an update and never see half of one.

PDQ records are kept compact, since lists run to millions: per index
position, the 32 hash bytes and a label number (program and source), in
append-only arrays
shared by every version (a position is never reused, so an older version
still reads its own positions). Records are found for removal through a
compact prefix look-up (`lookup.py`), not a per-record map.
"""

from __future__ import annotations

import logging
import re
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from reclaim.hashing import MATCH_DISTANCE, InvalidHashError, SignalType, VpdqHash
from reclaim.index.codes import CODE_BYTES, Codes, as_codes
from reclaim.index.index import PdqIndex
from reclaim.index.lookup import PrefixLookup
from reclaim.index.records import ListRecord

logger = logging.getLogger(__name__)

Key = tuple[str, str, str, str]
Label = tuple[str, str]  # program, source

_PDQ_HEX = re.compile(r"[0-9a-f]{64}")
_COUNTED = (SignalType.PDQ, SignalType.MD5, SignalType.VPDQ)


@dataclass(frozen=True, slots=True)
class Video:
    """A listed video: its record and parsed frames."""

    record: ListRecord
    hash: VpdqHash


@dataclass(slots=True)
class _Shared:
    """Append-only tables shared by every version of a matchable list (writer-owned)."""

    pdq_codes: bytearray = field(default_factory=bytearray)  # 32 bytes a position
    pdq_label: array[int] = field(default_factory=lambda: array("H"))
    pdq_dead: bytearray = field(default_factory=bytearray)  # 1 once removed
    pdq_lookup: PrefixLookup = field(default_factory=PrefixLookup)
    labels: list[Label] = field(default_factory=list)
    label_numbers: dict[Label, int] = field(default_factory=dict)
    videos: list[Video] = field(default_factory=list)
    video_number: dict[Key, int] = field(default_factory=dict)
    frame_owner: list[int] = field(default_factory=list)
    frame_positions: dict[int, tuple[int, int]] = field(default_factory=dict)

    def label_number(self, label: Label) -> int:
        """The number of a (program, source) label, given one if it is new."""
        number = self.label_numbers.get(label)
        if number is None:
            number = self.label_numbers[label] = len(self.labels)
            self.labels.append(label)
        return number


class MatchableList:
    """One consistent version of the matchable list."""

    __slots__ = (
        "_shared",
        "md5",
        "pdq",
        "frames",
        "live_videos",
        "skipped",
        "_by_source",
    )

    def __init__(
        self,
        shared: _Shared,
        pdq: PdqIndex,
        md5: dict[str, tuple[ListRecord, ...]],
        frames: PdqIndex,
        live_videos: int,
        skipped: int = 0,
        by_source: dict[tuple[str, str], int] | None = None,
    ) -> None:
        self._shared = shared
        self.pdq = pdq
        self.md5 = md5
        self.frames = frames
        self.live_videos = live_videos
        self.skipped = skipped
        self._by_source = by_source or {}

    @classmethod
    def empty(cls, *, radius: int = MATCH_DISTANCE) -> MatchableList:
        """A matchable list with nothing listed; its PDQ index is planned for
        searches at `radius` (the match rule's `derived` radius)."""
        return cls(
            _Shared(), PdqIndex.build([], radius=radius), {}, PdqIndex.build([]), 0
        )

    @classmethod
    def build(
        cls, records: Iterable[ListRecord], *, radius: int = MATCH_DISTANCE
    ) -> MatchableList:
        """A matchable list of these (active) records (see `empty` for `radius`)."""
        return cls.empty(radius=radius).with_changes(listed=records, gone=())

    def __len__(self) -> int:
        """Listed records of every type."""
        return len(self.pdq) + sum(len(v) for v in self.md5.values()) + self.live_videos

    def counts(self) -> dict[str, int]:
        """Listed records per type."""
        return {
            SignalType.PDQ.value: len(self.pdq),
            SignalType.MD5.value: sum(len(v) for v in self.md5.values()),
            SignalType.VPDQ.value: self.live_videos,
        }

    def counts_by_source(self) -> dict[str, dict[str, int]]:
        """Listed records per source, per type."""
        found: dict[str, dict[str, int]] = {}
        for (source, kind), count in sorted(self._by_source.items()):
            per_type = found.setdefault(source, {k.value: 0 for k in _COUNTED})
            per_type[kind] = count
        return found

    def pdq_record(self, position: int) -> ListRecord:
        """The record at a PDQ index position."""
        shared = self._shared
        start = position * CODE_BYTES
        value = bytes(shared.pdq_codes[start : start + CODE_BYTES]).hex()
        program, source = shared.labels[shared.pdq_label[position]]
        return ListRecord(SignalType.PDQ, value, program, source=source)

    def frame_video(self, position: int) -> Video:
        """The video that a frame index position belongs to."""
        return self._shared.videos[self._shared.frame_owner[position]]

    def _pdq_positions(
        self, codes: Codes, records: list[ListRecord]
    ) -> list[list[int]]:
        """For each record (with its parsed code), the live positions holding it."""
        shared = self._shared
        found: list[list[int]] = []
        for code, record, candidates in zip(
            codes, records, shared.pdq_lookup.candidates(codes), strict=True
        ):
            number = shared.label_numbers.get((record.program, record.source), -1)
            raw = code.tobytes()
            found.append(
                [
                    p
                    for p in candidates
                    if not shared.pdq_dead[p]
                    and shared.pdq_label[p] == number
                    and shared.pdq_codes[p * CODE_BYTES : (p + 1) * CODE_BYTES] == raw
                ]
            )
        return found

    def with_changes(
        self, *, listed: Iterable[ListRecord], gone: Iterable[ListRecord]
    ) -> MatchableList:
        """A new matchable list with records added and removed; self is unchanged."""
        shared = self._shared
        add_frames: list[str] = []
        remove_frames: list[int] = []
        md5 = self.md5
        md5_copied = False
        videos = self.live_videos
        skipped = self.skipped
        delta: Counter[tuple[str, str]] = Counter()

        def own_md5() -> dict[str, tuple[ListRecord, ...]]:
            nonlocal md5, md5_copied
            if not md5_copied:
                md5, md5_copied = dict(md5), True
            return md5

        gone_pdq: dict[Key, ListRecord] = {}
        for record in gone:
            key = record.key
            if record.kind is SignalType.PDQ:
                gone_pdq[key] = record
            elif record.kind is SignalType.MD5:
                table = own_md5()
                held = table.get(record.value, ())
                left = tuple(r for r in held if r.key != key)
                if len(left) < len(held):
                    delta[(record.source, "md5")] -= 1
                if left:
                    table[record.value] = left
                else:
                    table.pop(record.value, None)
            elif record.kind is SignalType.VPDQ and key in shared.video_number:
                number = shared.video_number.pop(key)
                start, stop = shared.frame_positions.pop(number)
                remove_frames.extend(range(start, stop))
                videos -= 1
                delta[(record.source, "vpdq")] -= 1
        next_frame = self.frames.next_position
        pdq_kind = SignalType.PDQ
        new_pdq: dict[tuple[str, str, str], ListRecord] = {}
        for record in listed:
            if record.kind is pdq_kind:
                # The key inline: this loop runs once per hash at start-up.
                new_pdq.setdefault(
                    (record.value, record.program, record.source), record
                )
                continue
            key = record.key
            if record.kind is SignalType.MD5:
                table = own_md5()
                held = table.get(record.value, ())
                if all(r.key != key for r in held):
                    table[record.value] = (*held, record)
                    delta[(record.source, "md5")] += 1
            elif record.kind is SignalType.VPDQ and key not in shared.video_number:
                try:
                    video = VpdqHash.parse(record.value)
                except InvalidHashError:
                    skipped += 1
                    continue
                number = len(shared.videos)
                shared.videos.append(Video(record, video))
                shared.video_number[key] = number
                start = next_frame + len(add_frames)
                for frame in video.frames:
                    add_frames.append(frame.pdq.hex)
                    shared.frame_owner.append(number)
                shared.frame_positions[number] = (start, start + len(video.frames))
                videos += 1
                delta[(record.source, "vpdq")] += 1
        gone_codes, leaving = _parsed(list(gone_pdq.values()))
        remove_pdq = {p for ps in self._pdq_positions(gone_codes, leaving) for p in ps}
        codes, kept = _parsed(list(new_pdq.values()))
        skipped += len(new_pdq) - len(kept)
        if len(self.pdq):
            # Already listed (and staying): not added twice.
            holders = self._pdq_positions(codes, kept)
            fresh = [
                n
                for n, ps in enumerate(holders)
                if not any(p not in remove_pdq for p in ps)
            ]
            if len(fresh) < len(kept):
                kept = [kept[n] for n in fresh]
                codes = codes[fresh]
        for position in remove_pdq:
            shared.pdq_dead[position] = 1
            delta[(shared.labels[shared.pdq_label[position]][1], "pdq")] -= 1
        delta.update((r.source, "pdq") for r in kept)
        shared.pdq_lookup.add(codes, self.pdq.next_position)
        shared.pdq_codes.extend(codes.tobytes())
        shared.pdq_label.extend(
            shared.label_number((r.program, r.source)) for r in kept
        )
        shared.pdq_dead.extend(bytes(len(kept)))
        pdq = self.pdq
        if len(kept) or remove_pdq:
            pdq = pdq.with_changes(
                add=codes, remove=np.array(sorted(remove_pdq), np.int64)
            )
        frames = self.frames
        if add_frames or remove_frames:
            frames = frames.with_changes(
                add=add_frames, remove=np.array(remove_frames, np.int64)
            )
        if skipped > self.skipped:
            logger.warning("%d listed hashes could not be parsed", skipped)
        by_source = self._by_source
        if delta:
            by_source = dict(by_source)
            for label, change in delta.items():
                by_source[label] = by_source.get(label, 0) + change
        return MatchableList(shared, pdq, md5, frames, videos, skipped, by_source)


def _parsed(records: list[ListRecord]) -> tuple[Codes, list[ListRecord]]:
    """The PDQ codes of the records whose values parse, and those records."""
    try:
        return as_codes([r.value for r in records]), records
    except InvalidHashError:
        # Rare: a value that is not 64 hex digits. Drop it, keep the rest.
        kept = [r for r in records if _PDQ_HEX.fullmatch(r.value)]
        return as_codes([r.value for r in kept]), kept
