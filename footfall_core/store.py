"""The store configuration: one validated YAML file per store.

Every field has its default and unit in its description; `load_config` names the file and the
key of anything wrong. Geometry is in floor metres (`*_m`) or image pixels (`*_px`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from footfall_core.alerting import Alerts, check_targets
from footfall_core.assets import expand

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower-case letters, digits, _ and -")]
Point = tuple[float, float]


def polygon_area(points: list[Point]) -> float:
    """Area of a simple polygon (shoelace), in the square of the points' unit."""
    return 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1])))


class ConfigError(ValueError):
    """A store config that cannot be used; the message names the file and the key."""


class Strict(BaseModel):
    """Every section of a store file: unknown keys are refused, and so are infinite and NaN numbers
    (YAML's `.inf`, JSON's `Infinity`), which no position, time or threshold can be."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StoreInfo(Strict):
    id: Name = Field(description="Store id, used in MQTT topics and the dashboard.")
    name: str = Field("", description="Display name; defaults to the id.")
    timezone: str = Field("UTC", description="IANA time zone for hour-of-day and weekday charts.")
    region: str = Field("", description="Region, for filtering in the HQ comparison.")
    tags: list[str] = Field(default_factory=list, description="Free tags for filtering.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (expected an IANA name like Europe/Paris)"
            ) from None
        return value


class FloorPlan(Strict):
    image: str | None = Field(None, description="Plan image, relative to the config file. Optional.")
    origin_m: Point = Field((0.0, 0.0), description="Floor coordinates (m) of the plan's top-left corner.")
    width_m: float = Field(gt=0, le=2000, description="Plan width in metres (x).")
    height_m: float = Field(gt=0, le=2000, description="Plan height in metres (y, downwards).")


# The levers' thresholds, one type each: a camera may override them (Camera, StoreConfig.analysis_for)
# within the same bounds as the store.
PixelDelta = Annotated[int, Field(ge=1, le=255)]
Share = Annotated[float, Field(gt=0, lt=1)]
Period = Annotated[float, Field(gt=0)]
Wait = Annotated[float, Field(ge=0)]
Rate = Annotated[float, Field(gt=0, le=60)]
LEVERS = (
    "motion_gating",
    "motion_pixel_delta",
    "motion_min_changed",
    "motion_recheck_s",
    "motion_crop",
    "adaptive_rate",
    "empty_after_s",
    "empty_fps",
)


class Analysis(Strict):
    fps: float = Field(5.0, gt=0, le=60, description="Frames analysed per second (default 5).")
    bucket_s: int = Field(60, ge=1, le=3600, description="Aggregate bucket length in seconds (default 60).")
    cell_m: float = Field(0.5, gt=0.05, le=10, description="Heat grid cell size in metres (default 0.5).")
    flow_cell_m: float = Field(
        1.0, gt=0.1, le=20, description="Walking-direction grid cell in metres (default 1)."
    )
    min_step_m: float = Field(
        0.15,
        ge=0,
        le=5,
        description="Least move between analysed frames counted as walking (default 0.15 m).",
    )
    min_dwell_s: float = Field(
        10.0, ge=0, description="Shorter stays in a zone are passing through, not dwell (default 10 s)."
    )
    zone_exit_grace_s: float = Field(
        1.0, ge=0, description="Time outside a zone before a stay ends (default 1 s)."
    )
    line_hysteresis_m: float = Field(
        0.3, ge=0, le=5, description="Distance past a line before a crossing counts (default 0.3 m)."
    )
    line_hysteresis_sigmas: float = Field(
        1.0,
        ge=0,
        le=5,
        description="More distance past a line, in sigmas of the person's position across it (how far off "
        "the calibration says a far person's feet may be), before a crossing counts (default 1).",
    )
    line_smoothing_s: float = Field(
        2.0,
        ge=0,
        le=5,
        description="Counting lines take each person's position smoothed over at least this many seconds "
        "of what followed it, and count its crossings that much (up to twice that) late, in the bucket "
        "open then (edge.analytics.smoother; default 2 s; 0 counts on the floor filter's positions "
        "at once).",
    )
    tracker: Literal["cbiou", "bytetrack"] = Field(
        "cbiou",
        description="The image tracker: C-BIoU (default; fewer swapped and broken tracks where people pass "
        "each other, bench/line_accuracy.py) or ByteTrack (cheaper on crowded scenes, about 3 points "
        "of line accuracy less).",
    )
    walk_accel_m_s2: float = Field(
        1.0,
        gt=0,
        le=20,
        description="How sharply people change pace and direction, for the floor filter that smooths "
        "their positions (edge.floor_tracks; default 1 m/s²).",
    )
    track_timeout_s: float = Field(3.0, gt=0, description="A track unseen this long is closed (default 3 s).")
    hidden_hold_s: float = Field(
        0.7,
        ge=0,
        le=1.5,
        description="A person the tracker followed and lost while someone found in front covers most of "
        "where they should be still counts in occupancy and heat for up to this long (edge.hidden; "
        "default 0.7 s, the time one walker takes to pass another: two body widths of 0.5 m at "
        "1.5 m/s; at most 1.5 s, the longest the tracker keeps a lost person; 0 turns it off).",
    )
    max_dt_s: float = Field(2.0, gt=0, description="Most time one analysed frame stands for (default 2 s).")
    live_interval_s: float = Field(
        2.0, gt=0, le=60, description="Live occupancy message period (default 2 s)."
    )
    live_cell_m: float = Field(1.0, gt=0.1, le=20, description="Cell size of the live grid (default 1 m).")
    queue_window_s: float = Field(
        300.0,
        ge=10,
        le=3600,
        description="People leaving a queue zone are counted over this many seconds for its live leaving "
        "rate, from which its wait is estimated (default 300 s).",
    )
    burst_s: float = Field(
        1.0,
        ge=0,
        le=1,
        description=(
            "A live camera's frames are analysed in bursts of this many seconds, back to back, which costs "
            "less CPU than one at a time; 0 analyses each as it comes (default 1 s)."
        ),
    )
    # Levers that skip the detector (edge.gating), see docs/performance.md: motion gating on by
    # default (as Frigate detects only where it saw motion), the adaptive rate off.
    motion_gating: bool = Field(
        True,
        description=(
            "Run the detector only when and where the picture changed since its last run there (a crop of "
            "the changed part, or the tiles that changed); the rest re-uses its people, re-checked every "
            "motion_recheck_s; false: every analysed frame, whole (default on)."
        ),
    )
    motion_pixel_delta: PixelDelta = Field(
        20, description="Grey-level change (0-255) that marks a pixel as changed (default 20)."
    )
    motion_min_changed: Share = Field(
        0.001, description="Least share of changed pixels that counts as motion (default 0.001)."
    )
    motion_recheck_s: Period = Field(
        5.0, description="Longest re-use of the last people on a still picture, s (default 5)."
    )
    motion_crop: bool = Field(
        True,
        description=(
            "With motion_gating, run each pass over the whole frame (untiled, or a tiling's whole-frame "
            "pass) only on the part that changed (at the frame's scale) and re-use its people outside it; "
            "a tile that changed runs whole; false: the whole frame whenever anything changed (default on; "
            "needs detector.letterbox 'tight')."
        ),
    )
    adaptive_rate: bool = Field(
        False, description="Run the detector less often while nobody is seen (default off)."
    )
    empty_after_s: Wait = Field(
        2.0, description="Time with nobody seen before the empty rate applies, s (default 2)."
    )
    empty_fps: Rate = Field(1.0, description="Detector runs per second while the scene is empty (default 1).")


class Tiling(Strict):
    cols: int = Field(2, ge=1, le=8, description="Tiles across (default 2).")
    rows: int = Field(2, ge=1, le=8, description="Tiles down (default 2).")
    overlap: float = Field(
        0.2, ge=0, lt=1, description="Overlap of neighbouring tiles, fraction of a tile (default 0.2)."
    )
    full_frame: bool = Field(
        False,
        description=(
            "Also run one pass on the whole frame for large people (default off; always on with "
            "small_below_input_px)."
        ),
    )
    small_below_input_px: float | None = Field(
        None,
        gt=0,
        le=4096,
        description="Tile only the image rows where a standing person (person_height_m) would be shorter "
        "than this in one whole-frame pass, in model input px (the camera's calibration gives the height "
        "by row); one whole-frame pass covers the larger people. Default: none, tiles over the whole frame.",
    )
    person_height_m: float = Field(
        1.7, gt=0.5, le=2.5, description="Standing height for small_below_input_px (default 1.7 m)."
    )
    tiles_every: int = Field(
        1,
        ge=1,
        le=10,
        description="Run the tiles on every n-th analysed frame only and re-use their people on the frames "
        "between (a far person who left is still counted for up to n-1 frames); the whole-frame pass, if "
        "any, runs on every one. Far-away people cross few pixels a second, so the tiles that find them can "
        "look less often (default 1: every analysed frame).",
    )

    @model_validator(mode="after")
    def _tiles_every_needs_the_whole_frame(self) -> Tiling:
        if self.tiles_every > 1 and not (self.full_frame or self.small_below_input_px is not None):
            raise ValueError(
                f"tiles_every {self.tiles_every} needs a whole-frame pass (full_frame or "
                "small_below_input_px) to find the people on the frames the tiles skip"
            )
        return self


class Detector(Strict):
    model: str = Field(
        "yolox_nano.onnx", description="Model file name from the registry (models/registry.py)."
    )
    models_dir: str | None = Field(None, description="Where weights are; default ${FOOTFALL_ASSETS}/models.")
    score_threshold: float = Field(0.3, gt=0, lt=1, description="Least person score kept (default 0.3).")
    track_score_threshold: float | None = Field(
        None,
        gt=0,
        lt=1,
        description=(
            "Least score of a box under score_threshold that may continue a person the tracker already "
            "follows (ByteTrack's low stage): it starts no track and, joining none, counts for nothing "
            "(default off: on PETS09 and TUD-Campus it did not help both models, docs/accuracy.md)."
        ),
    )
    nms_iou: float = Field(
        0.45, gt=0, lt=1, description="IoU above which overlapping boxes merge (default 0.45)."
    )
    threads: int = Field(
        1,
        ge=1,
        le=64,
        description=(
            "CPU threads of a camera's picture work: onnxruntime's intra-op threads and OpenCV's (default 1)."
        ),
    )
    letterbox: Literal["tight", "square"] = Field(
        "tight",
        description="Model input around the scaled frame: 'tight' pads it only to a multiple of "
        "32 px (a 4:3 frame runs 416x320, not 416x416: about a quarter less work, same scale), 'square' "
        "to the model's own square (default tight; a model that cannot take another shape runs square).",
    )

    @model_validator(mode="after")
    def _track_score_under_score(self) -> Detector:
        """A track score at or above the person score would pass on no box: refused, not ignored."""
        if self.track_score_threshold is not None and self.track_score_threshold >= self.score_threshold:
            raise ValueError(
                f"track_score_threshold {self.track_score_threshold} must be under score_threshold "
                f"{self.score_threshold} (boxes between the two only continue a track)"
            )
        return self


class Calibration(Strict):
    image_points_px: list[Point] = Field(description="Points on the camera image (px), at least 4.")
    floor_points_m: list[Point] = Field(description="The same points on the floor plan (m).")
    max_error_m: float = Field(0.3, gt=0, description="Largest accepted reprojection error (default 0.3 m).")
    camera_matrix: list[list[float]] | None = Field(
        None, description="OpenCV 3x3 intrinsics, for lens distortion."
    )
    dist_coeffs: list[float] | None = Field(
        None, description="OpenCV distortion coefficients (k1 k2 p1 p2 [k3...])."
    )
    homography: list[list[float]] | None = Field(
        None, description="Image→floor 3x3, written by `calibration solve`."
    )
    image_size_px: tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]] | None = Field(
        None,
        description=(
            "[width, height] of the frames the image points were taken on (default: the first frame's). "
            "Frames of another size at the same aspect ratio are scaled to it; at another aspect the "
            "camera is in error and counts nothing."
        ),
    )

    @model_validator(mode="after")
    def _pairs(self) -> Calibration:
        if len(self.image_points_px) != len(self.floor_points_m):
            raise ValueError(
                f"image_points_px has {len(self.image_points_px)} points, floor_points_m "
                f"{len(self.floor_points_m)}: they must pair up"
            )
        if len(self.image_points_px) < 4:
            raise ValueError(f"need at least 4 point pairs, got {len(self.image_points_px)}")
        if (self.camera_matrix is None) != (self.dist_coeffs is None):
            raise ValueError("camera_matrix and dist_coeffs go together")
        return self


class Camera(Strict):
    name: Name = Field(description="Camera id, unique in the store.")
    source: str = Field(
        description="Video file, rtsp:// or http(s):// URL, USB device index ('0'), or an image "
        "pattern such as frames/seq_%06d.jpg. ${FOOTFALL_ASSETS} is expanded; relative paths "
        "are from the config file."
    )
    fps: float | None = Field(
        None,
        gt=0,
        le=120,
        description=(
            "Source frame rate for recordings and image patterns (default: the container's; required for "
            "patterns)."
        ),
    )
    credentials: Name | None = Field(
        None,
        description="Entry of the camera secrets file (secrets_file) whose username and password the "
        "source URL is opened with, so that no password is written in this file (default: none).",
    )
    start_index: int = Field(1, ge=0, description="First number of an image pattern (default 1).")
    rtsp_transport: Literal["tcp", "udp"] = Field(
        "tcp",
        description=(
            "How an rtsp:// camera sends its RTP packets: 'tcp' inside the RTSP connection (default: "
            "passes NAT and firewalls, no packet loss), or 'udp' on separate ports (less delay, but a "
            "lost packet damages a frame)."
        ),
    )
    read_timeout_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description=(
            "A live source that opens or delivers nothing for this long is closed and reopened with "
            "backoff, even when its connection stays open (default 10 s)."
        ),
    )
    loop: bool = Field(False, description="Play a recording again when it ends (default off).")
    realtime: bool = Field(
        False, description="Pace a recording at its frame rate, wall-clock timestamps (default off)."
    )
    start_time: str | None = Field(
        None, description="ISO time of a recording's first frame (default: when the run starts)."
    )
    detector: Detector | None = Field(
        None, description="Per-camera detector override (default: the store's)."
    )
    tiling: Tiling | None = Field(
        None, description="Tiled inference for small or distant people (default off)."
    )
    calibration: Calibration
    image_mask_px: list[Point] | None = Field(
        None, description="Image polygon outside which detections are ignored (default: whole frame)."
    )
    motion_gating: bool | None = Field(
        None,
        description=(
            "This camera's analysis.motion_gating, e.g. off for one facing a video wall (default: the "
            "store's)."
        ),
    )
    adaptive_rate: bool | None = Field(
        None, description="This camera's analysis.adaptive_rate (default: the store's)."
    )
    motion_pixel_delta: PixelDelta | None = Field(
        None, description="This camera's analysis.motion_pixel_delta (default: the store's)."
    )
    motion_min_changed: Share | None = Field(
        None,
        description=(
            "This camera's analysis.motion_min_changed, e.g. higher for one with a flickering light "
            "(default: the store's)."
        ),
    )
    motion_recheck_s: Period | None = Field(
        None, description="This camera's analysis.motion_recheck_s (default: the store's)."
    )
    motion_crop: bool | None = Field(
        None, description="This camera's analysis.motion_crop (default: the store's)."
    )
    empty_after_s: Wait | None = Field(
        None, description="This camera's analysis.empty_after_s (default: the store's)."
    )
    empty_fps: Rate | None = Field(
        None,
        description="This camera's analysis.empty_fps, e.g. higher at an entrance (default: the store's).",
    )

    @model_validator(mode="after")
    def _credentials_need_a_url(self) -> Camera:
        if self.credentials is None:
            return self
        if not re.match(r"^[a-z][a-z0-9+.-]*://", self.source):
            raise ValueError(f"credentials: source {self.source!r} is not a URL (rtsp://, http://)")
        if "@" in self.source.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError("credentials: the source URL carries a user already; remove it from the URL")
        return self


class Zone(Strict):
    name: Name
    polygon_m: list[Point] = Field(description="Floor polygon (m), at least 3 points.")
    capacity: int | None = Field(
        None, ge=1, description="Occupancy above which the zone shows as crowded (default: none)."
    )
    kind: Literal["area", "queue"] = Field(
        "area",
        description="'queue' for a checkout or service queue: its live length and estimated wait (length "
        "÷ the recent rate of people leaving it) are shown, and its stays are waits (default 'area').",
    )

    @field_validator("polygon_m")
    @classmethod
    def _polygon(cls, value: list[Point]) -> list[Point]:
        if len(value) < 3:
            raise ValueError(f"a polygon needs at least 3 points, got {len(value)}")
        if polygon_area(value) <= 1e-6:
            raise ValueError("polygon has no area (points are collinear or repeated)")
        return value

    @property
    def area_m2(self) -> float:
        return polygon_area(self.polygon_m)


class Line(Strict):
    name: Name
    start_m: Point
    end_m: Point = Field(
        description=(
            "Walking from the right of start→end to its left counts as 'in' (floor y down: that is, seen "
            "on the plan, counter-clockwise)."
        )
    )

    @model_validator(mode="after")
    def _length(self) -> Line:
        if math.dist(self.start_m, self.end_m) < 0.1:
            raise ValueError("line is shorter than 0.1 m")
        return self


class Tls(Strict):
    ca_file: str | None = Field(None, description="CA bundle that signed the broker's certificate.")
    cert_file: str | None = Field(None, description="Client certificate (optional).")
    key_file: str | None = Field(None, description="Client key (optional).")
    insecure: bool = Field(False, description="Skip hostname checks (testing only).")


class Mqtt(Strict):
    url: str = Field(
        "mqtt://127.0.0.1:1883",
        description="Broker URL, mqtt:// or mqtts://; the nodes of a clustered broker comma-separated, "
        "tried in turn when a connection is lost.",
    )
    protocol: Literal["5", "3.1.1"] = Field(
        "5", description="MQTT version: 5 (default), or 3.1.1 for a broker that speaks only that."
    )

    @field_validator("protocol", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

    username: str | None = Field(None, description="Store's broker user (default: none).")
    password_file: str | None = Field(
        None,
        description="File holding the password (default: none); under systemd the credential "
        "mqtt-password takes its place (footfall_core/secrets.py).",
    )
    tls: Tls | None = None
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive (default 30 s).")
    outbox_path: str = Field(
        "outbox.sqlite3", description="Durable outbox file, relative to the state directory."
    )
    outbox_max_messages: int = Field(
        200_000, ge=10, description="Outbox bound; the oldest are dropped past it (default 200000)."
    )
    outbox_max_age_s: float = Field(
        14 * 86400, gt=0, description="Oldest age kept in the outbox (default 14 days)."
    )
    health_interval_s: float = Field(30.0, gt=0, description="Device health message period (default 30 s).")
    confirm_window: int = Field(
        1000,
        ge=1,
        le=100_000,
        description=(
            "Most aggregates sent and not yet confirmed by the centre; the rest wait on disk, so a "
            "centre outage does not pour the whole backlog into the broker (default 1000)."
        ),
    )
    confirm_timeout_s: float = Field(
        60.0,
        gt=0,
        description=(
            "An aggregate the centre has not confirmed this long after the broker acknowledged it is "
            "sent again (default 60 s); doubled after every round that timed out."
        ),
    )
    confirm_timeout_max_s: float = Field(
        3600.0, gt=0, description="Upper bound of that doubling timeout (default 3600 s)."
    )


class Fusion(Strict):
    """Cameras whose views overlap, counted together: each person they see is one person on the
    floor, however many of them see it (edge.fusion; docs/calibration.md)."""

    name: Name = Field(
        description="Name the fused aggregates and live snapshots carry as their `camera` (not a camera's)."
    )
    cameras: list[Name] = Field(min_length=2, description="The overlapping cameras, at least 2.")
    feet_sigma: float = Field(
        0.08,
        gt=0,
        le=1,
        description="How far a detector's box edges wander, as a share of the box's width (x) and height "
        "(y) (default 0.08); too small counts one person twice where views overlap, too large merges "
        "neighbours.",
    )
    floor_sigma_m: float = Field(
        0.15,
        gt=0,
        le=2,
        description="Doubt about a person's floor position in every direction, for the size of a person "
        "and the calibration's error (default 0.15 m).",
    )
    gate: float = Field(
        13.8,
        gt=0,
        le=100,
        description="Largest Mahalanobis distance² at which two cameras' people can be one person: a "
        "chi-square quantile with 2 degrees of freedom (default 13.8, 99.9 %).",
    )
    max_lag_s: float = Field(
        3.0,
        gt=0,
        le=60,
        description="How long the fusion waits for a late camera before it goes on without it (default 3 s).",
    )


MAX_AUDIT_CROSSINGS = 100_000  # crossings of one line one way in one audit clip: far beyond an hour's


class LineAudit(Strict):
    """One counting line in an on-site audit: the crossings the installer marked on the clip and
    the ones the pipeline counted replaying it, each way."""

    line: Name
    marked_in: int = Field(ge=0, le=MAX_AUDIT_CROSSINGS, description="Crossings 'in' marked by hand.")
    marked_out: int = Field(ge=0, le=MAX_AUDIT_CROSSINGS, description="Crossings 'out' marked by hand.")
    counted_in: int = Field(ge=0, le=MAX_AUDIT_CROSSINGS, description="Crossings 'in' the pipeline counted.")
    counted_out: int = Field(
        ge=0, le=MAX_AUDIT_CROSSINGS, description="Crossings 'out' the pipeline counted."
    )


class ZoneAudit(Strict):
    """One zone in an on-site audit: at `moments` instants of the clip the installer counted the
    people standing in it; the pipeline's occupancy at the same instants is compared."""

    zone: Name
    moments: int = Field(ge=1, le=10_000, description="Instants at which the zone's people were counted.")
    marked_mean_people: float = Field(ge=0, le=10_000, description="Mean of the people counted by hand.")
    mean_abs_error_people: float = Field(
        ge=0, le=10_000, description="Mean |pipeline − marked| over the instants, people."
    )
    bias_people: float = Field(
        ge=-10_000, le=10_000, description="Mean (pipeline − marked) over the instants, people."
    )


class Audit(Strict):
    """The figures of one on-site audit of a camera (calibration page, docs/calibration.md): a
    short recording replayed through the store's pipeline against crossings and people marked by
    hand. Only figures: the clip itself is never kept."""

    date: dt.date = Field(description="Day of the audit (YYYY-MM-DD).")
    camera: Name = Field(description="The camera whose recording was audited.")
    clip_s: float = Field(gt=0, le=86_400, description="Length of the audited clip, seconds.")
    lines: list[LineAudit] = Field(default_factory=list, description="Per counting line, marked and counted.")
    zones: list[ZoneAudit] = Field(default_factory=list, description="Per zone, the occupancy error.")

    @model_validator(mode="after")
    def _each_once(self) -> Audit:
        named = (("lines", [x.line for x in self.lines]), ("zones", [x.zone for x in self.zones]))
        for section, names in named:
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{section}: {', '.join(dupes)} listed twice")
        return self


class StoreConfig(Strict):
    store: StoreInfo
    floor_plan: FloorPlan
    analysis: Analysis = Field(default_factory=Analysis)
    detector: Detector = Field(default_factory=Detector)
    cameras: list[Camera] = Field(min_length=1)
    zones: list[Zone] = Field(default_factory=list)
    lines: list[Line] = Field(default_factory=list)
    fusion: list[Fusion] = Field(
        default_factory=list,
        description="Groups of overlapping cameras whose views are fused (default none: each floor cell is "
        "counted by the one camera that sees it best).",
    )
    mqtt: Mqtt = Field(default_factory=Mqtt)
    secrets_file: str | None = Field(
        None,
        description="YAML file of camera credentials (footfall_core/secrets.py), relative to this file; "
        "mode 0600. Under systemd the credential camera-secrets takes its place (default: none).",
    )
    alerts: Alerts = Field(
        default_factory=Alerts,
        description="Alert rules and webhooks, evaluated at the centre (default none).",
    )
    audits: list[Audit] = Field(
        default_factory=list,
        description="On-site audits of the cameras' counts, oldest first, written by the calibration page "
        "(default none).",
    )
    path: Path | None = Field(
        None, exclude=True, description="Where this config was read from (set by load_config)."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> StoreConfig:
        for section in ("cameras", "zones", "lines"):
            names = [item.name for item in getattr(self, section)]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{section}: duplicate name(s) {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _fusion_groups(self) -> StoreConfig:
        cameras = [c.name for c in self.cameras]
        grouped: dict[str, str] = {}
        for index, group in enumerate(self.fusion):
            where = f"fusion.{index}"
            if group.name in cameras:
                raise ValueError(f"{where}.name: {group.name!r} is a camera's name; give the group its own")
            if [g.name for g in self.fusion].count(group.name) > 1:
                raise ValueError(f"{where}.name: duplicate group name {group.name!r}")
            for camera in group.cameras:
                if camera not in cameras:
                    raise ValueError(
                        f"{where}.cameras: no camera named {camera!r} (have {', '.join(cameras)})"
                    )
                if camera in grouped:
                    raise ValueError(
                        f"{where}.cameras: camera {camera!r} is already in group {grouped[camera]!r}"
                    )
                grouped[camera] = group.name
        return self

    @model_validator(mode="after")
    def _alert_targets(self) -> StoreConfig:
        zones = {z.name: (z.kind, z.capacity) for z in self.zones}
        problems = check_targets(self.alerts, zones, {c.name for c in self.cameras})
        if problems:
            raise ValueError("; ".join(f"{key}: {problem}" for key, problem in problems))
        return self

    @model_validator(mode="after")
    def _audited_cameras(self) -> StoreConfig:
        cameras = [c.name for c in self.cameras]
        for index, audit in enumerate(self.audits):
            if audit.camera not in cameras:
                raise ValueError(
                    f"audits.{index}.camera: no camera named {audit.camera!r} (have {', '.join(cameras)})"
                )
        return self

    def last_audits(self) -> list[Audit]:
        """Each camera's latest audit (the last listed of its latest day), in camera order."""
        latest: dict[str, Audit] = {}
        for audit in self.audits:
            if audit.camera not in latest or audit.date >= latest[audit.camera].date:
                latest[audit.camera] = audit
        return [latest[c.name] for c in self.cameras if c.name in latest]

    def fusion_of(self, camera: str) -> Fusion | None:
        """The fusion group `camera` belongs to, if any."""
        return next((group for group in self.fusion if camera in group.cameras), None)

    def camera(self, name: str) -> Camera:
        for camera in self.cameras:
            if camera.name == name:
                return camera
        raise ConfigError(
            f"{self.path or 'config'}: cameras: no camera named {name!r} "
            f"(have {', '.join(c.name for c in self.cameras)})"
        )

    def detector_for(self, camera: Camera) -> Detector:
        return camera.detector or self.detector

    def analysis_for(self, camera: Camera) -> Analysis:
        """The store's analysis settings with the camera's own lever settings applied."""
        own = {k: v for k in LEVERS if (v := getattr(camera, k)) is not None}
        return self.analysis.model_copy(update=own) if own else self.analysis

    def resolve(self, text: str) -> str:
        """A path from the config, with ${FOOTFALL_ASSETS} expanded, relative to the config file."""
        text = expand(text)
        if re.match(r"^[a-z]+://", text) or text.isdigit():
            return text
        path = Path(text)
        if not path.is_absolute() and self.path is not None:
            path = self.path.parent / path
        return str(path)


def _key(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def parse_config(data: object, path: Path | str | None = None) -> StoreConfig:
    where = str(path) if path else "config"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        config = StoreConfig.model_validate(data)
    except ValidationError as exc:
        # A check across sections (duplicate names, alert targets) names its keys in its message.
        lines = [
            f"{where}: {_key(err['loc']) + ': ' if err['loc'] else ''}"
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
        raise ConfigError("\n".join(lines)) from None
    return config.model_copy(update={"path": Path(path).resolve() if path else None})


def load_config(path: Path | str) -> StoreConfig:
    """Read and validate a store YAML; every error names the file and the key."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(data, path)
