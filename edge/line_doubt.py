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

A camera in a fusion group does not count lines itself: the group counts them on the fused
floor (`edge.fusion_stage`), where a person's position is the covariance-weighted mean of every
camera's measurement that sees them, with the covariance P = (Σ R⁻¹)⁻¹ (`edge.fusion`). So a
line of a grouped camera gets the group's doubt (`group_line_doubt`): at each point, the
covariances of the group's cameras that see it, each with the group's `feet_sigma` and
`floor_sigma_m`, combined as the fusion combines them; the group sees the point where any of
its cameras does. A far line one camera sees badly is then as good as the best cameras that
see it make it. Measured on the WILDTRACK group's random lines (bench/line_doubt.py on
bench/line_fusion.py's, docs/accuracy.md): the camera an installer would pick warned alone on
70 of 180 lines, which the group counted better than the others; the group warns on 2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edge.floor import CameraView
from edge.floor_tracks import FEET_SIGMA, FLOOR_SIGMA_M
from edge.fusion import feet_covariance, inverse_2x2
from edge.tiles import standing_height_px
from edge.types import Detections
from footfall_core.geometry import CameraGeometry
from footfall_core.store import Analysis, Camera, Fusion, Line, StoreConfig, Tiling

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
    """One line as one camera, or one fusion group, sees it. `points_m` (K, 2) every `STEP_M`
    from start to end (at most `MAX_POINTS`);
    `sigma_across_m` (K,) the doubt about a standing person's feet there across the line, one
    sigma in metres (NaN where the camera does not see the floor: out of its frame or image
    mask, at or beyond the horizon; for a group, where none of its cameras does); `seen` (K,)
    where it does. `hysteresis_m` and `hysteresis_sigmas` are the analysis settings the margin
    is made of. For a group: its `group` name, `group_size` cameras, and `cameras_seeing` (K,)
    how many of them see each point (None for one camera)."""

    line: str
    points_m: np.ndarray
    sigma_across_m: np.ndarray
    seen: np.ndarray
    hysteresis_m: float
    hysteresis_sigmas: float
    group: str | None = None
    group_size: int = 1
    cameras_seeing: np.ndarray | None = None

    @property
    def seen_share(self) -> float:
        """Share of the line's points the camera (the group) sees."""
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

    def cameras_range(self) -> tuple[int, float, int]:
        """The fewest, median and most of the group's cameras that see a point of the line,
        over the part the group sees ((0, 0, 0) where it sees none; (1, 1, 1) for one camera)."""
        if self.cameras_seeing is None:
            return 1, 1.0, 1
        counts = self.cameras_seeing[self.seen]
        if not len(counts):
            return 0, 0.0, 0
        return int(counts.min()), float(np.median(counts)), int(counts.max())

    def text(self) -> str:
        """One line for the installer: the doubt across, the margin, how much of the line the
        camera (the group) sees, and the warning where it counts worse."""
        if self.group is None:
            who, nearer, prefix = "the camera", "the camera", ""
        else:
            who, nearer, prefix = "the group", "one of the group's cameras", f"in fusion group {self.group}: "
        if not self.seen.any():
            return f"{prefix}{who} does not see this line"
        parts = [
            f"{prefix}feet doubt across {self.min_sigma_m:.2f}-{self.max_sigma_m:.2f} m "
            f"(median {self.median_sigma_m:.2f}), margin {self.margin_m:.2f} m"
        ]
        if self.group is not None:
            fewest, _, most = self.cameras_range()
            seeing = f"{fewest}" if fewest == most else f"{fewest}-{most}"
            parts.append(f"{seeing} of {self.group_size} cameras see it")
        if self.seen_share < 1:
            parts.append(f"{who} sees {self.seen_share:.0%} of it")
        if self.counts_worse:
            parts.append(
                f"doubt above a body's width ({BODY_WIDTH_M:g} m): lines there count worse; "
                f"draw it nearer {nearer}, or turned so that people cross it sideways in the picture"
            )
        return "; ".join(parts)


@dataclass(frozen=True)
class View:
    """One camera as the doubt needs it: its settings, its calibration and its frames' size."""

    camera: Camera
    geometry: CameraGeometry
    frame_size_px: tuple[int, int]


def _samples(line: Line) -> tuple[np.ndarray, np.ndarray]:
    """The points (K, 2) m the line is judged at, and the unit normal (2,) across it."""
    start, end = np.asarray(line.start_m, float), np.asarray(line.end_m, float)
    length_m = float(np.linalg.norm(end - start))
    steps = min(MAX_POINTS - 1, max(1, int(np.ceil(length_m / STEP_M))))
    points_m = start + np.linspace(0.0, 1.0, steps + 1)[:, None] * (end - start)
    unit = (end - start) / length_m
    return points_m, np.array([-unit[1], unit[0]])


def _feet_covariance_m2(
    view: View, points_m: np.ndarray, feet_sigma: float, floor_sigma_m: float
) -> np.ndarray:
    """(K, 2, 2) m² covariance a camera gives the feet of a standing person (its tiling's
    `person_height_m` tall) at each of `points_m`, as `edge.fusion.feet_covariance` gives a
    detector's box there; NaN where the camera does not see the point."""
    cov_m2 = np.full((len(points_m), 2, 2), np.nan)
    seen = CameraView(view.camera, view.geometry, view.frame_size_px).sees(points_m)
    if seen.any():
        geometry = view.geometry
        feet_px = geometry.floor_to_image(points_m[seen])
        height_px = standing_height_px(geometry, feet_px, person_height_m(view.camera))
        half_width_px = PERSON_WIDTH_SHARE * height_px / 2
        width, height = view.frame_size_px
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
        cov_m2[seen] = feet_covariance(geometry, boxes, view.frame_size_px, feet_sigma, floor_sigma_m)
    return cov_m2


def _across_m(cov_m2: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """One sigma (K,) m across the line of each covariance (NaN where it is NaN)."""
    return np.sqrt(np.einsum("i,kij,j->k", normal, cov_m2, normal))


def line_doubt(
    line: Line,
    camera: Camera,
    geometry: CameraGeometry,
    frame_size_px: tuple[int, int],
    analysis: Analysis,
) -> LineDoubt:
    """The doubt across `line` of `camera` alone (its `geometry`, frames of `frame_size_px`) for
    a standing person at each point of it, and where the camera sees it."""
    points_m, normal = _samples(line)
    view = View(camera, geometry, frame_size_px)
    sigma_m = _across_m(_feet_covariance_m2(view, points_m, FEET_SIGMA, FLOOR_SIGMA_M), normal)
    return LineDoubt(
        line.name,
        points_m,
        sigma_m,
        np.isfinite(sigma_m),
        analysis.line_hysteresis_m,
        analysis.line_hysteresis_sigmas,
    )


def group_line_doubt(line: Line, group: Fusion, views: Sequence[View], analysis: Analysis) -> LineDoubt:
    """The doubt across `line` of the fusion `group` from its cameras' `views` (those of its
    cameras that are calibrated and have a frame; the others are counted as seeing nothing):
    at each point, the information-weighted combination P = (Σ R⁻¹)⁻¹ of the covariances R of
    the cameras that see it, with the group's `feet_sigma` and `floor_sigma_m`."""
    points_m, normal = _samples(line)
    info = np.zeros((len(points_m), 2, 2))
    cameras_seeing = np.zeros(len(points_m), np.int64)
    for view in views:
        cov_m2 = _feet_covariance_m2(view, points_m, group.feet_sigma, group.floor_sigma_m)
        sees = np.isfinite(cov_m2).all(axis=(1, 2))
        info[sees] += inverse_2x2(cov_m2[sees])
        cameras_seeing += sees
    seen = cameras_seeing > 0
    cov_m2 = np.full_like(info, np.nan)
    cov_m2[seen] = inverse_2x2(info[seen])
    return LineDoubt(
        line.name,
        points_m,
        _across_m(cov_m2, normal),
        seen,
        analysis.line_hysteresis_m,
        analysis.line_hysteresis_sigmas,
        group.name,
        len(group.cameras),
        cameras_seeing,
    )


def store_line_doubt(config: StoreConfig, camera: str, line: Line, views: Mapping[str, View]) -> LineDoubt:
    """The doubt the installer is shown for `line` drawn on `camera`: its own, or its fusion
    group's when it is in one (the group counts the line). `views` has at least `camera`'s,
    and those of its group's other cameras that can be had."""
    group = config.fusion_of(camera)
    if group is None:
        view = views[camera]
        return line_doubt(line, view.camera, view.geometry, view.frame_size_px, config.analysis)
    grouped = [views[name] for name in group.cameras if name in views]
    return group_line_doubt(line, group, grouped, config.analysis)
