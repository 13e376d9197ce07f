"""What the alert evaluator and the API write: leases, transitions, acknowledgements and the
webhook deliveries each transition owes.

**One evaluator per store.** Every evaluator process may claim any store whose lease is free
or expired (`claim`); the holder renews its leases every few seconds. Each write of a
transition first renews the store's lease *in the same transaction*, conditioned on still
holding it (`record`): an evaluator that lost its lease (paused past the expiry, cut off from
the database) writes nothing, and another has taken over. On PostgreSQL the renewal locks the
lease row, so a claim racing with a write waits for it and then sees the lease renewed.

**Deliveries.** A transition's webhook deliveries are inserted in the same transaction as the
transition, each with an idempotency key made from the event and the URL: a delivery is owed
as soon as the transition is stored, whatever happens to the process afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from dashboard import tables as t
from dashboard.alerts.evaluate import Transition
from footfall_core.alerting import Alerts

LEASE_S = 15.0  # a lease expires this long after its last renewal


def naive(when: datetime) -> datetime:
    """Aware UTC → the database's naive UTC."""
    return when.astimezone(UTC).replace(tzinfo=None)


def claim(conn: sa.Connection, stores: Collection[str], owner: str, now: datetime) -> set[str]:
    """Take or renew the leases of `stores` that are free, expired or already `owner`'s;
    returns the stores `owner` holds afterwards."""
    if not stores:
        return set()
    table, c = t.alert_leases, t.alert_leases.c
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    held = set()
    for store in sorted(stores):  # one lease row at a time, in one order: no deadlock between claimers
        statement = dialect.insert(table).values(
            store_id=store, owner=owner, expires_at=naive(now) + timedelta(seconds=LEASE_S)
        )
        statement = statement.on_conflict_do_update(
            index_elements=[c.store_id],
            set_=dict(owner=statement.excluded.owner, expires_at=statement.excluded.expires_at),
            where=(c.owner == owner) | (c.expires_at < naive(now)),
        ).returning(c.store_id)
        if conn.execute(statement).scalar() is not None:
            held.add(store)
    return held


def release(conn: sa.Connection, owner: str) -> None:
    """Give up every lease of `owner` (a clean stop: a standby takes over at once)."""
    conn.execute(sa.delete(t.alert_leases).where(t.alert_leases.c.owner == owner))


def _renew(conn: sa.Connection, store: str, owner: str, now: datetime) -> bool:
    c = t.alert_leases.c
    renewed = conn.execute(
        sa.update(t.alert_leases)
        .where((c.store_id == store) & (c.owner == owner) & (c.expires_at >= naive(now)))
        .values(expires_at=naive(now) + timedelta(seconds=LEASE_S))
    )
    return renewed.rowcount == 1


def idempotency_key(event_id: int, url: str) -> str:
    """The same for every attempt of one event to one URL, different for any other pair."""
    return hashlib.sha256(f"{event_id} {url}".encode()).hexdigest()[:32]


def _urls(alerts: Alerts, rule: str) -> list[tuple[str, str]]:
    """(url, body format) of the webhooks that receive `rule`'s transitions."""
    return sorted(
        {(hook.url, hook.format) for hook in alerts.webhooks if hook.rules is None or rule in hook.rules}
    )


def _event(
    conn: sa.Connection,
    alert_id: int,
    store: str,
    event: str,
    at: datetime,
    value: float | None,
    threshold: float,
    urls: Sequence[tuple[str, str]],
    by_user: str | None = None,
) -> int:
    event_id = conn.execute(
        sa.insert(t.alert_events)
        .values(
            alert_id=alert_id,
            store_id=store,
            event=event,
            at=naive(at),
            value=value,
            threshold=threshold,
            by_user=by_user,
        )
        .returning(t.alert_events.c.id)
    ).scalar_one()
    if urls:
        conn.execute(
            sa.insert(t.alert_deliveries),
            [
                dict(
                    event_id=event_id,
                    store_id=store,
                    url=url,
                    format=body_format,
                    idempotency_key=idempotency_key(event_id, url),
                    attempts=0,
                    next_at=naive(at),
                )
                for url, body_format in urls
            ],
        )
    return event_id


def record(
    conn: sa.Connection,
    store: str,
    owner: str,
    transitions: Sequence[tuple[Transition, int | None]],
    alerts: Alerts,
    now: datetime,
) -> list[int] | None:
    """Store transitions (each with the id of the alert it clears; None for one that fires),
    with their deliveries, if `owner` still holds the store; returns each one's alert id, or
    None (nothing written) when the lease is lost. The caller commits."""
    if not _renew(conn, store, owner, now):
        return None
    ids = []
    for transition, alert_id in transitions:
        rule = transition.rule
        if transition.event == "fired":
            alert_id = conn.execute(
                sa.insert(t.alerts)
                .values(
                    store_id=store,
                    rule=rule.name,
                    kind=rule.kind,
                    zone=rule.zone,
                    camera=rule.camera,
                    state="active",
                    value=transition.value,
                    threshold=transition.threshold,
                    started_at=naive(transition.at),
                )
                .returning(t.alerts.c.id)
            ).scalar_one()
        else:
            conn.execute(
                sa.update(t.alerts)
                .where(t.alerts.c.id == alert_id)
                .values(state="cleared", cleared_at=naive(transition.at))
            )
        _event(
            conn,
            alert_id,
            store,
            transition.event,
            transition.at,
            transition.value,
            transition.threshold,
            _urls(alerts, rule.name),
        )
        ids.append(alert_id)
    return ids


def clear_orphans(
    conn: sa.Connection, store: str, owner: str, alert_ids: Sequence[int], now: datetime
) -> bool:
    """Clear active alerts whose rule is gone from the store's rules (no webhook: the rule that
    named them is gone too); False, writing nothing, when the lease is lost."""
    if not _renew(conn, store, owner, now):
        return False
    c = t.alerts.c
    for alert_id in alert_ids:
        threshold = conn.scalar(sa.select(c.threshold).where(c.id == alert_id))
        conn.execute(
            sa.update(t.alerts).where(c.id == alert_id).values(state="cleared", cleared_at=naive(now))
        )
        _event(conn, alert_id, store, "cleared", now, None, threshold, [])
    return True


class AckError(ValueError):
    """An acknowledgement that cannot be made; `status` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def acknowledge(conn: sa.Connection, alert_id: int, user: str, alerts: Alerts, now: datetime) -> str:
    """Mark an alert acknowledged by `user` (an *acknowledged* transition, with its webhook
    deliveries); returns its store. The caller checks the user may see that store first
    (`store_of`) and commits."""
    c = t.alerts.c
    row = conn.execute(sa.select(c.store_id, c.rule, c.value, c.threshold).where(c.id == alert_id)).first()
    if row is None:
        raise AckError(f"no alert {alert_id}", 404)
    done = conn.execute(
        sa.update(t.alerts)
        .where((c.id == alert_id) & c.acknowledged_at.is_(None))
        .values(acknowledged_at=naive(now), acknowledged_by=user)
    )
    if done.rowcount != 1:
        raise AckError(f"alert {alert_id} is already acknowledged", 409)
    _event(
        conn,
        alert_id,
        row.store_id,
        "acknowledged",
        now,
        row.value,
        row.threshold,
        _urls(alerts, row.rule),
        user,
    )
    return row.store_id


def store_of(conn: sa.Connection, alert_id: int) -> str | None:
    return conn.scalar(sa.select(t.alerts.c.store_id).where(t.alerts.c.id == alert_id))


def active(conn: sa.Connection, store: str) -> dict[str, tuple[int, datetime, bool]]:
    """The store's active alerts by rule: (alert id, started at (aware UTC), acknowledged)."""
    c = t.alerts.c
    rows = conn.execute(
        sa.select(c.rule, c.id, c.started_at, c.acknowledged_at).where(
            (c.store_id == store) & (c.state == "active")
        )
    )
    return {r.rule: (r.id, r.started_at.replace(tzinfo=UTC), r.acknowledged_at is not None) for r in rows}


def last_event_id(conn: sa.Connection) -> int:
    return conn.scalar(sa.select(sa.func.max(t.alert_events.c.id))) or 0
