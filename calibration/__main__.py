"""Calibration tools for a store config.

    python -m calibration solve STORE.yaml --camera NAME
        Solve the camera's image→floor homography from its point pairs, print every point's
        reprojection error in metres (outliers flagged), and write `homography` back into the
        YAML, keeping its comments and order. Nothing is written while a point is an outlier.

    python -m calibration check STORE.yaml --camera NAME --frame IMAGE_OR_VIDEO --out DIR
        Write check pictures to DIR: the floor grid, zones and lines on the camera frame
        (NAME_frame.png), the frame warped onto the floor plan (NAME_plan.png), each camera's
        coverage and owned cells (coverage_CAMERA.png) and all owners (ownership.png).
        Other cameras' frame sizes come from the first frame of their sources. Then, per
        counting line, how well this camera can count it (edge/line_doubt.py): the doubt about
        a person's feet across it, the margin it asks, how much of it the camera sees, and a
        warning where the doubt is above a body's width (docs/calibration.md). For a camera in
        a fusion group, the group's: it counts the line with all its cameras.

    python -m calibration intrinsics IMAGES... --board 9x6 --square-mm 25 [--store STORE.yaml --camera NAME]
        Estimate the lens (camera matrix, distortion) from chessboard photos taken by the
        camera at its working resolution (board = inner corners across x down). With --store,
        write `camera_matrix` and `dist_coeffs` into the camera's calibration and solve its
        homography again through the new lens model.

    python -m calibration plan STORE.yaml --out PLAN.png [--frames 60] [--px-per-m 20]
        A floor plan picture from the cameras themselves (calibration/plan.py): each camera's
        people-free background (per-pixel median over frames across its source) warped onto
        the plan. Prints the placement to upload it with (`python -m dashboard stores plan`).

    python -m calibration serve STORE.yaml [--host 127.0.0.1] [--port 8321] [--clips-dir DIR]
        The calibration web page (calibration/web.py): click point pairs on a camera snapshot
        and the floor plan, draw zones and lines, save them into STORE.yaml. Each run makes a
        fresh access token and prints the URL that carries it; other requests get 401.

    python -m calibration discover [--timeout-s 3] [--user USER --password-file FILE]
        List the ONVIF cameras answering on the local network (WS-Discovery) with the RTSP
        address of each of their streams where the camera gives it (calibration/discover.py).

Exit status: 0 done, 1 calibration has outliers, 2 unusable config or input.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
from pathlib import Path

import cv2
import numpy as np

from calibration.check import draw_on_frame, draw_ownership, warp_to_plan
from calibration.frames import first_frame, source_frame_size
from calibration.intrinsics import calibrate, parse_board
from calibration.plan import background, plan_picture
from calibration.store_yaml import write_calibration
from edge.line_doubt import View, store_line_doubt
from footfall_core.geometry import CalibrationError, CameraGeometry
from footfall_core.ownership import Ownership
from footfall_core.redact import redact_logs, redact_url
from footfall_core.secrets import camera_source, read_password
from footfall_core.store import ConfigError, StoreConfig, load_config


def solve(config: StoreConfig, camera: str, lens: dict[str, np.ndarray] | None = None) -> int:
    """Solve, print the per-point table, and write the homography (and `lens`, the camera
    matrix and distortion to store with it, if given) when no point is an outlier."""
    cal = config.camera(camera).calibration
    K, D = (lens["camera_matrix"], lens["dist_coeffs"]) if lens else (cal.camera_matrix, cal.dist_coeffs)
    try:
        size = source_frame_size(config, camera)
    except CalibrationError as exc:
        print(f"note: {exc}; points are not checked against the frame size", file=sys.stderr)
        size = None
    geometry = CameraGeometry.solve(
        camera, cal.image_points_px, cal.floor_points_m, cal.max_error_m, K, D, size, strict=False
    )
    projected = geometry.image_to_floor(geometry.image_points_px)
    print(f"camera {camera}: {len(projected)} points, max_error_m {cal.max_error_m:g}")
    print(f"{'#':>3} {'image px':>20} {'floor m':>20} {'projected m':>20} {'error m':>8}")
    rows = zip(
        geometry.image_points_px, geometry.floor_points_m, projected, geometry.errors_m, geometry.outliers
    )
    for i, (image, floor, got, error, bad) in enumerate(rows):
        print(
            f"{i:>3} {_pair(image):>20} {_pair(floor):>20} {_pair(got):>20} {error:8.3f}"
            + ("  OUTLIER" if bad else "")
        )
    print(f"median {np.median(geometry.errors_m):.3f} m, max {geometry.errors_m.max():.3f} m")
    if geometry.outliers.any():
        print(
            f"not written: {int(geometry.outliers.sum())} point(s) off by more than {cal.max_error_m:g} m; "
            "fix or remove them",
            file=sys.stderr,
        )
        return 1
    values = {**(lens or {}), "homography": geometry.homography / geometry.homography[2, 2]}
    write_calibration(config.path, camera, values)
    print(f"wrote cameras.{camera}.calibration.{', '.join(values)} to {config.path}")
    return 0


def _pair(values: np.ndarray) -> str:
    return f"({values[0]:.3f}, {values[1]:.3f})"


def check(config: StoreConfig, camera: str, frame_path: str, out_dir: Path) -> int:
    config.camera(camera)  # names the camera if it is not in the store
    frame = first_frame(frame_path)
    if frame is None:
        raise CalibrationError(f"camera {camera}: cannot read an image or video frame from {frame_path}")
    sizes = {c.name: source_frame_size(config, c.name) for c in config.cameras if c.name != camera}
    sizes[camera] = (frame.shape[1], frame.shape[0])
    geometries = {c.name: CameraGeometry.from_config(c, sizes[c.name]) for c in config.cameras}
    ownership = Ownership.build(config, sizes, geometries)
    out_dir.mkdir(parents=True, exist_ok=True)
    pictures = {
        f"{camera}_frame.png": draw_on_frame(frame, geometries[camera], config),
        f"{camera}_plan.png": warp_to_plan(frame, geometries[camera], config),
        "ownership.png": draw_ownership(config, ownership),
    }
    for name in ownership.cameras:
        pictures[f"coverage_{name}.png"] = draw_ownership(config, ownership, name)
    for name, image in pictures.items():
        path = out_dir / name
        if not cv2.imwrite(str(path), image):
            raise OSError(f"cannot write {path}")
        print(path)
    views = {c.name: View(c, geometries[c.name], sizes[c.name]) for c in config.cameras}
    for line in config.lines:
        print(f"line {line.name}: {store_line_doubt(config, camera, line, views).text()}")
    return 0


def intrinsics(
    paths: list[str], board: tuple[int, int], square_mm: float, config: StoreConfig | None, camera: str | None
) -> int:
    images = {}
    for path in paths:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise CalibrationError(f"intrinsics: cannot read image {path}")
        images[path] = image
    result = calibrate(images, board, square_mm)
    np.set_printoptions(precision=6, suppress=True)
    print(
        f"{len(result.views)} views used, RMS corner error {result.rms_px:.3f} px, image "
        f"{result.image_size_px[0]}x{result.image_size_px[1]}"
    )
    if result.skipped:
        print(f"board not found in: {', '.join(result.skipped)}")
    print(f"camera_matrix:\n{result.camera_matrix}\ndist_coeffs (k1 k2 p1 p2 k3): {result.dist_coeffs}")
    if config is None:
        return 0
    return solve(config, camera, {"camera_matrix": result.camera_matrix, "dist_coeffs": result.dist_coeffs})


def plan(config: StoreConfig, out: Path, frames: int, px_per_m: float) -> int:
    """Write the plan picture and print how to upload it."""
    backgrounds = {c.name: background(camera_source(config, c), frames) for c in config.cameras}
    picture = plan_picture(config, backgrounds, px_per_m)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), picture):
        raise CalibrationError(f"{out}: cannot write the picture")
    x, y = config.floor_plan.origin_m
    print(
        f"wrote {out} ({picture.shape[1]} x {picture.shape[0]} px, {px_per_m:g} px a metre, top-left at "
        f"floor ({x:g}, {y:g}) m); upload it with\n  python -m dashboard stores plan {config.store.id} {out} "
        f"--m-per-px {1 / px_per_m:g} --origin-m {x:g},{y:g}"
    )
    return 0


def serve(config: StoreConfig, host: str, port: int, clip_dirs: list[Path]) -> int:
    """Run the calibration page until interrupted (the config was loaded: it is valid)."""
    import uvicorn

    from calibration.web import create_app

    token = secrets.token_urlsafe(24)
    print(f"calibration page for {config.path}: open http://{host}:{port}/?token={token}", flush=True)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    redact_logs()  # uvicorn logs through the root logger (log_config=None), cleaned of credentials
    uvicorn.run(
        create_app(config.path, token, clip_dirs), host=host, port=port, log_level="warning", log_config=None
    )
    return 0


def discover(timeout_s: float, user: str | None, password_file: Path | None) -> int:
    """Print the cameras found (calibration/discover.py)."""
    from calibration.discover import discover as find
    from calibration.discover import lines

    try:
        password = read_password(password_file, "--password-file") if password_file else ""
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines(find(timeout_s, user, password))))
    return 0


def _board(text: str) -> tuple[int, int]:
    try:
        return parse_board(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calibration", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    solve_parser = commands.add_parser("solve", help="solve a camera's homography and write it into the YAML")
    check_parser = commands.add_parser("check", help="render check pictures of a calibration")
    for sub in (solve_parser, check_parser):
        sub.add_argument("store", type=Path, help="store config YAML")
        sub.add_argument("--camera", required=True, help="camera name in the store config")
    check_parser.add_argument("--frame", required=True, help="a frame of the camera: image or video file")
    check_parser.add_argument("--out", required=True, type=Path, help="directory for the PNGs")
    lens_parser = commands.add_parser("intrinsics", help="estimate lens distortion from chessboard photos")
    lens_parser.add_argument("images", nargs="+", help="chessboard photos from the camera")
    lens_parser.add_argument(
        "--board", required=True, type=_board, help="inner corners across x down, e.g. 9x6"
    )
    lens_parser.add_argument("--square-mm", required=True, type=float, help="side of one square in mm")
    lens_parser.add_argument("--store", type=Path, help="store config YAML to write the lens into")
    lens_parser.add_argument("--camera", help="camera name in --store")
    plan_parser = commands.add_parser("plan", help="a floor plan picture from the cameras' empty floor")
    plan_parser.add_argument("store", type=Path, help="store config YAML")
    plan_parser.add_argument("--out", required=True, type=Path, help="PNG to write")
    plan_parser.add_argument(
        "--frames", type=int, default=60, help="frames per camera in the median (default 60)"
    )
    plan_parser.add_argument(
        "--px-per-m", type=float, default=20.0, help="picture pixels a metre (default 20)"
    )
    serve_parser = commands.add_parser("serve", help="the calibration web page on localhost")
    serve_parser.add_argument("store", type=Path, help="store config YAML to edit")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, default=8321, help="port (default 8321)")
    serve_parser.add_argument(
        "--clips-dir",
        type=Path,
        action="append",
        default=[],
        help="a directory of recordings the audit may open (repeatable; the store YAML's directory "
        "and the assets directory always are)",
    )
    find_parser = commands.add_parser("discover", help="list the ONVIF cameras on the local network")
    find_parser.add_argument(
        "--timeout-s", type=float, default=3.0, help="time to wait for answers (default 3)"
    )
    find_parser.add_argument("--user", help="ONVIF user to ask the cameras for their stream addresses")
    find_parser.add_argument("--password-file", type=Path, help="file holding that user's password")
    args = parser.parse_args(argv)
    if args.command == "discover":
        return discover(args.timeout_s, args.user, args.password_file)
    if args.command == "intrinsics" and (args.store is None) != (args.camera is None):
        parser.error("intrinsics: --store and --camera go together")
    try:
        config = load_config(args.store) if args.store else None
        if args.command == "solve":
            return solve(config, args.camera)
        if args.command == "check":
            return check(config, args.camera, args.frame, args.out)
        if args.command == "serve":
            return serve(config, args.host, args.port, args.clips_dir)
        if args.command == "plan":
            return plan(config, args.out, args.frames, args.px_per_m)
        if config is not None:
            config.camera(args.camera)  # fail before the slow part if the camera is unknown
        return intrinsics(args.images, args.board, args.square_mm, config, args.camera)
    except (ConfigError, CalibrationError) as exc:
        print(f"error: {redact_url(str(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
