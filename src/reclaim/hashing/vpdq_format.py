"""The vPDQ video hash value, Meta's text format for it, and our compact form.

A vPDQ hash is a list of frames. Meta's `vpdq` tools write each frame as
`frame_number,quality,pdq_hex,timestamp` (seconds, 3 decimals) on its own
line: about 78 bytes a frame. The compact form (`vpdq_compact.py`) carries
the same frames losslessly in about 47. python-threatexchange's `VPDQSignal`
(and so HMA's vPDQ banks) writes a JSON list of `"pdq_hex,quality,timestamp"`
strings with no frame numbers. `VpdqHash.parse` reads all three.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from reclaim.hashing import vpdq_compact
from reclaim.hashing.errors import InvalidHashError
from reclaim.hashing.types import PdqHash

#: Refuse vPDQ texts with more frames than this (10 hours at one per second).
MAX_VPDQ_FRAMES = 36_000


@dataclass(frozen=True, slots=True)
class VpdqFrame:
    """One hashed video frame."""

    frame_number: int
    timestamp: float
    pdq: PdqHash

    @property
    def quality(self) -> int:
        """The frame's PDQ quality (0-100)."""
        return self.pdq.quality if self.pdq.quality is not None else 0

    def to_line(self) -> str:
        """The frame as one line of Meta's text format."""
        return f"{self.frame_number},{self.quality},{self.pdq.hex},{self.timestamp:.3f}"


@dataclass(frozen=True, slots=True)
class VpdqHash:
    """A video's perceptual hash: its sampled frames, in order."""

    frames: tuple[VpdqFrame, ...]

    @classmethod
    def parse(cls, text: str) -> VpdqHash:
        """Parse Meta's text format (one `frame,quality,hex,timestamp` a line),
        the compact form (`vpdq1:...`, as `to_compact` writes it), or pytx's
        `VPDQSignal` JSON (as `to_pytx` writes it)."""
        if not isinstance(text, str):
            raise InvalidHashError(
                f"{type(text).__name__} is not a vPDQ hash: expected text lines "
                "'frame_number,quality,pdq_hex,timestamp' or a compact 'vpdq1:' hash"
            )
        if vpdq_compact.is_compact(text):
            rows = vpdq_compact.decode(text, max_frames=MAX_VPDQ_FRAMES)
            return cls._checked(
                tuple(
                    VpdqFrame(number, millis / 1000, PdqHash(value, quality))
                    for number, quality, value, millis in rows
                )
            )
        if text.lstrip().startswith("["):
            return cls._from_pytx(text)
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        if not lines:
            raise InvalidHashError(
                "an empty vPDQ hash has no frames: expected one or more lines "
                "'frame_number,quality,pdq_hex,timestamp'"
            )
        if len(lines) > MAX_VPDQ_FRAMES:
            raise InvalidHashError(
                f"a vPDQ hash of {len(lines)} frames is too long: at most "
                f"{MAX_VPDQ_FRAMES}; sample fewer frames per second"
            )
        return cls._checked(
            tuple(_parse_line(number, line) for number, line in enumerate(lines))
        )

    @classmethod
    def _from_pytx(cls, text: str) -> VpdqHash:
        """pytx's JSON list; frames are numbered by their place in it."""
        try:
            entries = json.loads(text)
        except (ValueError, RecursionError):
            entries = None
        if not isinstance(entries, list) or not all(
            isinstance(e, str) for e in entries
        ):
            raise InvalidHashError(
                "this is not a pytx VPDQSignal: expected a JSON list of "
                "'pdq_hex,quality,timestamp' strings"
            )
        if not entries or len(entries) > MAX_VPDQ_FRAMES:
            raise InvalidHashError(
                f"a vPDQ hash of {len(entries)} frames cannot be used: expected "
                f"1 to {MAX_VPDQ_FRAMES} frames"
            )
        frames = []
        for number, entry in enumerate(entries):
            parts = entry.split(",")
            if len(parts) != 3:
                raise InvalidHashError(
                    f"vPDQ entry {number + 1} has {len(parts)} fields: expected 3, "
                    "'pdq_hex,quality,timestamp'"
                )
            value, quality, timestamp = parts
            # pytx has no frame numbers: the frame's place stands in for one.
            frames.append(
                _parse_line(number, f"{number},{quality},{value},{timestamp}")
            )
        return cls._checked(tuple(frames))

    @classmethod
    def _checked(cls, frames: tuple[VpdqFrame, ...]) -> VpdqHash:
        for before, after in zip(frames, frames[1:], strict=False):
            if after.frame_number < before.frame_number:
                raise InvalidHashError(
                    f"vPDQ frame {after.frame_number} comes after frame "
                    f"{before.frame_number}: expected frames in increasing order"
                )
        return cls(frames)

    def to_text(self) -> str:
        """Meta's text format, one line per frame, newline-terminated."""
        return "".join(frame.to_line() + "\n" for frame in self.frames)

    def to_pytx(self) -> str:
        """python-threatexchange's `VPDQSignal` string, for pytx and HMA banks.

        Frame numbers are dropped (pytx has none); timestamps keep 3 decimals.
        """
        return json.dumps(
            [f"{f.pdq.hex},{f.quality},{f.timestamp:.3f}" for f in self.frames]
        )

    def to_compact(self) -> str:
        """The compact form: `vpdq1:` and base64url; `parse` reads it back.

        Lossless against `to_text`: timestamps are kept to the millisecond,
        as Meta's text keeps them.
        """
        return vpdq_compact.encode(
            (f.frame_number, f.quality, f.pdq.value, _millis(f.timestamp))
            for f in self.frames
        )


def _millis(timestamp: float) -> int:
    """The timestamp in whole milliseconds, rounded exactly as `to_line` prints."""
    return int(f"{timestamp:.3f}".replace(".", ""))


def _parse_line(index: int, line: str) -> VpdqFrame:
    parts = line.split(",")
    where = f"vPDQ line {index + 1}"
    if len(parts) != 4:
        raise InvalidHashError(
            f"{where} has {len(parts)} fields: expected 4, "
            "'frame_number,quality,pdq_hex,timestamp'"
        )
    try:
        frame_number, quality = int(parts[0]), int(parts[1])
        timestamp = float(parts[3])
    except ValueError:
        raise InvalidHashError(
            f"{where}: frame number and quality must be integers and the "
            "timestamp a number of seconds"
        ) from None
    if frame_number < 0 or not math.isfinite(timestamp) or timestamp < 0:
        raise InvalidHashError(
            f"{where}: frame number and timestamp must be zero or positive"
        )
    try:
        pdq = PdqHash.parse(parts[2], quality=quality)
    except InvalidHashError as error:
        raise InvalidHashError(f"{where}: {error}") from None
    return VpdqFrame(frame_number, timestamp, pdq)
