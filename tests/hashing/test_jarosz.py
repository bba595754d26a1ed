"""The tent filter's sample weights equal the reference's box passes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reclaim.hashing.jarosz import sample_positions, sample_weights, window_size


def box_pass(values: np.ndarray, window: int) -> np.ndarray:
    """The reference's box1DFloat, written as a plain loop in float64."""
    n = len(values)
    half = (window + 2) // 2
    out = np.empty(n)
    for o in range(n):
        lo, hi = max(0, o - (window - half)), min(n, o + half)
        out[o] = values[lo:hi].mean()
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=2500), st.integers(min_value=0))
def test_weights_equal_two_box_passes(length: int, seed: int) -> None:
    values = np.random.default_rng(seed).uniform(0, 255, length)
    window = window_size(length)
    expected = box_pass(box_pass(values, window), window)[sample_positions(length)]
    weights = sample_weights(length)
    assert np.allclose(weights.dense @ values, expected, rtol=0, atol=1e-9)
    # Each sample's weights sum to 1 and vanish outside the recorded span.
    assert np.allclose(weights.dense.sum(axis=1), 1.0)
    for k in range(64):
        row = weights.dense[k]
        assert not row[: weights.starts[k]].any() and not row[weights.stops[k] :].any()


def test_window_sizes_follow_the_reference() -> None:
    assert [window_size(n) for n in (1, 64, 128, 129, 256, 1004, 4032)] == [
        1,
        1,
        1,
        2,
        2,
        8,
        32,
    ]


@pytest.mark.parametrize("length", [5, 64, 999, 1600])
def test_reversed_weights_read_pixels_backwards(length: int) -> None:
    values = np.random.default_rng(length).uniform(0, 255, length)
    weights = sample_weights(length)
    assert np.allclose(
        weights.reversed().dense @ values, weights.dense @ values[::-1], atol=1e-9
    )


@pytest.mark.parametrize(
    ("length", "scale"), [(1600, 2), (1601, 2), (4031, 4), (999, 8)]
)
def test_folded_weights_on_block_averages(length: int, scale: int) -> None:
    # On an image that is constant within each block, folding is exact.
    short = -(-length // scale)
    blocks = np.random.default_rng(7).uniform(0, 255, short)
    full = np.repeat(blocks, scale)[:length]
    weights = sample_weights(length)
    folded = weights.folded(scale, short)
    assert np.allclose(folded.dense @ blocks, weights.dense @ full, atol=1e-9)
    with pytest.raises(ValueError, match="shrunk"):
        weights.folded(scale, short + 1)


def test_rejects_empty_dimension() -> None:
    with pytest.raises(ValueError, match="not positive"):
        sample_weights(0)
