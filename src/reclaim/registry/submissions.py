"""Validating the hashes a person (or platform) submits, at the boundary.

Each item is `{"type": "pdq"|"md5"|"vpdq", "value": ..., "quality": ...}`.
PDQ hashes need a quality of at least 50 and a non-degenerate bit pattern;
vPDQ hashes need at least one frame of quality 50; they come in Meta's text
or our compact form (`vpdq1:...`) and are stored in one canonical form,
Meta's text, so a video dedupes whichever form it came in (and the feed and
feedback keep speaking the format vPDQ users exchange). Every refused item is
reported with its position and reason, and nothing is stored.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reclaim.hashing.distance import MIN_QUALITY
from reclaim.hashing.errors import InvalidHashError
from reclaim.hashing.types import Md5Hash, PdqHash, SignalType
from reclaim.hashing.vpdq_format import VpdqHash
from reclaim.registry.errors import InvalidRequestError


class Program(enum.StrEnum):
    """The two programs sharing one registry. Names are storage keys."""

    MINOR = "minor"  # made when the person was under 18 (as Take It Down)
    ADULT = "adult"  # as StopNCII


def parse_program(value: object) -> Program:
    """A program name, or InvalidRequestError naming the choices."""
    try:
        return Program(str(value))
    except ValueError:
        raise InvalidRequestError(
            f"{str(value)[:20]!r} is not a program: expected 'minor' (made when "
            "the person was under 18) or 'adult'"
        ) from None


@dataclass(frozen=True, slots=True)
class SubmittedHash:
    """One validated hash in canonical form.

    `item` groups the hashes of one picture or video within a request (its
    whole-image hash, derived views, a video's MD5 and vPDQ): the person sees
    an item once in their case, whichever of its hashes a platform matched.
    None means the hash is an item of its own.
    """

    signal_type: SignalType
    value: str
    quality: int | None
    item: int | None = None

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical value: the storage key."""
        return hashlib.sha256(self.value.encode()).hexdigest()


#: PDQ hashes have (at most, and nearly always exactly) 128 bits set; far
#: fewer means a flat or broken image whose hash matches unrelated ones.
_MIN_PDQ_BITS = 96
_MAX_PDQ_BITS = 128


def _pdq(item: Mapping[str, Any]) -> SubmittedHash:
    quality = item.get("quality")
    if not isinstance(quality, int) or isinstance(quality, bool):
        raise InvalidHashError(
            "a PDQ hash needs its quality: an integer 0-100 as computed with it"
        )
    parsed = PdqHash.parse(item.get("value"), quality=quality)  # type: ignore[arg-type]
    if quality < MIN_QUALITY:
        raise InvalidHashError(
            f"quality {quality} is below {MIN_QUALITY}: such a hash matches "
            "unrelated images; hash a sharper or larger copy"
        )
    bits = parsed.value.bit_count()
    if not _MIN_PDQ_BITS <= bits <= _MAX_PDQ_BITS:
        raise InvalidHashError(
            f"a PDQ hash with {bits} bits set is degenerate: expected about 128 "
            "(a flat or broken image); hash the image again"
        )
    return SubmittedHash(SignalType.PDQ, parsed.hex, quality)


def _md5(item: Mapping[str, Any]) -> SubmittedHash:
    parsed = Md5Hash.parse(item.get("value"))  # type: ignore[arg-type]
    if parsed.hex in {"d41d8cd98f00b204e9800998ecf8427e"}:
        raise InvalidHashError("that is the MD5 of an empty file: nothing to match")
    return SubmittedHash(SignalType.MD5, parsed.hex, None)


def _vpdq(item: Mapping[str, Any]) -> SubmittedHash:
    parsed = VpdqHash.parse(item.get("value"))  # type: ignore[arg-type]
    if not any(frame.quality >= MIN_QUALITY for frame in parsed.frames):
        raise InvalidHashError(
            f"no frame of this vPDQ hash has quality {MIN_QUALITY} or more: it "
            "would match unrelated videos"
        )
    # Canonical: Meta's text, whatever form came in (see the module docstring).
    return SubmittedHash(SignalType.VPDQ, parsed.to_text(), None)


_PARSERS = {SignalType.PDQ: _pdq, SignalType.MD5: _md5, SignalType.VPDQ: _vpdq}

#: Item labels are small numbers local to one request.
MAX_ITEM_LABEL = 100_000


def _with_item(parsed: SubmittedHash, label: object) -> SubmittedHash:
    if label is None:
        return parsed
    if (
        not isinstance(label, int)
        or isinstance(label, bool)
        or not 0 <= label <= MAX_ITEM_LABEL
    ):
        raise InvalidHashError(
            f"item {str(label)[:20]!r} is not an item label: expected an integer "
            f"0-{MAX_ITEM_LABEL} shared by the hashes of one picture or video"
        )
    return SubmittedHash(parsed.signal_type, parsed.value, parsed.quality, label)


def item_numbers(
    hashes: Sequence[SubmittedHash], *, first: int
) -> dict[tuple[str, str], int]:
    """Each hash's item number in its case, numbering from `first`.

    Labelled hashes share a number per label, in the order labels first
    appear; each unlabelled hash gets a number of its own.
    """
    by_label: dict[int, int] = {}
    numbers: dict[tuple[str, str], int] = {}
    following = first
    for h in hashes:
        if h.item is None:
            number = following
            following += 1
        elif h.item in by_label:
            number = by_label[h.item]
        else:
            number = by_label[h.item] = following
            following += 1
        numbers[(h.signal_type.value, h.digest)] = number
    return numbers


def parse_hashes(items: Sequence[object], *, limit: int) -> list[SubmittedHash]:
    """Validate a request's hashes; refuse all of them if any is bad.

    Duplicates within the request are merged. Raises InvalidRequestError with
    one detail line per bad item.
    """
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise InvalidRequestError("'hashes' must be a list of hash objects")
    if not items:
        raise InvalidRequestError("no hashes given: expected at least one")
    if len(items) > limit:
        raise InvalidRequestError(
            f"{len(items)} hashes in one request is too many: at most {limit}; "
            "send the rest in another request"
        )
    parsed: dict[tuple[SignalType, str], SubmittedHash] = {}
    problems: list[str] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, Mapping):
                raise InvalidHashError("expected an object with 'type' and 'value'")
            kind = str(item.get("type", ""))
            if kind not in _PARSERS:
                raise InvalidHashError(
                    f"{kind[:20]!r} is not a hash type: expected pdq, md5 or vpdq"
                )
            result = _with_item(_PARSERS[SignalType(kind)](item), item.get("item"))
        except InvalidHashError as error:
            problems.append(f"hashes[{index}]: {error}")
            continue
        parsed.setdefault((result.signal_type, result.value), result)
    if problems:
        raise InvalidRequestError(
            f"{len(problems)} of {len(items)} hashes were refused; nothing was stored",
            problems,
        )
    return list(parsed.values())
