"""vPDQ hashes to and from python-threatexchange's `VPDQSignal` string."""

from __future__ import annotations

import json
import os

import pytest

from reclaim.hashing import VpdqHash, video_hash, video_match
from reclaim.hashing.errors import InvalidHashError
from tests.conftest import require_shared


def _vpdq_signal():  # type: ignore[no-untyped-def]
    try:
        from threatexchange.extensions.vpdq.vpdq import VPDQSignal
    except ImportError as error:  # pytx's vPDQ extension needs Meta's vpdq
        reason = f"python-threatexchange's VPDQSignal is not importable ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return VPDQSignal


def test_our_video_hash_is_a_pytx_signal_that_matches_pytx_own() -> None:
    signal = _vpdq_signal()
    path = require_shared("vpdq", "tmk", "sample-videos", "chair-20-sd-bar.mp4")
    ours = video_hash(path, letterbox=False).vpdq
    text = ours.to_pytx()
    assert signal.validate_signal_str(text) == text
    theirs = signal.hash_from_file(path)  # Meta's vpdq, through pytx
    result = signal.compare_hash(text, theirs)
    assert result.match
    assert result.distance.query_match_percent == 100.0
    assert result.distance.compared_match_percent == 100.0
    # The same frames, field by field, as pytx reads them.
    entries = json.loads(text)
    assert [e.split(",")[:2] for e in entries] == [
        [f.pdq.hex, str(f.quality)] for f in ours.frames
    ]


def test_pytx_signals_parse_and_round_trip() -> None:
    signal = _vpdq_signal()
    (example,) = signal.get_examples()
    parsed = VpdqHash.parse(example)
    assert len(parsed.frames) == len(json.loads(example))
    assert [f.frame_number for f in parsed.frames] == list(range(len(parsed.frames)))
    again = VpdqHash.parse(parsed.to_pytx())
    assert again == parsed
    assert signal.compare_hash(parsed.to_pytx(), example).match
    result = video_match(parsed, again)
    assert result.query_match_percent == 100.0


def test_meta_text_survives_the_trip_except_frame_numbers() -> None:
    folder = require_shared("vpdq", "vpdq", "sample-hashes")
    path = next(p for p in sorted(folder.glob("*.txt")) if "128x128" not in p.stem)
    original = VpdqHash.parse(path.read_text())
    back = VpdqHash.parse(original.to_pytx())
    assert [(f.pdq, f.timestamp) for f in back.frames] == [
        (f.pdq, f.timestamp) for f in original.frames
    ]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[", "not a pytx VPDQSignal"),
        ('{"0": 1}', "frame_number,quality"),  # not a list: read as text lines
        ("[1, 2]", "not a pytx VPDQSignal"),
        ("[]", "expected 1 to"),
        ('["abc,100"]', "expected 3"),
        ('["' + "0" * 64 + ',100,0.0,9"]', "expected 3"),
        ('["' + "zz" * 32 + ',100,0.0"]', "vPDQ line 1"),
        ('["' + "ab" * 32 + ',x,0.0"]', "must be integers"),
        ('["' + "ab" * 32 + ',100,-1"]', "zero or positive"),
        ('[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]', "not a pytx VPDQSignal"),
    ],
)
def test_malformed_pytx_signals_get_one_clear_error(text: str, says: str) -> None:
    with pytest.raises(InvalidHashError) as error:
        VpdqHash.parse(text)
    assert says in str(error.value)
