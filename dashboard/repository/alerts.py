"""Alerts and their transitions as read models, newest first."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.read_models import Alert, AlertEvent


def list_alerts(
    conn: sa.Connection,
    stores: Collection[str] | None,
    state: str | None = None,
    rule: str | None = None,
    limit: int = 500,
) -> list[Alert]:
    """Alerts of `stores` (None: every store), active or cleared (None: both), of one rule
    name if given; active ones first, then by start, newest first."""
    c = t.alerts.c
    query = sa.select(t.alerts).order_by((c.state == "active").desc(), c.started_at.desc(), c.id.desc())
    if stores is not None:
        query = query.where(c.store_id.in_(stores))
    if state is not None:
        query = query.where(c.state == state)
    if rule:
        query = query.where(c.rule == rule)
    return [
        Alert(**{("store" if k == "store_id" else k): v for k, v in row.items()})
        for row in conn.execute(query.limit(limit)).mappings()
    ]


def alert_events(conn: sa.Connection, alert_id: int) -> list[AlertEvent]:
    """The transitions of one alert, in order."""
    c = t.alert_events.c
    rows = conn.execute(
        sa.select(c.alert_id, c.store_id, c.event, c.at, c.value, c.threshold, c.by_user)
        .where(c.alert_id == alert_id)
        .order_by(c.id)
    ).mappings()
    return [AlertEvent(**{("store" if k == "store_id" else k): v for k, v in row.items()}) for row in rows]
