"""A store's alert rules and webhooks in the database: the `alerts` section of its YAML (from
`stores import`) or what HQ sent to `PUT /api/v1/stores/{id}/alert-rules`. Either way it is
validated by footfall_core.alerting, against the zones and cameras the registry holds, and
every change bumps the store's `version`, which is how evaluators know to reload.
"""

from __future__ import annotations

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.storage import now_utc
from footfall_core.alerting import Alerts, check_targets


class RulesError(ValueError):
    """Rules that name what the store does not have; the message names the key."""


def targets(conn: sa.Connection, store_id: str) -> tuple[dict[str, tuple[str, int | None]], set[str]]:
    """The store's current zones (name → (kind, capacity)) and camera names."""
    z, c = t.zones.c, t.cameras.c
    zones = {
        row.name: (row.kind, row.capacity)
        for row in conn.execute(
            sa.select(z.name, z.kind, z.capacity).where((z.store_id == store_id) & z.retired_at.is_(None))
        )
    }
    cameras = set(conn.scalars(sa.select(c.name).where((c.store_id == store_id) & c.retired_at.is_(None))))
    return zones, cameras


def save(conn: sa.Connection, store_id: str, alerts: Alerts, user: str | None = None) -> int:
    """Make `alerts` the store's rules (after the store's layout is saved); returns the new
    version. Raises RulesError naming the key of a rule that targets a missing zone or camera."""
    zones, cameras = targets(conn, store_id)
    problems = check_targets(alerts, zones, cameras)
    if problems:
        raise RulesError("; ".join(f"{key}: {problem}" for key, problem in problems))
    c = t.alert_configs.c
    version = conn.scalar(sa.select(c.version).where(c.store_id == store_id))
    row = dict(config=alerts.model_dump(mode="json"), updated_at=now_utc(), updated_by=user)
    if version is None:
        conn.execute(sa.insert(t.alert_configs).values(store_id=store_id, version=1, **row))
        return 1
    conn.execute(sa.update(t.alert_configs).where(c.store_id == store_id).values(version=version + 1, **row))
    return version + 1


def load(conn: sa.Connection, store_id: str) -> Alerts:
    """The store's rules (none if it has none)."""
    config = conn.scalar(sa.select(t.alert_configs.c.config).where(t.alert_configs.c.store_id == store_id))
    return Alerts.model_validate(config) if config is not None else Alerts()


def versions(conn: sa.Connection) -> dict[str, int]:
    """Every store with rules, and the version of its rules."""
    c = t.alert_configs.c
    return {row.store_id: row.version for row in conn.execute(sa.select(c.store_id, c.version))}


def capacities(conn: sa.Connection, store_id: str) -> dict[str, int | None]:
    """The store's zone capacities (a zone_occupancy rule's default threshold)."""
    return {name: capacity for name, (_, capacity) in targets(conn, store_id)[0].items()}
