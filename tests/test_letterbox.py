"""A crop of the tight letterbox, made from its own part of the frame where the scale allows it,
has the pixels of the whole letterbox cut to it."""

from __future__ import annotations

import numpy as np
import pytest

from models.letterbox import letterbox_crop, letterbox_image, stride_box


@pytest.mark.parametrize(
    ("width_px", "height_px", "size_px"),
    [
        (192, 144, 192),  # 1:1
        (384, 288, 192),  # 2 image px per model px
        (576, 432, 192),  # 3: odd, the sample falls on a pixel
        (768, 576, 192),  # 4: PETS09 into the 192 px model
        (1920, 1080, 192),  # 10: a 1080p camera
        (640, 480, 192),  # 3.33: no whole factor, the whole frame is letterboxed and cut
        (768, 576, 416),  # 1.85: the same
    ],
)
def test_crop_has_the_pixels_of_the_whole_letterbox(width_px: int, height_px: int, size_px: int) -> None:
    rng = np.random.default_rng(width_px + size_px)
    image = rng.integers(0, 256, (height_px, width_px, 3), np.uint8)
    whole, scale = letterbox_image(image, size_px, tight=True)
    for _ in range(40):
        x0, x1 = sorted(rng.choice(width_px + 1, 2, replace=False).tolist())
        y0, y1 = sorted(rng.choice(height_px + 1, 2, replace=False).tolist())
        crop, crop_scale, (left, top) = letterbox_crop(image, size_px, (x0, y0, x1, y1))
        box_left, box_top, right, bottom = stride_box((x0, y0, x1, y1), scale)
        assert (crop_scale, left, top) == (scale, box_left, box_top)
        np.testing.assert_array_equal(crop, whole[top:bottom, left:right])
