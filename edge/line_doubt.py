"""How well one camera can count a line, from its calibration alone: the doubt about a person's
feet across the line, along the line.

A counting line confirms a side only once a person is `line_hysteresis_m` plus
`line_hysteresis_sigmas` sigmas of their position across the line past it
(`edge.analytics.lines`). That sigma comes from the box: its edges wander by `feet_sigma` of
its size, and the calibration's Jacobian turns those pixels into floor metres
(`edge.fusion.feet_covariance`), long along the camera's line of sight and growing with
distance. Where a line is far from the camera, or faces it (people cross it walking towards
or away from the camera), the feet wander across it by tenths of a metre, the margin widens
with them, and people who walk near it are missed or counted twice (docs/accuracy.md).
`line_doubt` puts a standing person (`person_height_m` tall, boxes `PERSON_WIDTH_SHARE` of
that wide) every `STEP_M` along the line and gives the same covariance the pipeline gives
their box, before the floor filter narrows it: what the installer can compare between two
places for a line.

Measured (bench/line_doubt.py, docs/accuracy.md): over families of random lines the median
doubt ranks lines' errors only weakly, but lines whose median doubt is above a body's width
(`BODY_WIDTH_M`) counted worse on both test scenes: there two people side by side, or one
person's wandering feet, are as far apart as the doubt, and the line's margin is wider than a
body. `LineDoubt.text` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.floor import CameraView
from edge.floor_tracks import FEET_SIGMA, FLOOR_SIGMA_M
from edge.fusion import feet_covariance
from edge.tiles import standing_height_px
from edge.types import Detections
from footfall_core.geometry import CameraGeometry
from footfall_core.store import Analysis, Camera, Line, Tiling

STEP_M = 0.25  # the line is sampled this often
MAX_POINTS = 401  # at most this many samples (a line over 100 m long is sampled more coarsely)
# a walking person's box width as a share of its height (the annotated boxes' median: PETS09
# 0.36, WILDTRACK 0.29)
PERSON_WIDTH_SHARE = 0.35
BODY_WIDTH_M = 0.5  # an adult's width at the shoulders with the arms swinging


def person_height_m(camera: Camera) -> float:
    """The standing height the camera's tiling assumes (its default without a tiling)."""
    tiling = camera.tiling or Tiling()
    return tiling.person_height_m


@dataclass(frozen=True)
class LineDoubt:
    """One line as one camera sees it. `points_m` (K, 2) every `STEP_M` from start to end (at most
    `MAX_POINTS`);
    `sigma_across_m` (K,) the doubt about a standing person's feet there across the line, one
    sigma in metres (NaN where the camera does not see the floor: out of its frame or image
    mask, at or beyond the horizon); `seen` (K,) where it does. `hysteresis_m` and
    `hysteresis_sigmas` are the analysis settings the margin is made of."""

    line: str
    points_m: np.ndarray
    sigma_across_m: np.ndarray
    seen: np.ndarray
    hysteresis_m: float
    hysteresis_sigmas: float

    @property
    def seen_share(self) -> float:
        """Share of the line's points the camera sees."""
        return float(self.seen.mean())

    @property
    def min_sigma_m(self) -> float:
        """Smallest doubt across the line over the part the camera sees (NaN: it sees none)."""
        return float(self.sigma_across_m[self.seen].min()) if self.seen.any() else float("nan")

    @property
    def median_sigma_m(self) -> float:
        """Median doubt across the line over the part the camera sees (NaN: it sees none)."""
        return float(np.median(self.sigma_across_m[self.seen])) if self.seen.any() else float("nan")

    @property
    def max_sigma_m(self) -> float:
        """Largest doubt across the line over the part the camera sees (NaN: it sees none)."""
        return float(self.sigma_across_m[self.seen].max()) if self.seen.any() else float("nan")

    @property
    def margin_m(self) -> float:
        """How far past the line a person standing at its median doubt must be before their side
        counts, for one measurement (the floor filter narrows it as it follows them)."""
        return self.hysteresis_m + self.hysteresis_sigmas * self.median_sigma_m

    @property
    def counts_worse(self) -> bool:
        """The median doubt across is above a body's width: such lines counted worse."""
        return self.median_sigma_m >= BODY_WIDTH_M

    def text(self) -> str:
        """One line for the installer: the doubt across, the margin, how much of the line the
        camera sees, and the warning where it counts worse."""
        if not self.seen.any():
            return "the camera does not see this line"
        parts = [
            f"feet doubt across {self.min_sigma_m:.2f}-{self.max_sigma_m:.2f} m "
            f"(median {self.median_sigma_m:.2f}), margin {self.margin_m:.2f} m"
        ]
        if self.seen_share < 1:
            parts.append(f"the camera sees {self.seen_share:.0%} of it")
        if self.counts_worse:
            parts.append(
                f"doubt above a body's width ({BODY_WIDTH_M:g} m): lines there count worse; "
                "draw it nearer the camera, or turned so that people cross it sideways in the picture"
            )
        return "; ".join(parts)


def line_doubt(
    line: Line,
    camera: Camera,
    geometry: CameraGeometry,
    frame_size_px: tuple[int, int],
    analysis: Analysis,
    person_height_m: float,
) -> LineDoubt:
    """The doubt across `line` of `camera` (its `geometry`, frames of `frame_size_px`) for a
    person `person_height_m` tall standing at each point of it, and where the camera sees it."""
    start, end = np.asarray(line.start_m, float), np.asarray(line.end_m, float)
    length_m = float(np.linalg.norm(end - start))
    steps = min(MAX_POINTS - 1, max(1, int(np.ceil(length_m / STEP_M))))
    points_m = start + np.linspace(0.0, 1.0, steps + 1)[:, None] * (end - start)
    seen = CameraView(camera, geometry, frame_size_px).sees(points_m)
    sigma_m = np.full(len(points_m), np.nan)
    if seen.any():
        feet_px = geometry.floor_to_image(points_m[seen])
        height_px = standing_height_px(geometry, feet_px, person_height_m)
        half_width_px = PERSON_WIDTH_SHARE * height_px / 2
        width, height = frame_size_px
        # the box a detector would give: clipped to the frame (feet_covariance adds the doubt of a cut box)
        xyxy = np.stack(
            [
                np.clip(feet_px[:, 0] - half_width_px, 0, width),
                np.clip(feet_px[:, 1] - height_px, 0, height),
                np.clip(feet_px[:, 0] + half_width_px, 0, width),
                feet_px[:, 1],
            ],
            axis=1,
        )
        boxes = Detections(xyxy, np.ones(len(xyxy)))
        cov_m2 = feet_covariance(geometry, boxes, frame_size_px, FEET_SIGMA, FLOOR_SIGMA_M)
        unit = (end - start) / length_m
        normal = np.array([-unit[1], unit[0]])
        sigma_m[seen] = np.sqrt(np.einsum("i,kij,j->k", normal, cov_m2, normal))
        seen[seen] = np.isfinite(sigma_m[seen])
    return LineDoubt(
        line.name, points_m, sigma_m, seen, analysis.line_hysteresis_m, analysis.line_hysteresis_sigmas
    )
