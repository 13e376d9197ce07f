"""The calibration web page: pair points on a camera snapshot with points on the floor plan,
draw zones and counting lines, and save them into the store YAML.

Served by `python -m calibration serve STORE.yaml` for the installer, on 127.0.0.1 by default.
The page shows camera pictures and rewrites the store YAML, so with a `token` (serve always sets
a fresh one and prints the URL that carries it) every request must prove it knows the token:
`?token=` once, which sets an HttpOnly cookie and redirects to the bare URL, then the cookie.
Every save is validated (geometry by `CameraGeometry`, the whole file by the store schema)
before the YAML is replaced, keeping its comments.

JSON API (floor points in metres, image points in pixels of the camera's frame):
- GET  /api/store: plan, cameras (frame size, point pairs, their errors), zones, lines.
- GET  /api/cameras/{name}/snapshot.jpg: the camera's first frame.
- GET  /api/cameras/{name}/check.jpg: the snapshot with the floor grid, zones and lines drawn.
- GET  /api/plan-image: the floor plan picture, when the config names one.
- PUT  /api/cameras/{name}/points {image_points_px, floor_points_m}: solve, and save the pairs,
  the homography and the snapshot's frame size (image_size_px) when every point fits within
  max_error_m; 422 naming the point otherwise.
- PUT  /api/layout {zones, lines}: replace the zones and lines.
- POST /api/cameras/{name}/line-doubt {lines}: how well the camera can count each line as drawn
  (edge/line_doubt.py): feet doubt across it (min, median, max m), margin, share it sees, the
  warning, and one line of text saying so. For a camera in a fusion group, the group's (its
  name, its size, how many of its cameras see the line: fewest, median, most), from the
  snapshots of its cameras that are calibrated and can be read.
- GET  /api/discover: the ONVIF cameras on the local network with their RTSP streams where they
  give them without a user (calibration/discover.py), to put into a camera's `source`.
- /api/audit/...: the on-site audit of a camera's counts on a recording (calibration/audit_web.py).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import cv2
import numpy as np
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from calibration.check import draw_on_frame
from calibration.frames import first_frame
from calibration.paths import confined
from calibration.store_yaml import write_calibration, write_sections
from edge.line_doubt import View, store_line_doubt
from footfall_core.assets import assets_dir
from footfall_core.geometry import CalibrationError, CameraGeometry
from footfall_core.http_errors import answer_refused_requests
from footfall_core.redact import redact_url
from footfall_core.secrets import camera_source
from footfall_core.store import ConfigError, Line, Point, StoreConfig, Zone, load_config

STATIC = Path(__file__).resolve().parent / "static"
TOKEN_COOKIE = "footfall_calibration"


class PointPairs(BaseModel):
    image_points_px: list[Point]
    floor_points_m: list[Point]


MAX_DRAWN = 1000  # zones or lines in one request: more than any floor holds, and a bound on the work


class Layout(BaseModel):
    zones: list[Zone] = Field(max_length=MAX_DRAWN)
    lines: list[Line] = Field(max_length=MAX_DRAWN)


class Lines(BaseModel):
    lines: list[Line] = Field(max_length=MAX_DRAWN)


def _metres(value: float) -> float | None:
    """Rounded to the centimetre; None (JSON null) for NaN, where the camera sees nothing."""
    return round(value, 2) if np.isfinite(value) else None


def _jpeg(image: np.ndarray) -> Response:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return Response(data.tobytes(), media_type="image/jpeg", headers={"Cache-Control": "no-store"})


def _same(given: str | None, token: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), token.encode())


class Workspace:
    """One store YAML, re-read on every request (it is edited), and its cameras' first frames,
    read once per source. `clip_dirs`: where recordings on the device may be opened from (the
    store YAML's directory, the assets directory, and those the installer adds)."""

    def __init__(self, store_path: Path, clip_dirs: Sequence[Path] = ()) -> None:
        self.store_path = store_path
        self.clip_dirs = [store_path.resolve().parent, assets_dir(), *clip_dirs]
        self._snapshots: dict[str, np.ndarray] = {}

    def config(self) -> StoreConfig:
        try:
            return load_config(self.store_path)
        except ConfigError as exc:
            raise HTTPException(500, redact_url(str(exc))) from None

    def snapshot(self, store: StoreConfig, camera: str) -> np.ndarray:
        try:
            entry = store.camera(camera)
        except ConfigError as exc:
            raise HTTPException(404, str(exc)) from None
        try:
            source = camera_source(store, entry)  # with its credentials: shown only through redact_url
        except ConfigError as exc:
            raise HTTPException(500, redact_url(str(exc))) from None
        if source not in self._snapshots:
            image = first_frame(source)
            if image is None:
                raise HTTPException(502, f"camera {camera}: cannot read a frame from {redact_url(source)}")
            self._snapshots[source] = image
        return self._snapshots[source]


def _workspace(request: Request) -> Workspace:
    workspace: Workspace = request.app.state.workspace
    return workspace


Space = Annotated[Workspace, Depends(_workspace)]
router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def page() -> str:
    return (STATIC / "calibrate.html").read_text()


@router.get("/static/calibrate.js")
def script() -> FileResponse:
    return FileResponse(STATIC / "calibrate.js", media_type="text/javascript")


@router.get("/api/store")
def store_view(space: Space) -> dict[str, Any]:
    store = space.config()
    cameras = []
    for camera in store.cameras:
        image = space.snapshot(store, camera.name)
        cal = camera.calibration
        entry: dict[str, Any] = {
            "name": camera.name,
            "frame_size_px": [image.shape[1], image.shape[0]],
            "image_points_px": cal.image_points_px,
            "floor_points_m": cal.floor_points_m,
            "max_error_m": cal.max_error_m,
            "errors_m": None,
            "problem": None,
        }
        try:
            entry["errors_m"] = CameraGeometry.from_config(camera).errors_m.round(4).tolist()
        except CalibrationError as exc:
            entry["problem"] = str(exc)
        cameras.append(entry)
    plan = store.floor_plan
    return {
        "store": store.store.id,
        "cameras": cameras,
        "floor_plan": {
            "origin_m": plan.origin_m,
            "width_m": plan.width_m,
            "height_m": plan.height_m,
            "has_image": plan.image is not None,
        },
        "zones": [zone.model_dump(exclude_none=True) for zone in store.zones],
        "lines": [line.model_dump() for line in store.lines],
    }


@router.get("/api/discover")
def discovered() -> dict[str, Any]:
    """Cameras answering WS-Discovery (waits about 3 s). No credentials are asked for here: the
    page is no place for camera passwords; a camera that wants a user shows the reason."""
    from calibration.discover import discover

    cameras = []
    for found in discover():
        entry = dataclasses.asdict(found)
        entry["device_url"] = redact_url(found.device_url)
        for stream in entry["streams"]:
            stream["rtsp_uri"] = redact_url(stream["rtsp_uri"])
        entry["error"] = redact_url(found.error) if found.error else None
        cameras.append(entry)
    return {"cameras": cameras}


@router.get("/api/cameras/{name}/snapshot.jpg")
def snapshot_jpeg(name: str, space: Space) -> Response:
    return _jpeg(space.snapshot(space.config(), name))


@router.get("/api/cameras/{name}/check.jpg")
def check_jpeg(name: str, space: Space) -> Response:
    store = space.config()
    image = space.snapshot(store, name)
    try:
        geometry = CameraGeometry.from_config(store.camera(name), (image.shape[1], image.shape[0]))
    except CalibrationError as exc:
        raise HTTPException(422, str(exc)) from None
    return _jpeg(draw_on_frame(image, geometry, store))


def _view(space: Workspace, store: StoreConfig, name: str) -> View:
    """The camera `name` with its calibration at its snapshot's size (the snapshot is read once
    per source). HTTPException where it cannot be had."""
    image = space.snapshot(store, name)
    size = (image.shape[1], image.shape[0])
    camera = store.camera(name)
    try:
        return View(camera, CameraGeometry.from_config(camera, size), size)
    except CalibrationError as exc:
        raise HTTPException(422, str(exc)) from None


@router.post("/api/cameras/{name}/line-doubt")
def line_doubts(name: str, drawn: Lines, space: Space) -> dict[str, Any]:
    store = space.config()
    views = {name: _view(space, store, name)}
    group = store.fusion_of(name)
    for other in group.cameras if group else []:
        try:
            views.setdefault(other, _view(space, store, other))
        except HTTPException:
            pass  # not calibrated yet, or no frame: it sees nothing of the group's lines for now
    doubts = [store_line_doubt(store, name, line, views) for line in drawn.lines]
    return {
        "lines": [
            {
                "name": doubt.line,
                "seen_share": round(doubt.seen_share, 3),
                "min_sigma_m": _metres(doubt.min_sigma_m),
                "median_sigma_m": _metres(doubt.median_sigma_m),
                "max_sigma_m": _metres(doubt.max_sigma_m),
                "margin_m": _metres(doubt.margin_m),
                "counts_worse": doubt.counts_worse,
                "group": doubt.group,
                "group_size": doubt.group_size,
                "cameras_seeing": dict(zip(("fewest", "median", "most"), doubt.cameras_range(), strict=True)),
                "text": doubt.text(),
            }
            for doubt in doubts
        ]
    }


PLAN_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}


def plan_image_path(store: StoreConfig, store_path: Path) -> Path:
    """The plan picture `floor_plan.image` names, only if it is a picture inside the store YAML's
    own directory (symbolic links followed): the page serves what the config names, and a config
    edited to name the session key or another store's file must not turn it into a file server.
    HTTPException 404 or 403 naming the key otherwise."""
    if store.floor_plan.image is None:
        raise HTTPException(404, f"{store_path}: floor_plan.image is not set")
    allowed = store_path.resolve().parent
    path = confined(store.resolve(store.floor_plan.image), [allowed])
    if path is None or path.suffix.lower() not in PLAN_TYPES:
        raise HTTPException(
            403,
            f"{store_path}: floor_plan.image: only a picture ({', '.join(PLAN_TYPES)}) in {allowed} is "
            "served",
        )
    if not path.is_file():
        raise HTTPException(404, f"{store_path}: floor_plan.image: no such file in {allowed}")
    return path


@router.get("/api/plan-image")
def plan_image(space: Space) -> FileResponse:
    path = plan_image_path(space.config(), space.store_path)
    return FileResponse(
        path,
        media_type=PLAN_TYPES[path.suffix.lower()],
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"},
    )


@router.put("/api/cameras/{name}/points")
def save_points(name: str, pairs: PointPairs, space: Space) -> dict[str, Any]:
    store = space.config()
    image = space.snapshot(store, name)
    cal = store.camera(name).calibration
    try:
        geometry = CameraGeometry.solve(
            name,
            pairs.image_points_px,
            pairs.floor_points_m,
            cal.max_error_m,
            cal.camera_matrix,
            cal.dist_coeffs,
            (image.shape[1], image.shape[0]),
        )
        write_calibration(
            space.store_path,
            name,
            {
                "image_points_px": np.round(pairs.image_points_px, 1),
                "floor_points_m": np.round(pairs.floor_points_m, 3),
                "homography": geometry.homography / geometry.homography[2, 2],
                # the frame size the points are pixels of: the edge scales or refuses other sizes
                "image_size_px": np.array([image.shape[1], image.shape[0]]),
            },
        )
    except (CalibrationError, ConfigError) as exc:
        raise HTTPException(422, str(exc)) from None
    return {
        "errors_m": geometry.errors_m.round(4).tolist(),
        "median_error_m": float(np.median(geometry.errors_m)),
    }


@router.put("/api/layout")
def save_layout(layout: Layout, space: Space) -> dict[str, int]:
    try:
        write_sections(
            space.store_path,
            {
                "zones": [zone.model_dump(exclude_none=True) for zone in layout.zones],
                "lines": [line.model_dump() for line in layout.lines],
            },
        )
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"zones": len(layout.zones), "lines": len(layout.lines)}


def _token_check(
    token: str,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """Middleware: `?token=` once sets the cookie (and leaves the address bar), then the cookie."""

    async def require_token(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if _same(request.query_params.get("token"), token):
            response = RedirectResponse(request.url.path, status_code=303)
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            return response
        if _same(request.cookies.get(TOKEN_COOKIE), token):
            return await call_next(request)
        return JSONResponse(
            {
                "detail": "calibration page: missing or wrong access token; open the URL "
                "that `python -m calibration serve` printed"
            },
            status_code=401,
        )

    return require_token


def create_app(store_path: Path | str, token: str | None = None, clip_dirs: Sequence[Path] = ()) -> FastAPI:
    """The page and its API over one store YAML; open to anyone who can reach it when `token`
    is None. Recordings on the device are opened for audit only from the store YAML's directory,
    the assets directory and `clip_dirs`."""
    from calibration.audit_web import AuditDesk
    from calibration.audit_web import router as audit_router  # it builds on this module's Workspace

    desk = AuditDesk()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        desk.close()  # an uploaded clip is never left behind

    app = FastAPI(
        title="Footfall calibration", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.workspace = Workspace(Path(store_path), clip_dirs)
    app.state.audit_desk = desk
    answer_refused_requests(app)
    if token is not None:
        app.middleware("http")(_token_check(token))
    app.include_router(router)
    app.include_router(audit_router)
    return app
