"""The dashboard schema (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Times: every DateTime column is naive UTC. `local_date`, `local_hour` and `local_weekday`
(Monday = 0) are in the store's time zone, fixed when the row is written.

Three layers (retention in docs/storage.md):
- registry: stores, zones, lines, cameras, users; zones, lines and cameras a store's layout no
  longer lists are kept, marked `retired_at`, so that their history still has names;
- raw minutes (`*_minutes`): one row per received aggregate (per camera, per zone/line...);
- rollups (`*_hours`, `*_days`): additive sums kept per camera, updated on ingest in the
  same transaction. Mean occupancy is person_seconds / covered_s; dwell is a count, a sum and
  a histogram over DWELL_BINS_S. Heat and direction grids are packed arrays (dashboard.cells).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

# Dwell histogram bin edges (s): bin k holds stays in [edge k, edge k+1); the last is open-ended.
DWELL_BINS_S = (0, 30, 60, 120, 300, 600, 1200, 1800, 3600)
DWELL_COLUMNS = tuple(f"dwell_b{k}" for k in range(len(DWELL_BINS_S)))
NAME = sa.String(63)


def _store_fk() -> sa.ForeignKey:
    return sa.ForeignKey("stores.id", ondelete="CASCADE")


def _retired_at() -> sa.Column:
    return sa.Column(
        "retired_at",
        sa.DateTime,
        doc="When an import of the store's layout stopped listing it; null while it is current.",
    )


stores = sa.Table(
    "stores",
    metadata,
    sa.Column("id", NAME, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("region", sa.String(100), nullable=False, server_default=""),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
    sa.Column("origin_x_m", sa.Float, nullable=False, server_default="0"),
    sa.Column("origin_y_m", sa.Float, nullable=False, server_default="0"),
    sa.Column("width_m", sa.Float),
    sa.Column("height_m", sa.Float),
    sa.Column("area_m2", sa.Float, doc="Sales floor area; default width_m × height_m."),
    sa.Column("auto_registered", sa.Boolean, nullable=False, default=False),
    sa.Column("simulated", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

zones = sa.Table(
    "zones",
    metadata,
    sa.Column("store_id", NAME, _store_fk(), primary_key=True),
    sa.Column("name", NAME, primary_key=True),
    sa.Column("polygon_m", sa.JSON, doc="[[x, y], ...] floor metres; null when learned from messages."),
    sa.Column("area_m2", sa.Float),
    sa.Column("capacity", sa.Integer),
    sa.Column("kind", sa.String(10), nullable=False, server_default="area", doc="area, or queue."),
    _retired_at(),
)

lines = sa.Table(
    "lines",
    metadata,
    sa.Column("store_id", NAME, _store_fk(), primary_key=True),
    sa.Column("name", NAME, primary_key=True),
    sa.Column("start_m", sa.JSON),
    sa.Column("end_m", sa.JSON),
    _retired_at(),
)

cameras = sa.Table(
    "cameras",
    metadata,
    sa.Column("store_id", NAME, _store_fk(), primary_key=True),
    sa.Column("name", NAME, primary_key=True),
    sa.Column("status", sa.String(20), nullable=False, server_default="unknown"),
    sa.Column("status_at", sa.DateTime),
    sa.Column("last_seen", sa.DateTime, doc="End of the latest aggregate bucket received."),
    _retired_at(),
)

# Each camera's latest on-site audit, per line: crossings marked by hand and counted by the
# pipeline on the same recording (sent with the device's online status).
line_audits = sa.Table(
    "line_audits",
    metadata,
    sa.Column("store_id", NAME, _store_fk(), primary_key=True),
    sa.Column("camera", NAME, primary_key=True),
    sa.Column("line", NAME, primary_key=True),
    sa.Column("audited_on", sa.Date, nullable=False, doc="Day of the camera's latest on-site audit."),
    sa.Column("clip_s", sa.Float, nullable=False, doc="Length of the audited recording, s."),
    sa.Column("marked_in", sa.Integer, nullable=False),
    sa.Column("marked_out", sa.Integer, nullable=False),
    sa.Column("counted_in", sa.Integer, nullable=False),
    sa.Column("counted_out", sa.Integer, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", NAME, primary_key=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

user_stores = sa.Table(
    "user_stores",
    metadata,
    sa.Column("user_name", NAME, sa.ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("store_id", NAME, _store_fk(), primary_key=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("user_name", NAME, sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=True, doc="Refused from then on (NULL: refused)."),
    sa.Column("last_used_at", sa.DateTime, nullable=True),
    sa.Column("label", sa.String(100), nullable=False, server_default=""),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_sha256", sa.String(64), primary_key=True, doc="SHA-256 of the id in the signed cookie."),
    sa.Column("user_name", NAME, sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("seen_at", sa.DateTime, nullable=False),
)

ingested = sa.Table(
    "ingested",
    metadata,
    sa.Column("id", sa.String(240), primary_key=True, doc="Aggregate id store/camera/kind/bucket_start."),
    sa.Column("bucket_start", sa.DateTime, nullable=False, index=True),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column(
        "content_sha256",
        sa.LargeBinary,
        doc="sha256 of the stored content: the same id with other content is a conflict.",
    ),
)

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(63), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.DateTime, nullable=False, index=True),
    sa.Column("topic", sa.String(300), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False, doc="The first 4 KB of what arrived."),
    sa.Column("payload_bytes", sa.Integer, nullable=False, server_default="0", doc="Its whole length."),
    sa.Column("payload_sha256", sa.String(64), nullable=False, server_default="", doc="Of the whole."),
    sa.Column("code", sa.String(20), nullable=False, server_default="contract", doc="Why, in one word."),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column(
        "received_count",
        sa.Integer,
        nullable=False,
        server_default="1",
        doc="Times this payload arrived on this topic and was refused for this code.",
    ),
    sa.Index("ux_dead_letters_payload", "payload_sha256", "topic", "code", unique=True),
)


def _raw(name: str, keys: list[sa.Column], measures: list[sa.Column]) -> sa.Table:
    """A raw per-bucket table: one row per aggregate message (and per zone/line/...)."""
    return sa.Table(
        name,
        metadata,
        sa.Column("store_id", NAME, _store_fk(), primary_key=True),
        sa.Column("camera", NAME, primary_key=True),
        *keys,
        sa.Column("bucket_start", sa.DateTime, primary_key=True, index=True),
        sa.Column("bucket_s", sa.Integer, nullable=False),
        sa.Column("covered_s", sa.Float, nullable=False),
        *measures,
        sa.Column("simulated", sa.Boolean, nullable=False),
    )


def _key(name: str) -> sa.Column:
    return sa.Column(name, NAME, primary_key=True)


zone_minutes = _raw(
    "zone_minutes",
    [_key("zone")],
    [
        sa.Column("mean_occupancy", sa.Float, nullable=False),
        sa.Column("max_occupancy", sa.Integer, nullable=False),
        sa.Column("person_seconds", sa.Float, nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("dwells_s", sa.LargeBinary, nullable=False, doc="float32 little-endian, one per stay."),
    ],
)
line_minutes = _raw(
    "line_minutes",
    [_key("line")],
    [
        sa.Column("in_count", sa.Integer, nullable=False),
        sa.Column("out_count", sa.Integer, nullable=False),
    ],
)
transition_minutes = _raw(
    "transition_minutes",
    [_key("from_zone"), _key("to_zone")],
    [
        sa.Column("count", sa.Integer, nullable=False),
    ],
)
health_minutes = _raw(
    "health_minutes",
    [],
    [
        sa.Column("frames_read", sa.Integer, nullable=False),
        sa.Column("frames_analysed", sa.Integer, nullable=False),
        sa.Column("frames_dropped", sa.Integer, nullable=False),
        sa.Column("detector_ms_mean", sa.Float, nullable=False),
        sa.Column("detector_ms_max", sa.Float, nullable=False),
        sa.Column("source_status", sa.String(20), nullable=False),
        sa.Column("reconnects", sa.Integer, nullable=False),
    ],
)
grid_minutes = _raw(
    "grid_minutes",
    [],
    [
        sa.Column("cell_m", sa.Float, nullable=False),
        sa.Column("cells", sa.LargeBinary, nullable=False, doc="dashboard.cells.HEAT records."),
    ],
)
direction_minutes = _raw(
    "direction_minutes",
    [],
    [
        sa.Column("flow_cell_m", sa.Float, nullable=False),
        sa.Column("cells", sa.LargeBinary, nullable=False, doc="dashboard.cells.DIRECTIONS records."),
    ],
)


def _rollup(name: str, grain: str, keys: list[sa.Column], measures: list[sa.Column]) -> sa.Table:
    """An additive rollup. Hours are keyed by the UTC instant the store's local hour starts
    (`period_start`); days by the store's local date, with `period_start` the UTC instant of
    that local midnight."""
    by_hour = grain == "hour"
    return sa.Table(
        name,
        metadata,
        sa.Column("store_id", NAME, _store_fk(), primary_key=True),
        sa.Column("camera", NAME, primary_key=True),
        *keys,
        sa.Column("period_start", sa.DateTime, primary_key=by_hour, nullable=False),
        sa.Column("local_date", sa.Date, primary_key=not by_hour, nullable=False),
        *([sa.Column("local_hour", sa.SmallInteger, nullable=False)] if by_hour else []),
        sa.Column("local_weekday", sa.SmallInteger, nullable=False),
        sa.Column("covered_s", sa.Float, nullable=False),
        *measures,
        sa.Column("simulated", sa.Boolean, nullable=False),
        sa.Index(f"ix_{name}_store_date", "store_id", "local_date"),
    )


def _zone_measures() -> list[sa.Column]:
    return [
        sa.Column("person_seconds", sa.Float, nullable=False),
        sa.Column("max_occupancy", sa.Integer, nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("dwell_count", sa.Integer, nullable=False),
        sa.Column("dwell_sum_s", sa.Float, nullable=False),
        *[sa.Column(c, sa.Integer, nullable=False) for c in DWELL_COLUMNS],
    ]


def _line_measures() -> list[sa.Column]:
    return [
        sa.Column("in_count", sa.Integer, nullable=False),
        sa.Column("out_count", sa.Integer, nullable=False),
    ]


def _heat_measures() -> list[sa.Column]:
    return [
        sa.Column("person_seconds", sa.Float, nullable=False, doc="Sum over all cells."),
        sa.Column("cells", sa.LargeBinary, doc="HEAT records; null once pruned (hours)."),
    ]


def _direction_measures() -> list[sa.Column]:
    return [sa.Column("cells", sa.LargeBinary, doc="DIRECTIONS records; null once pruned (hours).")]


def _health_measures() -> list[sa.Column]:
    """Camera health summed over buckets: uptime is covered_s / span_s, the detector's mean
    latency detector_ms_sum / frames_analysed."""
    return [
        sa.Column("span_s", sa.Float, nullable=False, doc="Length of the health buckets received."),
        sa.Column("buckets", sa.Integer, nullable=False),
        sa.Column("degraded_buckets", sa.Integer, nullable=False, doc="Buckets whose source was not ok."),
        sa.Column("frames_read", sa.Integer, nullable=False),
        sa.Column("frames_analysed", sa.Integer, nullable=False),
        sa.Column("frames_dropped", sa.Integer, nullable=False),
        sa.Column("detector_ms_sum", sa.Float, nullable=False, doc="Σ detector_ms_mean × frames_analysed."),
        sa.Column("detector_ms_max", sa.Float, nullable=False),
        sa.Column("reconnects", sa.Integer, nullable=False),
    ]


ROLLUPS: dict[str, dict[str, sa.Table]] = {}
for _grain in ("hour", "day"):
    _s = "hours" if _grain == "hour" else "days"
    ROLLUPS[_grain] = {
        "zones": _rollup(f"zone_{_s}", _grain, [_key("zone")], _zone_measures()),
        "lines": _rollup(f"line_{_s}", _grain, [_key("line")], _line_measures()),
        "transitions": _rollup(
            f"transition_{_s}",
            _grain,
            [_key("from_zone"), _key("to_zone")],
            [sa.Column("count", sa.Integer, nullable=False)],
        ),
        "grid": _rollup(
            f"grid_{_s}", _grain, [sa.Column("cell_m", sa.Float, primary_key=True)], _heat_measures()
        ),
        "directions": _rollup(
            f"direction_{_s}",
            _grain,
            [sa.Column("flow_cell_m", sa.Float, primary_key=True)],
            _direction_measures(),
        ),
        "health": _rollup(f"health_{_s}", _grain, [], _health_measures()),
    }

zone_hours, zone_days = ROLLUPS["hour"]["zones"], ROLLUPS["day"]["zones"]
line_hours, line_days = ROLLUPS["hour"]["lines"], ROLLUPS["day"]["lines"]
transition_hours, transition_days = ROLLUPS["hour"]["transitions"], ROLLUPS["day"]["transitions"]
grid_hours, grid_days = ROLLUPS["hour"]["grid"], ROLLUPS["day"]["grid"]
direction_hours, direction_days = ROLLUPS["hour"]["directions"], ROLLUPS["day"]["directions"]
health_hours, health_days = ROLLUPS["hour"]["health"], ROLLUPS["day"]["health"]
RAW = {
    "zones": zone_minutes,
    "lines": line_minutes,
    "transitions": transition_minutes,
    "health": health_minutes,
    "grid": grid_minutes,
    "directions": direction_minutes,
}

# ---- online-to-offline: campaigns and point-of-sale transactions (docs/o2o.md) ----------------

CHANNELS = ("sns", "app", "coupon", "web", "other")

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False, doc="One of CHANNELS."),
    sa.Column("start_date", sa.Date, nullable=False, doc="First campaign day (the stores' local dates)."),
    sa.Column("end_date", sa.Date, nullable=False, doc="Last campaign day, included."),
    sa.Column("pre_days", sa.SmallInteger, nullable=False, doc="Days before start_date compared with."),
    sa.Column("promoted_zones", sa.JSON, nullable=False, doc="Zone names the campaign promotes."),
    sa.Column("simulated", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

campaign_stores = sa.Table(
    "campaign_stores",
    metadata,
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("store_id", NAME, _store_fk(), primary_key=True),
    sa.Column("role", sa.String(10), nullable=False, doc="treated, or control when chosen by hand."),
)

pos_hours = sa.Table(
    "pos_hours",
    metadata,
    sa.Column("store_id", NAME, _store_fk(), primary_key=True),
    sa.Column(
        "period_start", sa.DateTime, primary_key=True, doc="UTC instant the store's local hour starts."
    ),
    sa.Column("local_date", sa.Date, nullable=False),
    sa.Column("local_hour", sa.SmallInteger, nullable=False),
    sa.Column("transactions", sa.Integer, nullable=False),
    sa.Column("sales_amount", sa.Float, doc="Null when the point of sale did not send it."),
    sa.Column("simulated", sa.Boolean, nullable=False),
    sa.Column("imported_at", sa.DateTime, nullable=False),
    sa.Index("ix_pos_hours_store_date", "store_id", "local_date"),
)


# ---- store operations: the floor plan image, alert rules and their transitions ------------------

floor_plans = sa.Table(
    "floor_plans",
    metadata,
    sa.Column("store_id", NAME, _store_fk(), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False, doc="Content address: <data_dir>/plans/<sha256>."),
    sa.Column("media_type", sa.String(40), nullable=False, doc="image/png, image/jpeg or image/svg+xml."),
    sa.Column("width_px", sa.Integer, nullable=False),
    sa.Column("height_px", sa.Integer, nullable=False),
    sa.Column("origin_x_m", sa.Float, nullable=False, doc="Floor x of the image's top-left corner."),
    sa.Column("origin_y_m", sa.Float, nullable=False, doc="Floor y of the image's top-left corner."),
    sa.Column("m_per_px", sa.Float, nullable=False),
    sa.Column("uploaded_at", sa.DateTime, nullable=False),
    sa.Column("uploaded_by", NAME),
)

alert_configs = sa.Table(
    "alert_configs",
    metadata,
    sa.Column("store_id", NAME, _store_fk(), primary_key=True),
    sa.Column("config", sa.JSON, nullable=False, doc="The store YAML's `alerts` section, validated."),
    sa.Column("version", sa.Integer, nullable=False, doc="Grows with every change: evaluators reload."),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("updated_by", NAME, doc="The HQ user who last changed it; null from `stores import`."),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("store_id", NAME, _store_fk(), nullable=False),
    sa.Column("rule", NAME, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("zone", NAME),
    sa.Column("camera", NAME),
    sa.Column("state", sa.String(10), nullable=False, doc="active, then cleared."),
    sa.Column("value", sa.Float, doc="The value when it fired (people or seconds)."),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("cleared_at", sa.DateTime),
    sa.Column("acknowledged_at", sa.DateTime),
    sa.Column("acknowledged_by", NAME),
    sa.Index("ix_alerts_store_state", "store_id", "state"),
    sa.Index("ix_alerts_started_at", "started_at"),
)

alert_events = sa.Table(
    "alert_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("store_id", NAME, _store_fk(), nullable=False),
    sa.Column("event", sa.String(12), nullable=False, doc="fired, cleared or acknowledged."),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("value", sa.Float, doc="The measured value at the transition."),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("by_user", NAME, doc="Who acknowledged."),
    sa.Index("ix_alert_events_alert_id", "alert_id"),
)

alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("alert_events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("store_id", NAME, _store_fk(), nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column(
        "format", sa.String(8), nullable=False, server_default="slack", doc="The body: slack, teams or json."
    ),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_at", sa.DateTime, nullable=False, doc="When the next attempt is due."),
    sa.Column("delivered_at", sa.DateTime),
    sa.Column("gave_up_at", sa.DateTime),
    sa.Column("last_error", sa.String(500)),
    sa.Index("ix_alert_deliveries_pending", "store_id", "delivered_at", "next_at"),
)

alert_leases = sa.Table(
    "alert_leases",
    metadata,
    sa.Column("store_id", NAME, _store_fk(), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False, doc="The evaluator process holding the store."),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)
