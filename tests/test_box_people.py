"""bench/box_people.py's rule on boxes of known size: with a level camera whose standing height is
known at every row, a box two bodies wide counts two, one body wide counts one, and a box whose
feet are at or above the horizon counts one, whatever its size."""

from __future__ import annotations

import numpy as np
import pytest

from bench.box_people import people_in_boxes, size_ratios
from bench.eye_level_floor import assumed_geometry

PERSON_M = 1.75
BODY_M = 0.5
HORIZON_PX = 200.0


@pytest.fixture(scope="module")
def geometry():
    """A level camera PERSON_M up with its horizon at row HORIZON_PX: a person standing with
    their feet on row v is v - HORIZON_PX px tall."""
    heights_px = np.array([50.0, 100.0, 150.0])
    bottoms_px = HORIZON_PX + heights_px
    annotated = [np.column_stack([np.full(3, 300.0), bottoms_px - heights_px, np.full(3, 340.0), bottoms_px])]
    geometry, horizon_px, camera_m = assumed_geometry(annotated, fov_deg=60.0, person_m=PERSON_M)
    assert horizon_px == pytest.approx(HORIZON_PX) and camera_m == pytest.approx(PERSON_M)
    return geometry


def box(feet_row_px: float, bodies: float, centre_px: float = 320.0) -> np.ndarray:
    """A box `bodies` body widths wide and one standing person tall, feet on `feet_row_px`."""
    height_px = feet_row_px - HORIZON_PX
    width_px = bodies * height_px * BODY_M / PERSON_M
    return np.array(
        [centre_px - width_px / 2, feet_row_px - height_px, centre_px + width_px / 2, feet_row_px]
    )


@pytest.mark.parametrize(
    ("xyxy", "people"),
    [
        (box(400.0, 1.0), 1),
        (box(400.0, 2.0), 2),
        (box(260.0, 2.0, centre_px=100.0), 2),  # far off the centre column, and small
        (box(300.0, 3.0), 3),
        (box(400.0, 0.6), 1),  # narrower than one body: still somebody
        (np.array([300.0, 100.0, 500.0, HORIZON_PX]), 1),  # feet on the horizon
        (np.array([300.0, 0.0, 500.0, 150.0]), 1),  # feet above it
    ],
)
def test_a_box_counts_the_bodies_it_is_wide(geometry, xyxy, people):
    by_width, by_area = size_ratios(xyxy[None], geometry, PERSON_M, BODY_M)
    assert people_in_boxes(by_width)[0] == people
    assert people_in_boxes(by_area)[0] == people  # one standing person tall: the area says the same


def test_a_box_twice_as_tall_counts_two_by_area_only(geometry):
    feet_row_px = 400.0
    tall = box(feet_row_px, 1.0)
    tall[1] -= feet_row_px - HORIZON_PX  # twice a standing person's height
    by_width, by_area = size_ratios(tall[None], geometry, PERSON_M, BODY_M)
    assert people_in_boxes(by_width)[0] == 1
    assert people_in_boxes(by_area)[0] == 2
