"""Alerts (every visible store; managers only theirs), acknowledging one, and a store's alert
rules (hq). Rules are evaluated by `python -m dashboard alerts` (docs/alerts.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from dashboard import repository
from dashboard.alerts import journal, rules
from dashboard.api.deps import (
    STORE_ID,
    Conn,
    Format,
    HqUser,
    StoreId,
    User,
    csv_response,
    json_response,
    visible_alert,
    visible_store,
)
from dashboard.read_models import Alert, AlertEvent
from footfall_core.alerting import Alerts

router = APIRouter(tags=["alerts"])


@router.get("/alerts", response_model=list[Alert])
def list_alerts(
    user: User,
    conn: Conn,
    store: Annotated[str | None, Query(pattern=STORE_ID)] = None,
    state: Literal["active", "cleared", "all"] = "all",
    rule: Annotated[str | None, Query(pattern=STORE_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    format: Format = "json",
):
    """Alerts, active first then newest first: of one store (403 if not the user's), or of
    every store the user may see; filter by state and rule name."""
    if store is not None:
        visible_store(store, user)
    stores = {store} if store is not None else user.visible()
    rows = repository.list_alerts(conn, stores, None if state == "all" else state, rule, limit)
    return csv_response(rows, "alerts.csv") if format == "csv" else json_response(rows)


@router.get("/alerts/{alert_id}/events", response_model=list[AlertEvent])
def alert_events(alert_id: int, user: User, conn: Conn):
    """The alert's transitions (fired, cleared, acknowledged) with time, value and threshold."""
    visible_alert(conn, user, alert_id)
    return json_response(repository.alert_events(conn, alert_id))


@router.post("/alerts/{alert_id}/acknowledge", response_model=Alert)
def acknowledge(alert_id: int, user: User, conn: Conn):
    """Acknowledge an alert of one of the user's stores (409 if already acknowledged)."""
    store = visible_alert(conn, user, alert_id)
    try:
        journal.acknowledge(conn, alert_id, user.name, rules.load(conn, store), datetime.now(UTC))
    except journal.AckError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    conn.commit()
    return json_response(next(a for a in repository.list_alerts(conn, {store}) if a.id == alert_id))


@router.get("/stores/{store_id}/alert-rules", response_model=Alerts)
def get_rules(store_id: StoreId, user: HqUser, conn: Conn):
    """The store's alert rules and webhooks (hq: webhook URLs are secrets)."""
    repository.get_store(conn, store_id)
    return json_response(rules.load(conn, store_id))


@router.put("/stores/{store_id}/alert-rules", response_model=Alerts)
def put_rules(store_id: StoreId, body: Alerts, user: HqUser, conn: Conn):
    """Replace the store's alert rules and webhooks (the `alerts` section of a store YAML); the
    evaluator picks them up within seconds. 422 names the key of a rule that targets a zone or
    camera the store does not have."""
    repository.get_store(conn, store_id)
    try:
        rules.save(conn, store_id, body, user.name)
    except rules.RulesError as exc:
        raise HTTPException(422, str(exc)) from None
    conn.commit()
    return json_response(rules.load(conn, store_id))
