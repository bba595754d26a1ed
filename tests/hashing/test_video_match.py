"""video_match equals python-threatexchange's vPDQ brute-force match."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reclaim.hashing import PdqHash, VpdqFrame, VpdqHash, video_hash, video_match
from tests.conftest import require_shared


def _pytx():  # type: ignore[no-untyped-def]
    try:
        from threatexchange.extensions.vpdq import vpdq_brute_matcher, vpdq_util
    except ImportError as error:
        reason = f"python-threatexchange's vPDQ matcher is not importable ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return vpdq_brute_matcher, vpdq_util


def _sample_hashes() -> dict[str, VpdqHash]:
    folder = require_shared("vpdq", "vpdq", "sample-hashes")
    return {
        path.stem: VpdqHash.parse(path.read_text())
        for path in sorted(folder.glob("*.txt"))
        if not path.stem.endswith("128x128")
    }


def _every(video: VpdqHash, step: int) -> VpdqHash:
    return VpdqHash(video.frames[::step])


def _oracle(query: VpdqHash, compared: VpdqHash) -> tuple[float, float]:
    matcher, util = _pytx()

    def features(video: VpdqHash) -> list[object]:
        return [
            util.VpdqCompactFeature(f.pdq.hex, f.quality, f.timestamp)
            for f in video.frames
        ]

    result = matcher.match_VPDQ_hash_brute(features(query), features(compared), 50, 31)
    return result.query_match_percent, result.compared_match_percent


def test_all_sample_pairs_equal_the_pytx_results_on_file() -> None:
    """All 256 ordered pairs of Meta's full-resolution sample hashes."""
    hashes = _sample_hashes()
    table = require_shared(
        "vpdq", "expected", "vpdq_pairwise_match_full_res_q50_d31.csv"
    )
    rows = list(csv.DictReader(table.read_text().splitlines()))
    assert len(rows) == 256
    for row in rows:
        found = video_match(hashes[row["query"]], hashes[row["compared"]])
        assert round(found.query_match_percent, 2) == float(row["query_match_pct"])
        assert round(found.compared_match_percent, 2) == float(
            row["compared_match_pct"]
        )


def test_equals_the_pytx_matcher_run_here() -> None:
    hashes = _sample_hashes()
    names = ["chair-19-sd-bar", "chair-22-sd-sepia-bar", "doorknob-hd-no-bar"]
    names.append("pattern-sd-grey-bar")
    for query in names:
        for compared in names:
            a, b = _every(hashes[query], 13), _every(hashes[compared], 9)
            found = video_match(a, b)
            expected = _oracle(a, b)
            assert (found.query_match_percent, found.compared_match_percent) == (
                pytest.approx(expected[0]),
                pytest.approx(expected[1]),
            ), (query, compared)


def _frame(number: int, value: int, quality: int = 90) -> VpdqFrame:
    return VpdqFrame(number, number / 30, PdqHash(value, quality))


def test_duplicates_count_once_and_low_quality_frames_are_dropped() -> None:
    rng = np.random.default_rng(3)
    values = [int.from_bytes(rng.bytes(32), "big") for _ in range(4)]
    near = values[0] ^ ((1 << 31) - 1)  # 31 bits away: still a match
    far = values[1] ^ ((1 << 32) - 1)  # 32 bits away: not one
    query = VpdqHash(
        (
            _frame(0, values[0]),
            _frame(30, values[0]),  # a repeat: counted once
            _frame(60, values[1]),
            _frame(90, values[2], quality=49),  # dropped
        )
    )
    compared = VpdqHash((_frame(0, near), _frame(30, far), _frame(60, values[3])))
    found = video_match(query, compared)
    assert found.query_match_percent == 50.0  # values[0] of {values[0], values[1]}
    assert found.compared_match_percent == pytest.approx(100 / 3)
    assert not found.is_match
    assert video_match(query, compared, compared_threshold=30, query_threshold=50)
    assert video_match(query, compared, distance=32).query_match_percent == 100.0
    assert (
        video_match(query, compared, quality=0).query_match_percent
        == pytest.approx(100 / 3)  # values[2] is back, and unmatched
    )
    expected = _oracle(query, compared)
    assert (found.query_match_percent, found.compared_match_percent) == expected


def test_no_usable_frames_is_no_match() -> None:
    low = VpdqHash((_frame(0, 12345, quality=10),))
    good = VpdqHash((_frame(0, 12345),))
    for a, b in ((low, good), (good, low), (low, low)):
        assert video_match(a, b) == video_match(good, low)
        assert not video_match(a, b).is_match
        assert video_match(a, b).query_match_percent == 0.0


def test_identical_videos_match_fully() -> None:
    video = _sample_hashes()["pattern-hd-no-bar"]
    found = video_match(video, video)
    assert found.is_match
    assert found.query_match_percent == found.compared_match_percent == 100.0


def test_refuses_what_is_not_a_video_hash() -> None:
    with pytest.raises(TypeError, match="VpdqHash"):
        video_match("0,100,abc,0.0", VpdqHash(()))  # type: ignore[arg-type]


def test_letterboxed_videos_match_through_their_cropped_frames() -> None:
    """Meta's -bar samples score 0% against the original; inside the bars, 100%."""
    folder = require_shared("vpdq", "tmk", "sample-videos")
    original = _sample_hashes()["chair-orig-22-hd-no-bar"]
    # The original's hashes cover every frame; keep one a second (30 fps).
    per_second = VpdqHash(tuple(f for f in original.frames if f.frame_number % 30 == 0))
    barred = video_hash(folder / "chair-orig-22-sd-bar.mp4")
    assert video_match(barred.vpdq, per_second).query_match_percent == 0.0
    found = video_match(barred, per_second)
    assert found.is_match, found
    assert found.query_match_percent == 100.0
    assert video_match(per_second, barred).is_match


# ---- the compact wire form ----------------------------------------------------


def test_compact_round_trips_meta_samples_exactly() -> None:
    for name, video in _sample_hashes().items():
        compact = video.to_compact()
        assert compact.startswith("vpdq1:")
        assert VpdqHash.parse(compact) == video, name
        assert VpdqHash.parse(compact).to_text() == video.to_text()
        # About 60% of the text: 47 bytes a frame against 77-80.
        assert len(compact) < 0.61 * len(video.to_text())


frames = st.lists(
    st.tuples(
        st.integers(0, 5000),
        st.integers(0, 100),
        st.integers(0, (1 << 256) - 1),
        st.integers(0, 10_000_000),
    ),
    min_size=1,
    max_size=40,
)


@given(frames)
def test_compact_round_trips_any_frames(rows: list[tuple[int, int, int, int]]) -> None:
    numbers = np.cumsum([r[0] for r in rows]).tolist()
    video = VpdqHash(
        tuple(
            VpdqFrame(number, millis / 1000, PdqHash(value, quality))
            for number, (_, quality, value, millis) in zip(numbers, rows, strict=True)
        )
    )
    again = VpdqHash.parse(video.to_compact())
    assert again == video
    assert again.to_text() == video.to_text()
    assert VpdqHash.parse(video.to_text()).to_compact() == video.to_compact()


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda c: c[:-10], "cut short"),
        (lambda c: c + "AAAA", "after its"),
        (lambda c: c.replace("vpdq1:", "vpdq9:"), "update reclaim"),
        (lambda c: c[:20] + "!" + c[21:], "base64url"),
        (lambda c: "vpdq1:AA", "no frames"),
        (lambda c: "vpdq1:" + "_" * 16, "over 10 bytes"),
    ],
)
def test_damaged_compact_hashes_are_refused(mangle, reason: str) -> None:  # type: ignore[no-untyped-def]
    from reclaim.hashing import InvalidHashError

    video = VpdqHash((_frame(0, 99), _frame(30, 1234)))
    with pytest.raises(InvalidHashError, match=reason):
        VpdqHash.parse(mangle(video.to_compact()))


def test_compact_refuses_bad_quality_and_too_many_frames() -> None:
    import base64

    from reclaim.hashing import InvalidHashError

    payload = bytes([1, 0, 101]) + bytes(32) + bytes([0])
    text = "vpdq1:" + base64.urlsafe_b64encode(payload).decode().rstrip("=")
    with pytest.raises(InvalidHashError, match="quality 101"):
        VpdqHash.parse(text)
    huge = bytes([0xC0, 0xC4, 0x07])  # 123,456 frames
    text = "vpdq1:" + base64.urlsafe_b64encode(huge).decode().rstrip("=")
    with pytest.raises(InvalidHashError, match="too long"):
        VpdqHash.parse(text)


def test_bytes_per_frame(tmp_path: Path) -> None:
    """The figure docs/video.md quotes: Meta's text against the compact form."""
    video = _sample_hashes()["chair-19-sd-bar"]
    text, compact = len(video.to_text()), len(video.to_compact())
    assert 78 <= text / len(video.frames) <= 80
    assert 46 <= compact / len(video.frames) <= 48
