"""bench/feet_from_image.py's readings of the feet's row from the image, on synthetic frames
where the row is known: the figures it prints rest on them."""

from __future__ import annotations

import numpy as np
import pytest

from bench.feet_from_image import lowest_foreground_row, strongest_gradient_row

FEET_ROW_PX = 150  # the person's pixels are rows 50..149; the floor starts at row 150


def person_frame() -> np.ndarray:
    """(240, 200) bool: a 40 px wide person from row 50 down to the feet, with a 2 px gap
    between the legs and a speck of noise below the feet."""
    foreground = np.zeros((240, 200), bool)
    foreground[50:FEET_ROW_PX, 80:120] = True
    foreground[110:FEET_ROW_PX, 99:101] = False
    foreground[160, 100] = True
    return foreground


@pytest.mark.parametrize("bottom_px", [142.0, 150.0, 157.0])
def test_the_foreground_ends_at_the_feet_whatever_the_box_bottom(bottom_px):
    box = np.array([75.0, bottom_px - 100, 125.0, bottom_px])
    assert lowest_foreground_row(person_frame(), box) == FEET_ROW_PX


def test_no_foreground_near_the_box_bottom_gives_no_row():
    box = np.array([10.0, 100.0, 40.0, 200.0])  # beside the person
    assert lowest_foreground_row(person_frame(), box) is None


@pytest.mark.parametrize("bottom_px", [144.0, 156.0])
def test_the_strongest_vertical_change_is_where_the_body_meets_the_floor(bottom_px):
    gray = np.full((240, 200), 180, np.uint8)
    gray[50:FEET_ROW_PX, 80:120] = 40
    box = np.array([75.0, bottom_px - 100, 125.0, bottom_px])
    assert abs(strongest_gradient_row(gray, box) - FEET_ROW_PX) <= 1.0
