"""An on-site audit of one camera: a short recording of it, the crossings and people an installer
marked on it by hand, and the same recording replayed through the store's pipeline.

The replay is `python -m edge replay`'s: `recording_config` (the camera reading the clip once,
as fast as it can) and `CameraPipeline.run()`, with the store's config as it is, except that
buckets are 1 s long so that the people in a zone can be read at the instants the installer
counted them (the mean occupancy over the second the instant falls in). Line counts are summed
over the whole clip; the bucket length does not change them.

A clip must have the camera's resolution (its calibration's `image_size_px` when set, else its
source's frames): the calibration maps the camera's pixels to the floor, so a clip of another
size (another camera, or a scaled export) would be counted on the wrong floor positions. Its
time base is the camera's `fps` when the config sets one (a recording whose container lies
about its rate), else the container's, as in the replay.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import cv2
import numpy as np
from pydantic import BaseModel, Field

from edge.pipeline import CameraPipeline, recording_config
from footfall_core.audit import LineAccuracy, counted_crossings, line_accuracy, zone_audit
from footfall_core.contract import LinesAggregate, ZonesAggregate
from footfall_core.store import Audit, LineAudit, Name, StoreConfig

REPLAY_START = "2000-01-01T00:00:00Z"  # the clip's first frame in the replay: second k is bucket k
REPLAY_START_S = datetime.fromisoformat(REPLAY_START.replace("Z", "+00:00")).timestamp()
MAX_CLIP_S = 3600.0  # an audit clip is minutes long; an hour at most


class AuditError(ValueError):
    """A clip or marks that cannot be audited; the message names the file or the key."""


@dataclass(frozen=True)
class ClipInfo:
    path: Path
    frames: int
    fps: float
    width_px: int
    height_px: int

    @property
    def clip_s(self) -> float:
        return self.frames / self.fps


def open_clip(path: Path, config: StoreConfig, camera: str, camera_size_px: tuple[int, int]) -> ClipInfo:
    """Check that `path` is a video of `camera`'s resolution and count its frames."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise AuditError(f"{path}: cannot open it as a video")
        container_fps = capture.get(cv2.CAP_PROP_FPS)
        frames, size = 0, None
        while capture.grab():
            if size is None:
                ok, image = capture.retrieve()
                if not ok or image is None:
                    break
                size = (image.shape[1], image.shape[0])
            frames += 1
    finally:
        capture.release()
    if size is None or frames == 0:
        raise AuditError(f"{path}: no frame can be read from it")
    if size != camera_size_px:
        raise AuditError(
            f"{path}: the clip is {size[0]}x{size[1]} px, camera {camera} is "
            f"{camera_size_px[0]}x{camera_size_px[1]} px: record the audit clip from that camera at its "
            "own resolution"
        )
    fps = config.camera(camera).fps or (container_fps if 0 < container_fps < 1000 else None)
    if fps is None:
        raise AuditError(f"{path}: the clip has no frame rate; set cameras.{camera}.fps in the store config")
    if frames / fps > MAX_CLIP_S:
        raise AuditError(
            f"{path}: the clip is {frames / fps:.0f} s long; an audit takes at most {MAX_CLIP_S:g} s"
        )
    return ClipInfo(path, frames, fps, *size)


class ClipFrames:
    """The clip's frames by index for the page's player: read on, or read again from the start
    up to a frame behind (exact whatever the container's seeking)."""

    def __init__(self, info: ClipInfo):
        self.info = info
        self._lock = threading.Lock()
        self._capture: cv2.VideoCapture | None = None
        self._next = 0

    def frame(self, index: int) -> np.ndarray:
        if not 0 <= index < self.info.frames:
            raise AuditError(f"{self.info.path}: no frame {index} (it has {self.info.frames})")
        with self._lock:
            if self._capture is None or index < self._next:
                self.close()
                self._capture, self._next = cv2.VideoCapture(str(self.info.path)), 0
            while self._next < index:
                self._capture.grab()
                self._next += 1
            ok, image = self._capture.read()
            self._next += 1
        if not ok or image is None:
            raise AuditError(f"{self.info.path}: frame {index} cannot be read")
        return image

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class Crossing(BaseModel):
    line: Name
    direction: Literal["in", "out"]
    time_s: float = Field(ge=0, le=MAX_CLIP_S, description="When the person crossed, seconds into the clip.")


class ZoneCount(BaseModel):
    time_s: float = Field(ge=0, le=MAX_CLIP_S, description="The instant counted, seconds into the clip.")
    people: dict[Name, int] = Field(description="People standing in each zone counted then.")


class Marks(BaseModel):
    """What the installer marked on the clip."""

    crossings: list[Crossing] = Field(max_length=100_000)
    zone_counts: list[ZoneCount] = Field(max_length=10_000)


def check_marks(marks: Marks, config: StoreConfig, clip_s: float) -> None:
    """Marks must name the store's lines and zones and fall within the clip."""
    lines, zones = [x.name for x in config.lines], [z.name for z in config.zones]
    past = "s is past the clip's end"
    for k, crossing in enumerate(marks.crossings):
        if crossing.line not in lines:
            raise AuditError(f"crossings.{k}.line: no line named {crossing.line!r} (have {', '.join(lines)})")
        if crossing.time_s > clip_s:
            raise AuditError(f"crossings.{k}.time_s: {crossing.time_s:g} {past} ({clip_s:g} s)")
    for k, count in enumerate(marks.zone_counts):
        for zone, people in count.people.items():
            if zone not in zones:
                raise AuditError(f"zone_counts.{k}.people: no zone named {zone!r} (have {', '.join(zones)})")
            if not 0 <= people <= 10_000:
                raise AuditError(f"zone_counts.{k}.people.{zone}: {people} is not a number of people")
        if count.time_s > clip_s:
            raise AuditError(f"zone_counts.{k}.time_s: {count.time_s:g} {past} ({clip_s:g} s)")


def audit_config(config: StoreConfig, camera: str, clip: Path) -> StoreConfig:
    """The config the clip is replayed with: `python -m edge replay`'s, with 1 s buckets."""
    replay = recording_config(config, camera, str(clip), REPLAY_START)
    return replay.model_copy(update={"analysis": replay.analysis.model_copy(update={"bucket_s": 1})})


def replay_clip(config: StoreConfig, camera: str, clip: Path) -> list[LinesAggregate | ZonesAggregate]:
    """The clip through the camera's pipeline: its lines and zones aggregates, 1 s buckets."""
    pipeline = CameraPipeline(audit_config(config, camera, clip), camera)
    return [m for m in pipeline.run() if isinstance(m, (LinesAggregate, ZonesAggregate))]


def occupancy_at(messages: Sequence[object], zone: str, time_s: float) -> float:
    """The pipeline's people in `zone` at `time_s` into the clip: the mean over that second's
    bucket (0 when the pipeline analysed nothing then)."""
    second = int(np.floor(time_s))
    for message in messages:
        if (
            isinstance(message, ZonesAggregate)
            and message.bucket_start.timestamp() - REPLAY_START_S == second
        ):
            return next((z.mean_occupancy for z in message.zones if z.zone == zone), 0.0)
    return 0.0


@dataclass(frozen=True)
class AuditReport:
    audit: Audit  # the figures saved in the store config
    lines: dict[str, LineAccuracy]  # per line
    total: LineAccuracy  # every line together


def report(
    config: StoreConfig, camera: str, clip: ClipInfo, marks: Marks, messages: Sequence[object]
) -> AuditReport:
    """Marked against counted, per line and zone, for the audit dated today in the store's time zone."""
    counted = counted_crossings(messages)
    lines = []
    for line in config.lines:
        marked = [c.direction for c in marks.crossings if c.line == line.name]
        got_in, got_out = counted.get(line.name, (0, 0))
        lines.append(
            LineAudit(
                line=line.name,
                marked_in=marked.count("in"),
                marked_out=marked.count("out"),
                counted_in=got_in,
                counted_out=got_out,
            )
        )
    zones = []
    for zone in config.zones:
        instants = [(c.time_s, c.people[zone.name]) for c in marks.zone_counts if zone.name in c.people]
        if instants:
            pipeline = [occupancy_at(messages, zone.name, t) for t, _ in instants]
            zones.append(zone_audit(zone.name, [n for _, n in instants], pipeline))
    audit = Audit(
        date=datetime.now(ZoneInfo(config.store.timezone)).date(),
        camera=camera,
        clip_s=round(clip.clip_s, 3),
        lines=lines,
        zones=zones,
    )
    return AuditReport(audit, {x.line: line_accuracy([x]) for x in lines}, line_accuracy(lines))
