"""What the dashboard reads back: one pydantic model per answer of `dashboard.repository`.

The JSON API declares them as its response models (so the OpenAPI document at /docs describes
every response) and the pages read the same objects by attribute. Times are naive UTC unless a
name says local; `local_date`s and weeks are the store's own. Units are in the names.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class ReadModel(BaseModel):
    """Frozen; a field the model does not declare is an error, so that a column added to a
    table is added here too, and to the API's description."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- the registry ---------------------------------------------------------------------------


class Zone(ReadModel):
    name: str
    polygon_m: list[list[float]] | None = Field(description="[[x, y], ...] floor metres; null when learned")
    area_m2: float | None
    capacity: int | None
    kind: str = Field("area", description="area, or queue (live length and estimated wait)")


class Line(ReadModel):
    name: str
    start_m: list[float] | None
    end_m: list[float] | None


class Camera(ReadModel):
    name: str
    status: str = Field(description="online, offline or unknown, from the camera's status messages")
    status_at: datetime | None
    last_seen: datetime | None = Field(description="End of the latest aggregate bucket received (UTC)")


class PlanImage(ReadModel):
    """An uploaded floor plan image (content-addressed) and where it lies on the floor."""

    sha256: str = Field(description="Content address of the image file")
    media_type: str = Field(description="image/png, image/jpeg or image/svg+xml")
    width_px: int
    height_px: int
    origin_m: list[float] = Field(description="[x, y] floor metres of the image's top-left corner")
    m_per_px: float = Field(description="Floor metres per image pixel, on both axes")

    @property
    def size_m(self) -> tuple[float, float]:
        return self.width_px * self.m_per_px, self.height_px * self.m_per_px


class FloorPlan(ReadModel):
    origin_m: list[float] = Field(description="[x, y] floor metres of the plan's top-left corner")
    width_m: float | None
    height_m: float | None
    image: PlanImage | None = Field(None, description="The uploaded plan image, if any")


class Store(ReadModel):
    """A store with its current zones, lines and cameras (retired ones left out)."""

    id: str
    name: str
    region: str
    tags: list[str]
    timezone: str
    area_m2: float | None = Field(description="Sales floor area; width × height when not given")
    auto_registered: bool
    simulated: bool
    floor_plan: FloorPlan
    zones: list[Zone]
    lines: list[Line]
    cameras: list[Camera]


# ---- live -----------------------------------------------------------------------------------


class ZoneMinute(ReadModel):
    zone: str
    bucket_start: datetime
    mean_occupancy: float
    max_occupancy: int
    entries: int
    capacity: int | None


class LiveZones(ReadModel):
    """The newest stored minute of each current zone (summed over cameras) and the cameras."""

    store: str
    cameras: list[Camera]
    zones: list[ZoneMinute]


# ---- heat and camera health -----------------------------------------------------------------

Cell = tuple[int, int, float]  # ix, iy, value


class Heat(ReadModel):
    store: str
    first: date
    last: date
    cell_m: float
    unit: str
    cells: list[Cell]


class Health(ReadModel):
    """Summed health reports: `uptime` is covered over received seconds (null when none was
    received), `dropped_share` frames dropped over frames read, the detector's mean latency
    weighted by frames analysed. Null throughout for a camera that reported nothing."""

    uptime: float | None = None
    heard_s: float | None = None
    buckets: int | None = None
    degraded_buckets: int | None = None
    frames_read: int | None = None
    frames_analysed: int | None = None
    dropped_share: float | None = None
    detector_ms_mean: float | None = None
    detector_ms_max: float | None = None
    reconnects: int | None = None


class CameraHealthDay(Health):
    camera: str
    local_date: date


class CameraHealthRange(Health):
    camera: str
    status: str
    status_at: datetime | None
    last_seen: datetime | None


class CameraHealth(ReadModel):
    store: str
    first: date
    last: date
    cameras: list[CameraHealthRange]
    days: list[CameraHealthDay]


# ---- trends ---------------------------------------------------------------------------------


class ZoneWeek(ReadModel):
    zone: str
    mean_occupancy: float
    max_occupancy: int
    dwell_count: int
    mean_dwell_s: float | None
    entries: int
    histogram: list[int] = Field(description="Completed stays per dwell_bins_s bin")


class QueueWeek(ReadModel):
    """A queue zone's waits over the week: its completed stays (of at least min_dwell_s)."""

    zone: str
    waits: int
    mean_wait_s: float | None
    p50_wait_s: float | None = Field(description="Median wait, interpolated within its histogram bin")
    p90_wait_s: float | None = Field(
        description="90th percentile; in the open last bin, that bin's lower edge"
    )
    histogram: list[int] = Field(description="Waits per dwell_bins_s bin")


class QueueNow(ReadModel):
    """A queue zone now, from the live stream: its length, the rate people leave it, and the
    wait that gives (Little's law: length ÷ rate; null when nobody left during the window)."""

    zone: str
    length: int
    left_per_min: float | None
    wait_s: float | None


class TransitionCount(ReadModel):
    from_zone: str
    to_zone: str
    count: int


class Trends(ReadModel):
    """One store over one ISO week of its local time, against the week before. Occupancy is
    mean people present; heat cells are mean people per cell; changes are relative (0.1 =
    +10 %), null when the week before has nothing to compare with."""

    store: str
    simulated: bool
    iso_year: int
    iso_week: int
    first: date
    last: date
    occupancy_by_hour: list[float]
    occupancy_by_weekday: list[float]
    occupancy_hour_weekday: list[list[float]]
    zones: list[ZoneWeek]
    queues: list[QueueWeek] = Field(description="Queue zones' waits (their completed stays)")
    dwell_bins_s: list[int]
    transitions: list[TransitionCount]
    flow_cell_m: float | None
    direction_histogram: list[int]
    directions: list[tuple[int, int, list[int]]] = Field(description="[ix, iy, [count per direction bin]]")
    cell_m: float
    heat: list[Cell]
    heat_difference: list[Cell]
    footfall: int
    previous_footfall: int
    footfall_change: float | None
    mean_dwell_s: float | None
    previous_mean_dwell_s: float | None
    mean_dwell_change: float | None


# ---- compare --------------------------------------------------------------------------------


class StoreRanking(ReadModel):
    store: str
    name: str
    region: str
    tags: list[str]
    area_m2: float | None
    footfall: int
    footfall_by_day: list[int]
    mean_occupancy: float | None
    occupancy_per_m2: float | None
    peak_hour: int | None = Field(description="Local hour of the highest mean occupancy")
    mean_dwell_s: float | None
    uptime: float | None
    footfall_source: str = Field(description="lines, or zone entries for a store without lines")
    transactions: int | None = Field(description="Point-of-sale transactions; null without such data")
    conversion: float | None = Field(
        description="Transactions ÷ footfall over the hours that have both; null without point-of-sale data"
    )
    simulated: bool
    audited_on: date | None = Field(description="Day of the latest on-site audit of the store's cameras")
    audited_crossings: int | None = Field(
        description="Crossings marked by hand over the lines of each camera's latest audit"
    )
    audited_line_accuracy: float | None = Field(
        description="1 − Σ|counted − marked| / Σ marked over those lines, each way; null if not audited"
    )
    audited_low: float | None = Field(
        description="Wilson 95 % interval of the share of those crossings counted right: low end"
    )
    audited_high: float | None = Field(description="The interval's high end")
    rank: int


class Comparison(ReadModel):
    first: date
    last: date
    days: list[date]
    stores: list[StoreRanking] = Field(description="Ranked by footfall")


# ---- dead letters ---------------------------------------------------------------------------


class DeadLetter(ReadModel):
    id: int
    received_at: datetime
    topic: str
    payload: str = Field(description="As text, undecodable bytes replaced, cut at 2,000 characters")
    payload_bytes: int = Field(description="The length of the whole payload that arrived")
    payload_sha256: str = Field(description="Of the whole payload")
    code: str = Field(description="Why, in one word (contract, plan, conflict, registry, clock, ...)")
    reason: str
    received_count: int = Field(description="Times the same payload arrived on this topic, refused alike")


# ---- alerts ---------------------------------------------------------------------------------


class Alert(ReadModel):
    """One alert: a rule of a store from when it fired until it cleared."""

    id: int
    store: str
    rule: str
    kind: str = Field(
        description="zone_occupancy, store_occupancy, queue_length, queue_wait, camera_offline, store_silent"
    )
    zone: str | None
    camera: str | None
    state: str = Field(description="active, or cleared")
    value: float | None = Field(description="The value when it fired (people, or s for waits and outages)")
    threshold: float
    started_at: datetime = Field(description="When it fired (UTC)")
    cleared_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class AlertEvent(ReadModel):
    """One transition of an alert: fired, cleared or acknowledged."""

    alert_id: int
    store: str
    event: str
    at: datetime
    value: float | None
    threshold: float
    by_user: str | None
