"""The alerts page: active and past alerts of the stores the user may see, filtered by store,
rule and state, each active or past one acknowledgeable by its store's manager or HQ.

Same conventions as dashboard.pages: a session is needed, a store not the user's is a 403
before any query, the acknowledge form carries the session's CSRF token and must come from
this origin. The live page's banner links here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse

from dashboard import repository
from dashboard.alerts import journal, rules
from dashboard.alerts.evaluate import amount
from dashboard.api.deps import STORE_ID, Conn, visible_alert, visible_store
from dashboard.live_view import ago
from dashboard.pages import PageRoute, PageUser, check_csrf, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)


@router.get("/alerts", name="alerts_page")
def alerts_page(
    request: Request,
    user: PageUser,
    conn: Conn,
    store: Annotated[str, Query(pattern=f"({STORE_ID})|^$")] = "",
    rule: Annotated[str, Query(pattern=f"({STORE_ID})|^$")] = "",
    state: Literal["active", "cleared", "all"] = "all",
):
    if store:
        visible_store(store, user)
    rows = repository.list_alerts(
        conn, {store} if store else user.visible(), None if state == "all" else state, rule or None
    )
    now = datetime.now(UTC)
    alerts = [
        dict(
            alert=a,
            value=amount(a.kind, a.value),
            threshold=amount(a.kind, a.threshold),
            started=ago(a.started_at, now),
            lasted=ago(a.started_at, a.cleared_at.replace(tzinfo=UTC)).removesuffix(" ago")
            if a.cleared_at
            else None,
        )
        for a in rows
    ]
    stores = repository.list_stores(conn, user.visible())
    return render(
        request,
        "alerts.html",
        user,
        active="alerts",
        nav_store=store or (min(user.stores) if user.stores else None),
        alerts=alerts,
        stores=stores,
        store=store,
        rule=rule,
        state=state,
        rules=sorted({a.rule for a in rows} | ({rule} if rule else set())),
        back=request.url.path + ("?" + request.url.query if request.url.query else ""),
    )


@router.post("/alerts/{alert_id}/acknowledge", name="alert_acknowledge")
def alert_acknowledge(
    request: Request,
    user: PageUser,
    conn: Conn,
    alert_id: int,
    csrf_token: Annotated[str, Form()],
    back: Annotated[str, Form()] = "/alerts",
):
    check_csrf(request, csrf_token)
    store = visible_alert(conn, user, alert_id)
    try:
        journal.acknowledge(conn, alert_id, user.name, rules.load(conn, store), datetime.now(UTC))
    except journal.AckError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    conn.commit()
    target = back if back.startswith("/alerts") else "/alerts?" + urlencode(dict(store=store))
    return RedirectResponse(target, status_code=303)
