"""A copy turned inside its own frame: the angle from its dark corners."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reclaim.hashing import submission_hashes
from reclaim.hashing.corners import find_turn, turned_box
from reclaim.hashing.expansion import query_hashes, query_views
from reclaim.hashing.views import Rotation
from reclaim.index import robust_match


def turned(array: np.ndarray, degrees: float) -> np.ndarray:
    """What Pillow's `rotate` does: same canvas, dark corners."""
    return np.asarray(Image.fromarray(array).rotate(degrees, Image.Resampling.BICUBIC))


@pytest.mark.parametrize("degrees", [-4.6, -2.2, 1.3, 3.7, 8.0])
def test_the_angle_is_read_from_the_corners(
    photos: dict[str, np.ndarray], degrees: float
) -> None:
    found = find_turn(turned(photos["astronaut"], degrees))
    assert found is not None and abs(found - degrees) < 0.5


def test_pictures_that_are_not_turned_have_no_angle(
    photos: dict[str, np.ndarray],
) -> None:
    for name, array in photos.items():
        assert find_turn(array) is None, name
    assert find_turn(np.zeros((100, 100, 3), np.uint8)) is None  # all dark
    assert find_turn(np.zeros((10, 10, 3), np.uint8)) is None  # too small


def test_the_straight_box_is_the_views_turn(photos: dict[str, np.ndarray]) -> None:
    array = photos["coffee"]
    height, width = array.shape[:2]
    for degrees in (1.5, 3.0, 4.5):
        box = turned_box(height, width, degrees)
        view = Rotation(degrees).apply(array)
        assert abs((box.bottom - box.top) - view.shape[0]) <= 1
        assert abs((box.right - box.left) - view.shape[1]) <= 1


def test_a_turn_with_dark_corners_matches_through_the_straightened_box(
    photos: dict[str, np.ndarray],
) -> None:
    original = photos["astronaut"]
    listed = submission_hashes(original)
    copy = turned(original, 3.4)
    labels = [label for label, _ in query_views(copy)]
    assert "turn" in labels and "turn/back" in labels
    views = dict(query_views(copy))
    closest = min((views["turn"].value ^ h.value).bit_count() for h in listed)
    assert closest <= 31
    assert robust_match(query_hashes(copy), listed) is not None
