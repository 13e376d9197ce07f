"""The calibration page's audit API (calibration/audit.py does the work).

- POST /api/audit/clip {camera, path}: open a recording on this device as the audit clip;
  422 naming the file when it is not a readable video of the camera's resolution.
- PUT  /api/audit/clip?camera=&name=: the same for a recording uploaded as the request body; it
  is kept in a temporary directory only while it is the open clip.
- GET  /api/audit/frames/{index}.jpg: a frame of the open clip, for the page's player.
- POST /api/audit/run {camera, crossings, zone_counts}: replay the open clip through the store's
  pipeline, compare with the marks, append the figures to the store YAML's `audits` and return
  the report.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel

from calibration.audit import (
    AuditError,
    ClipFrames,
    ClipInfo,
    Marks,
    check_marks,
    open_clip,
    replay_clip,
    report,
)
from calibration.paths import confined
from calibration.store_yaml import write_sections
from calibration.web import STATIC, Space, _jpeg
from footfall_core.store import ConfigError, Name

MAX_UPLOAD_BYTES = 4 * 1024**3


class OpenClip(BaseModel):
    camera: Name
    path: str


class RunAudit(Marks):
    camera: Name


class AuditDesk:
    """The one clip open for audit in this page (an installer audits one camera at a time), and
    the temporary directory of an uploaded one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.camera: str | None = None
        self.frames: ClipFrames | None = None
        self.upload_dir: Path | None = None

    def replace(self, camera: str, info: ClipInfo, upload_dir: Path | None) -> None:
        with self.lock:
            self.close()
            self.camera, self.frames, self.upload_dir = camera, ClipFrames(info), upload_dir

    def close(self) -> None:
        if self.frames is not None:
            self.frames.close()
        if self.upload_dir is not None:
            shutil.rmtree(self.upload_dir, ignore_errors=True)
        self.camera = self.frames = self.upload_dir = None


def _desk(request: Request) -> AuditDesk:
    desk: AuditDesk = request.app.state.audit_desk
    return desk


Desk = Annotated[AuditDesk, Depends(_desk)]
router = APIRouter()


def _clip_view(camera: str, info: ClipInfo, name: str) -> dict[str, Any]:
    return {
        "camera": camera,
        "name": name,
        "frames": info.frames,
        "fps": info.fps,
        "clip_s": round(info.clip_s, 3),
        "frame_size_px": [info.width_px, info.height_px],
    }


def _open(space: Space, desk: AuditDesk, camera: str, path: Path, upload_dir: Path | None) -> ClipInfo:
    store = space.config()
    try:
        store.camera(camera)
    except ConfigError as exc:
        raise HTTPException(404, str(exc)) from None
    size = store.camera(camera).calibration.image_size_px  # the calibration's frames, else the camera's own
    if size is None:
        image = space.snapshot(store, camera)
        size = (image.shape[1], image.shape[0])
    try:
        info = open_clip(path, store, camera, size)
    except AuditError as exc:
        message = str(exc) if upload_dir is None else str(exc).replace(f"{upload_dir}/", "")
        raise HTTPException(422, message) from None
    desk.replace(camera, info, upload_dir)
    return info


@router.get("/static/audit.js")
def script() -> FileResponse:
    return FileResponse(STATIC / "audit.js", media_type="text/javascript")


@router.post("/api/audit/clip")
def open_local_clip(body: OpenClip, space: Space, desk: Desk) -> dict[str, Any]:
    path = Path(body.path).expanduser()
    if not path.is_absolute():
        raise HTTPException(422, f"{body.path}: give the clip's full path on this device")
    inside = confined(path, space.clip_dirs)
    if inside is None:  # before looking at it: whether a file exists elsewhere is not told either
        raise HTTPException(
            403,
            f"{path}: clips are opened only from {', '.join(map(str, space.clip_dirs))} "
            "(add a directory with `calibration serve --clips-dir DIR`)",
        )
    path = inside
    if not path.is_file():
        raise HTTPException(422, f"{path}: no such file")
    return _clip_view(body.camera, _open(space, desk, body.camera, path, None), str(path))


@router.put("/api/audit/clip")
async def upload_clip(request: Request, camera: Name, name: str, space: Space, desk: Desk) -> dict[str, Any]:
    upload_dir = Path(tempfile.mkdtemp(prefix="footfall-audit-"))
    path = upload_dir / (Path(name).name or "clip")
    size = 0
    try:
        with path.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise HTTPException(413, f"{path.name}: larger than {MAX_UPLOAD_BYTES // 1024**3} GiB")
                out.write(chunk)
        info = _open(space, desk, camera, path, upload_dir)
    except BaseException:
        shutil.rmtree(upload_dir, ignore_errors=True)
        raise
    return _clip_view(camera, info, path.name)


@router.get("/api/audit/frames/{index}.jpg")
def clip_frame(index: int, desk: Desk) -> Response:
    frames = desk.frames
    if frames is None:
        raise HTTPException(404, "no audit clip is open")
    try:
        return _jpeg(frames.frame(index))
    except AuditError as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/api/audit/run")
def run_audit(body: RunAudit, space: Space, desk: Desk) -> dict[str, Any]:
    frames = desk.frames
    if frames is None or desk.camera != body.camera:
        raise HTTPException(409, f"camera {body.camera}: open its audit clip first")
    store = space.config()
    info = frames.info
    try:
        check_marks(body, store, info.clip_s)
    except AuditError as exc:
        raise HTTPException(422, str(exc)) from None
    result = report(store, body.camera, info, body, replay_clip(store, body.camera, info.path))
    try:
        write_sections(
            space.store_path,
            {"audits": [a.model_dump() for a in store.audits] + [result.audit.model_dump()]},
        )
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    return {
        "camera": body.camera,
        "date": result.audit.date.isoformat(),
        "clip_s": result.audit.clip_s,
        # Unrounded: the page rounds once, to what it shows (rounding twice can move a digit).
        "lines": [{**x.model_dump(), **asdict(result.lines[x.line])} for x in result.audit.lines],
        "total": asdict(result.total),
        "zones": [z.model_dump() for z in result.audit.zones],
    }
