"""A store config for measuring the counts on a recording of your own: one command from a video
and its MOTChallenge 2015 gt.txt with floor positions (`wx, wy`, metres) to the STORE.yaml that
bench/line_accuracy.py measures it with.

    .venv/bin/python bench/scene_config.py VIDEO GT_TXT --out STORE.yaml [--fps F] [--camera NAME]
    .venv/bin/python bench/line_accuracy.py --config STORE.yaml --camera NAME --gt GT_TXT

VIDEO is a video file or an image sequence: its pattern counted from 1 (`img1/%06d.jpg`), the
folder of its images (000001.jpg on), or a MOTChallenge sequence folder (the images from its
seqinfo.ini's imDir and imExt).

What it writes, and where each value comes from (the file's comments say it too):
- the camera's image→floor homography, fitted to every annotated foot (box bottom centre
  x + w/2, y + h, of the rows with flag = 1) paired with its (wx, wy), by the calibration's own
  solver (footfall_core.geometry: RANSAC with the default `max_error_m` as the inlier bound,
  then least squares on the inliers); listed with it, a dozen of those feet spread over the
  image among the ones it fits best, so that `calibration solve` reproduces it;
- the source frame rate from `--fps`, else the `frameRate` of a seqinfo.ini beside gt/, else the
  video container's up to 120 (which can be wrong: PETS09's AVI says 10 where the scene was recorded
  at 7; some containers give a timestamp tick, such as 1000);
- the frame size from the video, the floor plan from the annotated positions with a 1 m margin,
  one zone over that floor (so that occupancy is scored) and no lines (the bench draws its own);
- every analysis and detector setting left at the product's default: nothing is tuned to the scene.

It refuses (exit 2, naming the file) a gt.txt without floor positions or with a malformed row
(naming the line), and a fit that places one annotated foot in twenty further than a body's
width from its annotated position (`BODY_WIDTH_M`): there a line's errors would measure the
calibration, not the product (an uncorrected lens, or a floor that is not flat, does that;
`python -m calibration intrinsics` models the lens).
"""

from __future__ import annotations

import argparse
import configparser
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calibration.frames import first_frame
from edge.line_doubt import BODY_WIDTH_M
from footfall_core.assets import assets_dir
from footfall_core.geometry import CalibrationError, CameraGeometry
from footfall_core.store import NAME_PATTERN, Analysis, Calibration, Detector, parse_config
from tests.gt import mot_gt

MARGIN_M = 1.0  # floor plan beyond the annotated positions, so that the heat grid has no cut-off edge
LISTED_POINTS = 12  # feet written as the calibration's point pairs


class Refusal(Exception):
    """An input the config cannot be made from; the message names the file."""


@dataclass(frozen=True)
class FrameRate:
    fps: float
    source: str  # where it came from, for the printout and the YAML comment


@dataclass(frozen=True)
class FloorFit:
    """The homography fitted to a scene's annotated feet, and how it places them."""

    geometry: CameraGeometry  # solved on every annotated foot inside the frame
    errors_m: np.ndarray  # (N,) every annotated foot's distance from its annotated position, m
    listed: np.ndarray  # (LISTED_POINTS,) indices of the gt rows written as point pairs
    listed_alone_m: float  # median foot error of a homography solved on the listed points alone

    @property
    def median_m(self) -> float:
        return float(np.median(self.errors_m))

    @property
    def p95_m(self) -> float:
        return float(np.percentile(self.errors_m, 95))


def frame_rate(video: Path, gt_txt: Path, fps: float | None) -> FrameRate:
    """The recording's frame rate: `fps` if given, else seqinfo.ini's frameRate in the sequence
    folder (the one holding gt/), else the container's. A container that disagrees is named."""
    container_fps = 0.0  # an image sequence has no container, whatever OpenCV reports for it
    if video.is_file():
        capture = cv2.VideoCapture(str(video))
        container_fps = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
        capture.release()
    says = f"; the container says {container_fps:g}" if container_fps > 0 else ""
    if fps is not None:
        return FrameRate(fps, f"--fps {fps:g}{says if container_fps != fps else ''}")
    seqinfo, info = sequence_info(gt_txt)
    if info:
        rate = info.get("framerate")
        try:
            value = float(rate or "")
        except ValueError:
            value = 0.0
        if not (0 < value <= 120):
            raise Refusal(f"{seqinfo}: [Sequence] frameRate {rate!r} is not a frame rate; give --fps")
        different = (
            says + " (the rate it was recorded at is what counts)" if 0 < container_fps != value else ""
        )
        return FrameRate(value, f"{seqinfo} frameRate{different}")
    if 0 < container_fps <= 120:
        return FrameRate(
            container_fps,
            f"the video container (no --fps, no {seqinfo}): check it is the rate the scene was recorded at",
        )
    if container_fps > 120:  # a timestamp tick (1000 is common), which no camera records at
        raise Refusal(
            f"{video}: the container says {container_fps:g} frames a second, not a recording's rate, and "
            f"there is no {seqinfo}; give --fps"
        )
    raise Refusal(f"{video}: the container gives no frame rate and there is no {seqinfo}; give --fps")


def sequence_info(gt_txt: Path) -> tuple[Path, dict[str, str]]:
    """Where MOTChallenge keeps a sequence's seqinfo.ini (in the folder holding gt/), and its
    [Sequence] keys, lower-cased (none when there is no such file)."""
    path = gt_txt.resolve().parent.parent / "seqinfo.ini"
    parser = configparser.ConfigParser()
    try:
        parser.read(path)
    except configparser.Error as exc:
        raise Refusal(f"{path}: not a MOTChallenge seqinfo.ini: {exc}") from None
    return path, dict(parser["Sequence"]) if parser.has_section("Sequence") else {}


def frame_size(video: Path, gt_txt: Path) -> tuple[int, int]:
    """(width, height) px of the video's frames, which must be those the boxes were drawn on
    (seqinfo.ini's imWidth, imHeight where there is one)."""
    image = first_frame(str(video))
    if image is None:
        raise Refusal(f"{video}: cannot read a frame")
    size = (image.shape[1], image.shape[0])
    seqinfo, info = sequence_info(gt_txt)
    drawn_on = (info.get("imwidth", "").strip(), info.get("imheight", "").strip())
    if all(drawn_on) and drawn_on != (str(size[0]), str(size[1])):
        raise Refusal(
            f"{video}: frames are {size[0]}x{size[1]} px but {seqinfo} says the boxes were drawn on "
            f"{info['imwidth']}x{info['imheight']}: use the recording the annotation was made on"
        )
    return size


def fit_floor(gt: np.ndarray, gt_txt: Path, camera: str, size_px: tuple[int, int]) -> FloorFit:
    """The image→floor homography of the annotated feet, solved by the calibration's own solver
    on every foot inside the frame (RANSAC at the default `max_error_m`, then least squares
    on its inliers), measured on every annotated foot."""
    feet_px = np.stack([gt["x"] + gt["w"] / 2, gt["y"] + gt["h"]], axis=1)
    floor_m = np.stack([gt["wx"], gt["wy"]], axis=1)
    width, height = size_px
    inside = (feet_px >= 0).all(axis=1) & (feet_px[:, 0] <= width) & (feet_px[:, 1] <= height)
    max_error_m = Calibration.model_fields["max_error_m"].default
    try:
        geometry = CameraGeometry.solve(
            camera, feet_px[inside], floor_m[inside], max_error_m, image_size_px=size_px, strict=False
        )
    except CalibrationError as exc:
        raise Refusal(f"{gt_txt}: no homography fits the annotated feet: {exc}") from None
    errors_m = np.linalg.norm(geometry.image_to_floor(feet_px) - floor_m, axis=1)
    errors_m[~np.isfinite(errors_m)] = np.inf  # beyond the fitted horizon: as far off as can be
    candidates = np.flatnonzero(inside)[geometry.errors_m <= np.median(geometry.errors_m)]
    listed = candidates[spread(feet_px[candidates], LISTED_POINTS)]
    alone = CameraGeometry.solve(camera, feet_px[listed], floor_m[listed], max_error_m, strict=False)
    alone_m = np.linalg.norm(alone.image_to_floor(feet_px) - floor_m, axis=1)
    return FloorFit(geometry, errors_m, listed, float(np.nanmedian(alone_m)))


def spread(points: np.ndarray, count: int) -> np.ndarray:
    """Indices of `count` of the (N, 2) `points` spread over them: the one farthest from their
    mean, then each time the one farthest from those already taken."""
    taken = [int(np.argmax(np.linalg.norm(points - points.mean(axis=0), axis=1)))]
    nearest = np.linalg.norm(points - points[taken[0]], axis=1)
    while len(taken) < min(count, len(points)):
        taken.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, np.linalg.norm(points - points[taken[-1]], axis=1))
    return np.array(taken)


def name_from(text: str, fallback: str) -> str:
    """`text` as a config name (lower-case letters, digits, _ and -), or `fallback`."""
    name = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")[:63]
    return name if re.match(NAME_PATTERN, name) else fallback


def recording(video: Path) -> Path:
    """The recording as a source the edge reads: a video file, or an image sequence as a
    pattern counted from 1 (`img1/%06d.jpg`), given as the pattern, as the folder of the images,
    or as a MOTChallenge sequence folder (its seqinfo.ini's imDir and imExt, the images named
    000001.jpg on). Refuses what is none of these, naming it."""
    if "%" in video.name:
        try:
            first = Path(str(video) % 1)
        except (TypeError, ValueError):
            raise Refusal(f"{video}: not an image pattern such as img1/%06d.jpg") from None
        if not first.is_file():
            raise Refusal(f"{video}: no first image {first} (image sequences are counted from 1)")
        return video
    if video.is_file():
        return video
    if not video.is_dir():
        raise Refusal(f"{video}: no such file")
    seqinfo = configparser.ConfigParser()
    try:
        seqinfo.read(video / "seqinfo.ini")
    except configparser.Error as exc:
        raise Refusal(f"{video / 'seqinfo.ini'}: not a MOTChallenge seqinfo.ini: {exc}") from None
    if seqinfo.has_section("Sequence"):
        info = seqinfo["Sequence"]
        return recording(video / info.get("imDir", "img1") / f"%06d{info.get('imExt', '.jpg')}")
    firsts = sorted(video.glob("000001.*"))
    if not firsts:
        raise Refusal(f"{video}: a folder with neither seqinfo.ini nor images 000001.jpg on")
    return video / f"%06d{firsts[0].suffix}"


def source_text(video: Path) -> str:
    """The recording as the config's source: under the assets folder through ${FOOTFALL_ASSETS},
    so that the file works on another checkout; elsewhere its absolute path."""
    path = video.parent.resolve() / video.name  # an image pattern is no file to resolve
    if path.is_relative_to(assets_dir()):
        return "${FOOTFALL_ASSETS}/" + str(path.relative_to(assets_dir()))
    return str(path)


def _pair(values: np.ndarray) -> str:
    return f"[{values[0]:.6g}, {values[1]:.6g}]"


def store_yaml(
    video: Path,
    gt_txt: Path,
    gt: np.ndarray,
    camera: str,
    rate: FrameRate,
    size_px: tuple[int, int],
    fit: FloorFit,
) -> str:
    """The store config's text, with a comment on where each value came from."""
    low = np.array([gt["wx"].min(), gt["wy"].min()])
    high = np.array([gt["wx"].max(), gt["wy"].max()])
    origin = np.floor(low - MARGIN_M)
    extent = np.ceil(high + MARGIN_M) - origin
    x0, y0 = origin
    x1, y1 = origin + extent
    analysis, detector = Analysis(), Detector()
    h = fit.geometry.homography / fit.geometry.homography[2, 2]
    store_id = name_from(sequence_info(gt_txt)[1].get("name") or video.stem, "scene")
    lines = [
        f"# Store config for measuring the counts on {video.name} against {gt_txt}, written by",
        "# bench/scene_config.py. Measure with:",
        f"#   .venv/bin/python bench/line_accuracy.py --config THIS.yaml --camera {camera} --gt {gt_txt}",
        "#",
        "# Nothing here was tuned to this scene: `analysis` and `detector` are left out, so every setting",
        "# is the product's default (footfall_core/store.py), among them analysis.fps "
        f"{analysis.fps:g}, cell_m {analysis.cell_m:g},",
        f"# line_hysteresis_m {analysis.line_hysteresis_m:g}, "
        f"line_smoothing_s {analysis.line_smoothing_s:g}, tracker {analysis.tracker}, detector "
        f"{detector.model} at score_threshold {detector.score_threshold:g}.",
        "#",
        "# Floor frame: the annotation's own (wx, wy, metres), as it is, so that the pipeline's floor",
        "# positions compare with the annotated ones directly.",
        "store:",
        f"  id: {store_id}",
        f"  name: {store_id} (measured against its annotation)",
        "",
        f"# The annotated positions span x {low[0]:.1f}..{high[0]:.1f} m, y {low[1]:.1f}..{high[1]:.1f} m; "
        f"the plan adds {MARGIN_M:g} m",
        "# all round (rounded out to whole metres) so that the heat grid has no cut-off edge.",
        "floor_plan:",
        f"  origin_m: {_pair(origin)}",
        f"  width_m: {extent[0]:g}",
        f"  height_m: {extent[1]:g}",
        "",
        "cameras:",
        f"  - name: {camera}",
        f"    source: {source_text(video)}",
        f"    fps: {rate.fps:g}  # from {rate.source}",
        "    calibration:",
        f"      # The homography is fitted to the {len(fit.geometry.errors_m)} annotated feet inside the "
        f"frame, of {len(gt)}",
        "      # (box bottom centre x + w/2, y + h, of the rows with flag = 1, paired with their wx, wy)",
        "      # by the calibration's solver (RANSAC at the default max_error_m, then least squares on",
        f"      # its inliers). It places the annotated feet a median {fit.median_m:.3f} m, p95 "
        f"{fit.p95_m:.3f} m from",
        f"      # their annotated positions. The {len(fit.listed)} point pairs are feet spread over the "
        "image among",
        "      # the half it fits best; solved alone (`calibration solve`) they place the feet a median",
        f"      # {fit.listed_alone_m:.3f} m off.",
        "      # Comments give the gt.txt frame and person id.",
        "      image_points_px:",
    ]
    feet = [(gt["x"][i] + gt["w"][i] / 2, gt["y"][i] + gt["h"][i]) for i in fit.listed]
    lines += [
        f"        - {_pair(np.array(foot))}  # frame {gt['frame'][i]:g}, id {gt['id'][i]:g}"
        for foot, i in zip(feet, fit.listed)
    ]
    lines += ["      floor_points_m:"]
    lines += [f"        - {_pair(np.array([gt['wx'][i], gt['wy'][i]]))}" for i in fit.listed]
    lines += [
        f"      image_size_px: [{size_px[0]}, {size_px[1]}]  # the video's frames",
        "      homography:",
        *(f"        - [{', '.join(f'{v:.10g}' for v in row)}]" for row in h),
        "",
        "# One zone over the whole annotated floor (the plan): every annotated person stands in it, so",
        "# its occupancy is the scene's people count. No lines: bench/line_accuracy.py draws its own.",
        "zones:",
        "  - name: annotated",
        f"    polygon_m: [[{x0:g}, {y0:g}], [{x1:g}, {y0:g}], [{x1:g}, {y1:g}], [{x0:g}, {y1:g}]]",
        "",
    ]
    return "\n".join(lines)


def write_scene_config(video: Path, gt_txt: Path, out: Path, fps: float | None, camera: str | None) -> str:
    """Write the store config for `video` and its `gt_txt` to `out`; returns what it found, to
    print. Raises Refusal naming the file when the inputs cannot make one."""
    video = recording(video)
    try:
        gt = mot_gt(gt_txt, floor=True)
    except OSError as exc:
        raise Refusal(f"{gt_txt}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise Refusal(str(exc)) from None
    if len(gt) < 4:
        raise Refusal(f"{gt_txt}: {len(gt)} annotated rows with flag = 1; a homography needs at least 4")
    # an image sequence is named after its sequence's folder (MOTChallenge: the one holding gt/)
    named_after = video.stem if video.is_file() else gt_txt.resolve().parent.parent.name
    camera = camera or name_from(named_after, "camera")
    rate = frame_rate(video, gt_txt, fps)
    size_px = frame_size(video, gt_txt)
    fit = fit_floor(gt, gt_txt, camera, size_px)
    report = [
        f"frame rate {rate.fps:g} from {rate.source}",
        f"frames {size_px[0]}x{size_px[1]} px from {video}",
        f"homography fitted to {len(fit.geometry.errors_m)} of {len(gt)} annotated feet (the rest are "
        f"outside the frame; {int(fit.geometry.outliers.sum())} beyond max_error_m "
        f"{fit.geometry.max_error_m:g} m): feet placed median {fit.median_m:.3f} m, p95 {fit.p95_m:.3f} m "
        f"from their annotated positions ({len(fit.listed)} listed points alone: median "
        f"{fit.listed_alone_m:.3f} m)",
    ]
    if not fit.p95_m <= BODY_WIDTH_M:
        raise Refusal(
            f"{gt_txt}: {report[-1]}; refused: above a body's width ({BODY_WIDTH_M:g} m) at p95, people's "
            "sides of a line would differ between the annotation and any pipeline because of the "
            "calibration alone (a lens with distortion needs `python -m calibration intrinsics`; the "
            "floor must be flat and wx, wy in metres)"
        )
    text = store_yaml(video, gt_txt, gt, camera, rate, size_px, fit)
    parse_config(yaml.safe_load(text), out)  # the product must accept what is written
    out.write_text(text)
    report.append(
        f"wrote {out}: camera {camera}, one zone over the annotated floor, every setting at its default; "
        f"measure it with: .venv/bin/python bench/line_accuracy.py --config {out} --camera {camera} "
        f"--gt {gt_txt}"
    )
    return "\n".join(report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "video",
        type=Path,
        help="the recording: a video file, an image pattern counted from 1 (img1/%%06d.jpg), the "
        "images' folder or a MOTChallenge sequence folder",
    )
    parser.add_argument("gt", type=Path, help="its MOTChallenge 2015 gt.txt with wx, wy in metres")
    parser.add_argument("--out", type=Path, required=True, help="the store YAML to write")
    parser.add_argument(
        "--fps",
        type=float,
        help="frame rate it was recorded at (default: seqinfo.ini's, else the container's)",
    )
    parser.add_argument("--camera", help="camera name (default: from the video's file name)")
    args = parser.parse_args(argv)
    if args.fps is not None and not (0 < args.fps <= 120):
        parser.error(f"--fps {args.fps:g}: expected a frame rate above 0, at most 120")
    if args.camera is not None and not re.match(NAME_PATTERN, args.camera):
        parser.error(f"--camera {args.camera!r}: expected lower-case letters, digits, _ and -")
    try:
        print(write_scene_config(args.video, args.gt, args.out, args.fps, args.camera))
    except Refusal as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the config cannot be written there
        print(f"error: {args.out}: cannot write: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
