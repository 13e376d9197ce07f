"""The message contract between edge devices and the centre, version 1 (see docs/mqtt.md).

Every payload is compact JSON of one of the models below; unknown keys are refused, times are
UTC. Aggregates carry a stable `id` (store/camera/kind/bucket_start) so that redelivery is
harmless, and the centre confirms each one it has settled by the digest of its payload
(`Confirmation`), so that the edge forgets it only then. Nothing here can hold pixels, boxes
or track ids.

Every number has a physical limit for its bucket (the `MAX_*` constants below), so that a
payload from a faulty or hostile device can neither overflow the centre's columns nor skew a
chain's figures: a valid one is something a camera could have seen. Parsing never raises anything but
`ContractError`, whatever the bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

SCHEMA_VERSION: Final = 1
TOPIC_ROOT = f"footfall/v{SCHEMA_VERSION}"
NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
DIRECTION_BINS = 8
DIGEST_HEX = 32  # 128 bits of sha256: collisions between one store's payloads are out of reach

# Physical limits of one camera's bucket. Generous (no real camera comes near them), and tight
# enough that every count fits the centre's 32-bit columns and every sum its floats.
MAX_PAYLOAD_BYTES = 1_048_576  # the central broker's max_packet_size
MAX_PEOPLE = 1_000  # people one camera sees at once
MAX_EVENTS_PER_S = 50  # entries into one zone, crossings of one line, transitions of one pair
MAX_FRAMES_PER_S = 240  # frames a source delivers
MAX_DWELL_S = 7 * 86_400.0  # one completed stay
MAX_DETECTOR_MS = 3_600_000.0  # one detector call
MAX_CELLS = 65_536  # cells in one grid or direction message (more does not fit MAX_PAYLOAD_BYTES)
MAX_CELL_INDEX = 40_000  # the largest floor plan (2,000 m) over the smallest cell (0.05 m)
MAX_NAMES = 256  # zones, lines or transitions in one message
CLOCK_AHEAD_S = 300.0  # how far a bucket may start ahead of the centre's clock


class ContractError(ValueError):
    """A payload or topic that breaks the contract; the message says what and where.

    `code` is the reason in one word, for counting dead letters: `contract` (not JSON, wrong
    schema or a number beyond its physical limit) or `clock` (a bucket outside the receiver's
    time window)."""

    def __init__(self, message: str, code: str = "contract") -> None:
        super().__init__(message)
        self.code = code


def _utc(value: datetime) -> str:
    """ISO 8601 UTC with a Z; milliseconds only when there are any."""
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


UtcTime = Annotated[AwareDatetime, PlainSerializer(_utc, return_type=str)]
Count = Annotated[int, Field(ge=0, lt=2**31)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Name = Annotated[str, Field(pattern=NAME)]
CellIndex = Annotated[int, Field(ge=0, le=MAX_CELL_INDEX)]


def _at_most(what: str, value: float, limit: float, why: str) -> None:
    """Refuse a value beyond its physical limit, naming the field, the limit and why."""
    if value > limit:
        raise ValueError(f"{what} = {value:g} exceeds {limit:g} ({why})")


def _once(what: str, keys: Sequence[Hashable]) -> None:
    """Refuse a name (or pair) listed twice in one bucket: each has one row per bucket."""
    seen = set()
    for k, key in enumerate(keys):
        if key in seen:
            raise ValueError(f"{what}.{k}: {key!r} is listed twice")
        seen.add(key)


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
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("outside the years 1 to 9999 in UTC") from None

    @model_validator(mode="after")
    def _physical(self) -> _Aggregate:
        _at_most("covered_s", self.covered_s, self.bucket_s, "the bucket's length")
        self._within_bucket()
        return self

    def _within_bucket(self) -> None:
        """Each kind's limits for one bucket of `bucket_s` seconds."""

    def _per_s(self, rate: float) -> float:
        return rate * self.bucket_s

    @property
    def id(self) -> str:
        return f"{self.store}/{self.camera}/{self.kind}/{_utc(self.bucket_start)}"  # type: ignore[attr-defined]


class GridAggregate(_Aggregate):
    """Occupancy heat: person-seconds per floor cell, sparse. Cell (ix, iy) covers
    [origin_x + ix·cell_m, +cell_m) × [origin_y + iy·cell_m, +cell_m) of the floor plan."""

    kind: Literal["grid"] = "grid"
    cell_m: float = Field(gt=0.05, le=10)
    cells: list[tuple[CellIndex, CellIndex, NonNegative]] = Field(
        max_length=MAX_CELLS, description="[ix, iy, person_seconds]"
    )

    def _within_bucket(self) -> None:
        total = sum(c[2] for c in self.cells)
        _at_most("cells' person_seconds", total, self._per_s(MAX_PEOPLE), f"{MAX_PEOPLE} people all along")


class ZoneStats(_Message):
    zone: Name
    mean_occupancy: NonNegative = Field(description="Time-weighted mean people in the zone over covered_s.")
    max_occupancy: Count
    person_seconds: NonNegative
    entries: Count
    dwells_s: list[NonNegative] = Field(description="Completed stays of at least min_dwell_s, in seconds.")


class ZonesAggregate(_Aggregate):
    kind: Literal["zones"] = "zones"
    zones: list[ZoneStats] = Field(max_length=MAX_NAMES)

    def _within_bucket(self) -> None:
        _once("zones", [z.zone for z in self.zones])
        events = self._per_s(MAX_EVENTS_PER_S)
        for k, z in enumerate(self.zones):
            at = f"zones.{k}"
            _at_most(f"{at}.mean_occupancy", z.mean_occupancy, MAX_PEOPLE, "people one camera sees")
            _at_most(f"{at}.max_occupancy", z.max_occupancy, MAX_PEOPLE, "people one camera sees")
            _at_most(f"{at}.person_seconds", z.person_seconds, self._per_s(MAX_PEOPLE), "people × bucket")
            _at_most(f"{at}.entries", z.entries, events, f"{MAX_EVENTS_PER_S} a second")
            _at_most(f"{at}.dwells_s count", len(z.dwells_s), events, f"{MAX_EVENTS_PER_S} a second")
            _at_most(f"{at}.dwells_s", max(z.dwells_s, default=0), MAX_DWELL_S, "a week")


class LineCount(_Message):
    line: Name
    in_count: Count
    out_count: Count


class LinesAggregate(_Aggregate):
    kind: Literal["lines"] = "lines"
    lines: list[LineCount] = Field(max_length=MAX_NAMES)

    def _within_bucket(self) -> None:
        _once("lines", [c.line for c in self.lines])
        events = self._per_s(MAX_EVENTS_PER_S)
        for k, c in enumerate(self.lines):
            _at_most(f"lines.{k}.in_count", c.in_count, events, f"{MAX_EVENTS_PER_S} a second")
            _at_most(f"lines.{k}.out_count", c.out_count, events, f"{MAX_EVENTS_PER_S} a second")


class Transition(_Message):
    from_zone: Name
    to_zone: Name
    count: Count


class FlowsAggregate(_Aggregate):
    """Zone-to-zone transitions and walking directions. Direction bin k covers the heading
    k·45° ± 22.5°, measured on the floor plan from +x towards +y (0 = right, 2 = down the plan)."""

    kind: Literal["flows"] = "flows"
    flow_cell_m: float = Field(gt=0.1, le=20)
    transitions: list[Transition] = Field(max_length=MAX_NAMES)
    directions: list[
        tuple[CellIndex, CellIndex, Annotated[list[Count], Field(min_length=8, max_length=8)]]
    ] = Field(max_length=MAX_CELLS, description="[ix, iy, [count per direction bin]]")

    def _within_bucket(self) -> None:
        _once("transitions", [(tr.from_zone, tr.to_zone) for tr in self.transitions])
        events = self._per_s(MAX_EVENTS_PER_S)
        for k, tr in enumerate(self.transitions):
            _at_most(f"transitions.{k}.count", tr.count, events, f"{MAX_EVENTS_PER_S} a second")
        steps = self._per_s(MAX_FRAMES_PER_S * MAX_PEOPLE)
        for k, (_, _, counts) in enumerate(self.directions):
            _at_most(f"directions.{k}", max(counts), steps, "a step per frame for every person")


class HealthAggregate(_Aggregate):
    kind: Literal["health"] = "health"
    frames_read: Count
    frames_analysed: Count
    frames_dropped: Count
    detector_ms_mean: NonNegative
    detector_ms_max: NonNegative
    source_status: Literal["ok", "reconnecting", "ended", "error"]
    reconnects: Count = 0

    def _within_bucket(self) -> None:
        frames = self._per_s(MAX_FRAMES_PER_S)
        for name in ("frames_read", "frames_analysed", "frames_dropped", "reconnects"):
            _at_most(name, getattr(self, name), frames, f"{MAX_FRAMES_PER_S} frames a second")
        _at_most("detector_ms_mean", self.detector_ms_mean, MAX_DETECTOR_MS, "an hour")
        _at_most("detector_ms_max", self.detector_ms_max, MAX_DETECTOR_MS, "an hour")


AnyAggregate = GridAggregate | ZonesAggregate | LinesAggregate | FlowsAggregate | HealthAggregate
Aggregate = Annotated[AnyAggregate, Field(discriminator="kind")]
AGGREGATE_KINDS = ("grid", "zones", "lines", "flows", "health")


class LiveZone(_Message):
    zone: Name
    occupancy: Count
    left_per_min: NonNegative | None = Field(
        None,
        le=MAX_EVENTS_PER_S * 60,
        description="Queue zones only: people who left the zone per minute, over the store's "
        "analysis.queue_window_s (the rate the wait is estimated from).",
    )


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
    """Retained per camera, as edge devices of an earlier release send it (one connection per
    camera, `offline` as each one's last will); the centre still reads it."""

    schema_version: Literal[1] = SCHEMA_VERSION
    store: Name
    camera: Name
    status: Literal["online", "offline"]
    sent_at: UtcTime | None = None


MAX_AUDIT_S = 86_400.0  # one audit clip


class LineAuditFigures(_Message):
    """One counting line in an on-site audit: crossings marked by hand and counted by the
    pipeline on the same recording, each way."""

    line: Name
    marked_in: Count
    marked_out: Count
    counted_in: Count
    counted_out: Count


class CameraAudit(_Message):
    """A camera's latest on-site audit (the store config's `audits`): figures only, never the
    recording."""

    camera: Name
    date: dt.date = Field(description="Day of the audit, in the store's time zone.")
    clip_s: float = Field(
        gt=0, le=MAX_AUDIT_S, allow_inf_nan=False, description="Length of the recording, s."
    )
    lines: list[LineAuditFigures] = Field(max_length=MAX_NAMES)

    @model_validator(mode="after")
    def _physical(self) -> CameraAudit:
        _once("lines", [x.line for x in self.lines])
        events = self.clip_s * MAX_EVENTS_PER_S
        for k, x in enumerate(self.lines):
            for name in ("marked_in", "marked_out", "counted_in", "counted_out"):
                _at_most(
                    f"lines.{k}.{name}", getattr(x, name), events, f"{MAX_EVENTS_PER_S} a second of clip"
                )
        return self


class DeviceStatus(_Message):
    """Retained per store device: `online` on every connect, `offline` as the device's last will
    (no sent_at: the broker sends it when the connection dies) or on a clean stop. It covers
    every camera listed: a device has one connection, so one will speaks for all its cameras.
    `online` also carries each audited camera's latest on-site audit."""

    schema_version: Literal[1] = SCHEMA_VERSION
    store: Name
    status: Literal["online", "offline"]
    cameras: list[Name] = Field(max_length=MAX_NAMES)
    sent_at: UtcTime | None = None
    audits: list[CameraAudit] | None = Field(
        None, max_length=MAX_NAMES, description="Each audited camera's latest audit; absent if none."
    )

    @model_validator(mode="after")
    def _audited_cameras(self) -> DeviceStatus:
        _once("audits", [a.camera for a in self.audits or []])
        for k, audit in enumerate(self.audits or []):
            if audit.camera not in self.cameras:
                raise ValueError(f"audits.{k}.camera: {audit.camera!r} is not one of the device's cameras")
        return self


Digest = Annotated[str, Field(pattern=f"^[0-9a-f]{{{DIGEST_HEX}}}$")]


class Confirmation(_Message):
    """From the centre to one store's device (`footfall/v1/{store}/confirm`): the aggregates it
    has settled, each by `payload_digest` of the payload as received. Settled means committed
    to the database, found already stored, or dead-lettered: either way the device must not
    send it again. Sent after the commit, so a device that deletes an outbox row on it loses
    nothing the centre does not hold."""

    schema_version: Literal[1] = SCHEMA_VERSION
    store: Name
    settled: list[Digest] = Field(min_length=1, max_length=10_000)


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


AlertKind = Literal[
    "zone_occupancy", "store_occupancy", "queue_length", "queue_wait", "camera_offline", "store_silent"
]


class RuleState(_Message):
    """One alert rule of a store now: `active` since it fired, or `clear` since it cleared (or
    since the evaluator took the store, if it never fired)."""

    rule: Name
    kind: AlertKind
    zone: Name | None = None
    camera: Name | None = None
    state: Literal["active", "clear"]
    value: float | None = Field(
        None, description="The measured value now (people or seconds); absent if unknown."
    )
    threshold: float
    since: UtcTime
    acknowledged: bool = Field(False, description="An active alert someone has acknowledged.")


class AlertsMessage(_Message):
    """The current state of every alert rule of a store (`footfall/v1/{store}/alerts`, retained,
    centre → subscribers): sent by the store's alert evaluator at every transition and
    acknowledgement, and when it takes the store over."""

    schema_version: Literal[1] = SCHEMA_VERSION
    store: Name
    sent_at: UtcTime
    rules: list[RuleState] = Field(max_length=MAX_NAMES)


_aggregate_adapter: TypeAdapter[AnyAggregate] = TypeAdapter(Aggregate)


def agg_topic(store: str, camera: str) -> str:
    return f"{TOPIC_ROOT}/{store}/{camera}/agg"


def status_topic(store: str, camera: str) -> str:
    return f"{TOPIC_ROOT}/{store}/{camera}/status"


def device_status_topic(store: str) -> str:
    return f"{TOPIC_ROOT}/{store}/status"


def confirm_topic(store: str) -> str:
    return f"{TOPIC_ROOT}/{store}/confirm"


def device_client_id(store: str) -> str:
    """A store device's MQTT client id: stable (the broker keeps its session across reconnects)
    and the only one the store's broker user may connect with (docs/security.md)."""
    return f"footfall-edge-{store}"


def payload_digest(payload: bytes) -> str:
    """What a Confirmation names a payload by: the first 128 bits of its sha256, in hex."""
    return hashlib.sha256(payload).hexdigest()[:DIGEST_HEX]


def health_topic(store: str) -> str:
    return f"{TOPIC_ROOT}/{store}/health"


def live_topic(store: str) -> str:
    return f"{TOPIC_ROOT}/{store}/live"


def alerts_topic(store: str) -> str:
    return f"{TOPIC_ROOT}/{store}/alerts"


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors()[:5])


def parse_aggregate(payload: bytes | str, topic: str | None = None) -> Aggregate:
    """Validate an aggregate payload (and that it matches its topic). Raises ContractError, and
    nothing else: whatever goes wrong while reading hostile bytes (nesting deeper than the
    parser's recursion, numbers too long to convert, dates past the calendar) says so in one."""
    try:
        return _parse_aggregate(payload, topic)
    except ContractError:
        raise
    except Exception as exc:
        raise ContractError(f"unreadable payload: {type(exc).__name__}: {str(exc)[:200]}") from None


def _parse_aggregate(payload: bytes | str, topic: str | None) -> Aggregate:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ContractError(f"expected a JSON object, got {type(data).__name__}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ContractError(f"unsupported schema_version {version!r:.40} (this side speaks {SCHEMA_VERSION})")
    try:
        message = _aggregate_adapter.validate_python(data)
    except ValidationError as exc:
        raise ContractError(_describe(exc)) from None
    if topic is not None and topic != agg_topic(message.store, message.camera):
        raise ContractError(
            f"topic {topic[:300]!r} does not match store {message.store!r} and camera {message.camera!r}"
        )
    if message.bucket_start.timestamp() % message.bucket_s:
        raise ContractError(
            f"bucket_start {_utc(message.bucket_start)} is not a multiple of bucket_s={message.bucket_s}"
        )
    return message


def check_clock(message: Aggregate, now: datetime, max_age: timedelta) -> None:
    """Refuse (code `clock`) a bucket that starts more than `max_age` before `now` or more than
    CLOCK_AHEAD_S after it: the receiver's window, from its own clock, on what it keeps."""
    ahead_s = (message.bucket_start - now).total_seconds()
    if ahead_s > CLOCK_AHEAD_S:
        raise ContractError(
            f"bucket_start {_utc(message.bucket_start)} is {ahead_s:.0f} s ahead of the receiver's clock "
            f"({_utc(now)}; at most {CLOCK_AHEAD_S:.0f} s)",
            code="clock",
        )
    if -ahead_s > max_age.total_seconds():
        days = max_age.total_seconds() / 86400
        raise ContractError(
            f"bucket_start {_utc(message.bucket_start)} is more than {days:g} days before the "
            f"receiver's clock ({_utc(now)})",
            code="clock",
        )


def parse_message(model: type[_Message], payload: bytes | str) -> _Message:
    """Validate a live, status or health payload; raises ContractError and nothing else."""
    try:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise ContractError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
        return model.model_validate_json(payload)
    except ContractError:
        raise
    except ValidationError as exc:
        raise ContractError(_describe(exc)) from None
    except Exception as exc:
        raise ContractError(f"unreadable payload: {type(exc).__name__}: {str(exc)[:200]}") from None


def bucket_start(timestamp_s: float, bucket_s: int) -> datetime:
    return datetime.fromtimestamp(bucket_start_s(timestamp_s, bucket_s), tz=UTC)


def bucket_start_s(timestamp_s: float, bucket_s: int) -> float:
    """`bucket_start` as UTC epoch seconds (a whole multiple of `bucket_s`, exact in a float: the
    same value as `bucket_start(...).timestamp()`, without a datetime for every frame)."""
    return timestamp_s - timestamp_s % bucket_s
