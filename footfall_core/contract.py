"""The message contract between edge devices and the centre, version 1 (see docs/mqtt.md).

Every payload is compact JSON of one of the models below; unknown keys are refused, times are
UTC. Aggregates carry a stable `id` (store/camera/kind/bucket_start) so that redelivery is
harmless. Nothing here can hold pixels, boxes or track ids.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    field_validator,
)

SCHEMA_VERSION = 1
TOPIC_ROOT = f"footfall/v{SCHEMA_VERSION}"
NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
DIRECTION_BINS = 8


class ContractError(ValueError):
    """A payload or topic that breaks the contract; the message says what and where."""


def _utc(value: datetime) -> str:
    """ISO 8601 UTC with a Z; milliseconds only when there are any."""
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


UtcTime = Annotated[AwareDatetime, PlainSerializer(_utc, return_type=str)]
Count = Annotated[int, Field(ge=0)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Name = Annotated[str, Field(pattern=NAME)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class _Aggregate(_Message):
    schema_version: Literal[1] = SCHEMA_VERSION
    store: Name
    camera: Name
    bucket_start: UtcTime = Field(description="UTC start of the bucket, a multiple of bucket_s.")
    bucket_s: int = Field(ge=1, le=3600)
    covered_s: NonNegative = Field(description="Seconds of the bucket the camera actually analysed.")
    simulated: bool = Field(False, description="True for generated demo data, never for a camera.")

    @field_validator("bucket_start")
    @classmethod
    def _aligned(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @property
    def id(self) -> str:
        return f"{self.store}/{self.camera}/{self.kind}/{_utc(self.bucket_start)}"  # type: ignore[attr-defined]


class GridAggregate(_Aggregate):
    """Occupancy heat: person-seconds per floor cell, sparse. Cell (ix, iy) covers
    [origin_x + ix·cell_m, +cell_m) × [origin_y + iy·cell_m, +cell_m) of the floor plan."""

    kind: Literal["grid"] = "grid"
    cell_m: float = Field(gt=0)
    cells: list[tuple[Count, Count, NonNegative]] = Field(description="[ix, iy, person_seconds]")


class ZoneStats(_Message):
    zone: Name
    mean_occupancy: NonNegative = Field(description="Time-weighted mean people in the zone over covered_s.")
    max_occupancy: Count
    person_seconds: NonNegative
    entries: Count
    dwells_s: list[NonNegative] = Field(description="Completed stays of at least min_dwell_s, in seconds.")


class ZonesAggregate(_Aggregate):
    kind: Literal["zones"] = "zones"
    zones: list[ZoneStats]


class LineCount(_Message):
    line: Name
    in_count: Count
    out_count: Count


class LinesAggregate(_Aggregate):
    kind: Literal["lines"] = "lines"
    lines: list[LineCount]


class Transition(_Message):
    from_zone: Name
    to_zone: Name
    count: Count


class FlowsAggregate(_Aggregate):
    """Zone-to-zone transitions and walking directions. Direction bin k covers the heading
    k·45° ± 22.5°, measured on the floor plan from +x towards +y (0 = right, 2 = down the plan)."""

    kind: Literal["flows"] = "flows"
    flow_cell_m: float = Field(gt=0)
    transitions: list[Transition]
    directions: list[tuple[Count, Count, Annotated[list[Count], Field(min_length=8, max_length=8)]]] = Field(
        description="[ix, iy, [count per direction bin]]"
    )


class HealthAggregate(_Aggregate):
    kind: Literal["health"] = "health"
    frames_read: Count
    frames_analysed: Count
    frames_dropped: Count
    detector_ms_mean: NonNegative
    detector_ms_max: NonNegative
    source_status: Literal["ok", "reconnecting", "ended", "error"]
    reconnects: Count = 0


Aggregate = Annotated[
    GridAggregate | ZonesAggregate | LinesAggregate | FlowsAggregate | HealthAggregate,
    Field(discriminator="kind"),
]
AGGREGATE_KINDS = ("grid", "zones", "lines", "flows", "health")


class LiveZone(_Message):
    zone: Name
    occupancy: Count


class LiveMessage(_Message):
    """Current state of a store, every live_interval_s. Not history: may be dropped offline."""

    schema_version: Literal[1] = SCHEMA_VERSION
    store: Name
    sent_at: UtcTime
    cell_m: float = Field(gt=0)
    people: Count
    zones: list[LiveZone]
    cells: list[tuple[Count, Count, Count]] = Field(description="[ix, iy, people now]")
    cameras: list[Name]


class StatusMessage(_Message):
    """Retained per camera; the broker publishes `offline` as the device's last will."""

    schema_version: Literal[1] = SCHEMA_VERSION
    store: Name
    camera: Name
    status: Literal["online", "offline"]
    sent_at: UtcTime | None = None


class DeviceHealth(_Message):
    """The publisher's own health, every health_interval_s."""

    schema_version: Literal[1] = SCHEMA_VERSION
    store: Name
    sent_at: UtcTime
    outbox_depth: Count
    outbox_dropped: Count
    published: Count
    connected: bool
    cameras: dict[str, Literal["ok", "reconnecting", "ended", "error", "stalled"]]


_aggregate_adapter: TypeAdapter = TypeAdapter(Aggregate)


def agg_topic(store: str, camera: str) -> str:
    return f"{TOPIC_ROOT}/{store}/{camera}/agg"


def status_topic(store: str, camera: str) -> str:
    return f"{TOPIC_ROOT}/{store}/{camera}/status"


def health_topic(store: str) -> str:
    return f"{TOPIC_ROOT}/{store}/health"


def live_topic(store: str) -> str:
    return f"{TOPIC_ROOT}/{store}/live"


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors()[:5])


def parse_aggregate(payload: bytes | str, topic: str | None = None) -> Aggregate:
    """Validate an aggregate payload (and that it matches its topic); raises ContractError."""
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ContractError(f"expected a JSON object, got {type(data).__name__}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ContractError(f"unsupported schema_version {version!r} (this side speaks {SCHEMA_VERSION})")
    try:
        message = _aggregate_adapter.validate_python(data)
    except ValidationError as exc:
        raise ContractError(_describe(exc)) from None
    if topic is not None and topic != agg_topic(message.store, message.camera):
        raise ContractError(
            f"topic {topic!r} does not match store {message.store!r} and camera {message.camera!r}"
        )
    if message.bucket_start.timestamp() % message.bucket_s:
        raise ContractError(
            f"bucket_start {_utc(message.bucket_start)} is not a multiple of bucket_s={message.bucket_s}"
        )
    return message


def parse_message(model: type[_Message], payload: bytes | str) -> _Message:
    """Validate a live, status or health payload; raises ContractError."""
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        raise ContractError(_describe(exc)) from None


def bucket_start(timestamp_s: float, bucket_s: int) -> datetime:
    return datetime.fromtimestamp(timestamp_s - timestamp_s % bucket_s, tz=UTC)
