"""The in-memory, matchable copy of the list: PDQ index, MD5 set, vPDQ frames.

A `Catalog` is immutable to its readers. `with_changes` returns a new one
that shares what did not change; the service swaps it in with one
assignment, so queries never wait for an update and never see half of one.
The per-position owner lists are append-only and shared between versions: a
position is never reused, so an older catalog still reads its own positions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from reclaim.hashing import InvalidHashError, SignalType, VpdqHash
from reclaim.matcher.codes import Codes, as_codes
from reclaim.matcher.index import PdqIndex
from reclaim.matcher.records import ListRecord

logger = logging.getLogger(__name__)

Key = tuple[str, str, str]

_PDQ_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Video:
    """A listed video: its record and parsed frames."""

    record: ListRecord
    hash: VpdqHash


@dataclass(slots=True)
class _Shared:
    """Append-only tables shared by every version of a catalog (writer-owned)."""

    pdq_owner: list[ListRecord] = field(default_factory=list)
    pdq_position: dict[Key, int] = field(default_factory=dict)
    videos: list[Video] = field(default_factory=list)
    video_number: dict[Key, int] = field(default_factory=dict)
    frame_owner: list[int] = field(default_factory=list)
    frame_positions: dict[int, tuple[int, int]] = field(default_factory=dict)


class Catalog:
    """One consistent version of the matchable list."""

    __slots__ = ("_shared", "md5", "pdq", "frames", "live_videos", "skipped")

    def __init__(
        self,
        shared: _Shared,
        pdq: PdqIndex,
        md5: dict[str, tuple[ListRecord, ...]],
        frames: PdqIndex,
        live_videos: int,
        skipped: int = 0,
    ) -> None:
        self._shared = shared
        self.pdq = pdq
        self.md5 = md5
        self.frames = frames
        self.live_videos = live_videos
        self.skipped = skipped

    @classmethod
    def empty(cls) -> Catalog:
        """A catalog with nothing listed."""
        return cls(_Shared(), PdqIndex.build([]), {}, PdqIndex.build([]), 0)

    @classmethod
    def build(cls, records: Iterable[ListRecord]) -> Catalog:
        """A catalog of these (active) records."""
        return cls.empty().with_changes(listed=records, gone=())

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

    def pdq_record(self, position: int) -> ListRecord:
        """The record at a PDQ index position."""
        return self._shared.pdq_owner[position]

    def frame_video(self, position: int) -> Video:
        """The video that a frame index position belongs to."""
        return self._shared.videos[self._shared.frame_owner[position]]

    def with_changes(
        self, *, listed: Iterable[ListRecord], gone: Iterable[ListRecord]
    ) -> Catalog:
        """A new catalog with records added and removed; this one is unchanged."""
        shared = self._shared
        remove_pdq: list[int] = []
        add_frames: list[str] = []
        remove_frames: list[int] = []
        md5 = self.md5
        md5_copied = False
        videos = self.live_videos
        skipped = self.skipped

        def own_md5() -> dict[str, tuple[ListRecord, ...]]:
            nonlocal md5, md5_copied
            if not md5_copied:
                md5, md5_copied = dict(md5), True
            return md5

        for record in gone:
            key = record.key
            if record.kind is SignalType.PDQ and key in shared.pdq_position:
                remove_pdq.append(shared.pdq_position.pop(key))
            elif record.kind is SignalType.MD5:
                table = own_md5()
                left = tuple(r for r in table.get(record.value, ()) if r.key != key)
                if left:
                    table[record.value] = left
                else:
                    table.pop(record.value, None)
            elif record.kind is SignalType.VPDQ and key in shared.video_number:
                number = shared.video_number.pop(key)
                start, stop = shared.frame_positions.pop(number)
                remove_frames.extend(range(start, stop))
                videos -= 1
        next_frame = self.frames.next_position
        pdq_kind = SignalType.PDQ
        new_pdq: dict[Key, ListRecord] = {}
        for record in listed:
            if record.kind is pdq_kind:
                # The key inline: this loop runs once per hash at start-up.
                key = ("pdq", record.value, record.program)
                if key not in shared.pdq_position:
                    new_pdq.setdefault(key, record)
                continue
            key = record.key
            if record.kind is SignalType.MD5:
                table = own_md5()
                held = table.get(record.value, ())
                if all(r.key != key for r in held):
                    table[record.value] = (*held, record)
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
        codes, kept = _parsed(list(new_pdq.values()))
        skipped += len(new_pdq) - len(kept)
        first = self.pdq.next_position
        for offset, record in enumerate(kept):
            shared.pdq_position[("pdq", record.value, record.program)] = first + offset
        shared.pdq_owner.extend(kept)
        pdq = self.pdq
        if len(kept) or remove_pdq:
            pdq = pdq.with_changes(add=codes, remove=np.array(remove_pdq, np.int64))
        frames = self.frames
        if add_frames or remove_frames:
            frames = frames.with_changes(
                add=add_frames, remove=np.array(remove_frames, np.int64)
            )
        if skipped > self.skipped:
            logger.warning("%d listed hashes could not be parsed", skipped)
        return Catalog(shared, pdq, md5, frames, videos, skipped)


def _parsed(records: list[ListRecord]) -> tuple[Codes, list[ListRecord]]:
    """The PDQ codes of the records whose values parse, and those records."""
    try:
        return as_codes([r.value for r in records]), records
    except InvalidHashError:
        # Rare: a value that is not 64 hex digits. Drop it, keep the rest.
        kept = [r for r in records if _PDQ_HEX.fullmatch(r.value)]
        return as_codes([r.value for r in kept]), kept
