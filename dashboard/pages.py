"""The dashboard's web pages: login, store live, trends, compare (server-rendered Jinja2 with
Plotly figures built by dashboard.charts), the live SSE stream, and their static files.

dashboard.app includes `router` and runs dashboard.live's `start_live`/`stop_live` in its
lifespan (the hub is `app.state.live_hub`). Errors on pages are HTML pages for browsers
(`PageRoute`), JSON otherwise. Every page needs a logged-in user;
a store page for a store the user may not see is a 403 before any query runs. Forms that
change state (login, logout) carry a per-session CSRF token *and* must come from this origin
(auth.same_origin), on top of the SameSite=strict session cookie.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import plotly
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from dashboard import auth, charts, o2o_view, plans, pos, repository
from dashboard.api.deps import STORE_ID, YEARS, Conn, csv_response, date_range, visible_store
from dashboard.api.session import checked_login
from dashboard.charts import FloorGeometry, figure_json
from dashboard.live import LiveHub
from dashboard.live_view import live_state
from dashboard.read_models import Comparison, Store, Trends

HERE = Path(__file__).parent
STATIC = HERE / "static"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
CONGESTION_UNIT = "people"
PLAN_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"  # an SVG runs nothing
templates = Jinja2Templates(directory=HERE / "templates")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


templates.env.filters["duration"] = _duration
templates.env.filters["number"] = _number


def page_user(request: Request, conn: Conn) -> auth.Principal:
    """The logged-in user; anyone else is sent to the login page (303) and back afterwards."""
    user = auth.request_principal(conn, request)
    if user is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "log in first", headers={"Location": f"/login?next={quote(back, safe='')}"})
    return user


PageUser = Annotated[auth.Principal, Depends(page_user)]


def page_store(store_id: str, user: PageUser, conn: Conn) -> Store:
    """The path's store if the user may see it: 403 before any store data is read, 404 if it
    does not exist."""
    visible_store(store_id, user)
    try:
        return repository.get_store(conn, store_id)
    except repository.NotFound as exc:
        raise HTTPException(404, str(exc)) from None


PageStore = Annotated[Store, Depends(page_store)]


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


def check_csrf(request: Request, token: str) -> None:
    expected = request.session.get("csrf")
    if not expected or not secrets.compare_digest(expected, token) or not auth.same_origin(request):
        raise HTTPException(403, "form expired or sent from another site: reload the page and try again")


def render(request: Request, template: str, user: auth.Principal | None, status_code: int = 200, **context):
    return templates.TemplateResponse(
        request, template, dict(context, user=user, csrf_token=csrf_token(request)), status_code=status_code
    )


class PageRoute(APIRoute):
    """A page route: an HTTPException (from the route or its dependencies) becomes an HTML page
    with the reason and no data for browsers, and a 303 becomes a plain redirect."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                if exc.status_code == 303:
                    return RedirectResponse(exc.headers["Location"], status_code=303)
                if "text/html" not in request.headers.get("accept", ""):
                    raise
                heading = {403: "Not allowed", 404: "Not found", 422: "Bad request", 503: "Unavailable"}.get(
                    exc.status_code, "Error"
                )
                return templates.TemplateResponse(
                    request,
                    "error.html",
                    dict(status=exc.status_code, heading=heading, message=exc.detail, user=None),
                    status_code=exc.status_code,
                )

        return handle


router = APIRouter(include_in_schema=False, route_class=PageRoute)


def script_json(value) -> Markup:
    """JSON (or a JSON string) made safe to put inside <script type="application/json">:
    no "</" can close the element, whatever a store or zone name holds."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return Markup(text.replace("</", "<\\/"))


templates.env.filters["script_json"] = script_json


def _plan_url(request: Request, store: Store) -> str | None:
    """The plan image's URL, versioned by its content (so browsers may keep it a long time)."""
    image = store.floor_plan.image
    if image is None:
        return None
    return request.url_for("plan_image", store_id=store.id).path + f"?v={image.sha256[:16]}"


def _newest_seen(stores: list[Store]) -> datetime:
    """The end of the newest bucket any of these stores' cameras sent (aware UTC), never later
    than now: a camera whose clock ran ahead must not move the pages' default dates."""
    now = datetime.now(UTC)
    seen = [c.last_seen for s in stores for c in s.cameras if c.last_seen]
    return min(max(seen).replace(tzinfo=UTC), now) if seen else now


def _local_today(store: Store) -> date:
    """The store's local date of its newest data (cameras' last bucket), else today."""
    return _newest_seen([store]).astimezone(ZoneInfo(store.timezone)).date()


# ---- login -------------------------------------------------------------------------------


def _safe_next(next_url: str) -> str:
    """Only local paths: a login link must not bounce the user to another site."""
    return next_url if next_url.startswith("/") and not next_url.startswith("//") else "/"


@router.get("/login", name="login_page")
def login_page(request: Request, next: str = "/"):
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login", name="login_submit")
def login_submit(
    request: Request,
    conn: Conn,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
):
    check_csrf(request, csrf_token)
    try:
        user = checked_login(request, conn, username, password)
    except HTTPException as refused:  # 429 or 503: the login page again, saying how long to wait
        response = render(
            request,
            "login.html",
            None,
            status_code=refused.status_code,
            next=_safe_next(next),
            error=f"{str(refused.detail).capitalize()}.",
        )
        response.headers.update(refused.headers or {})
        return response
    if user is None:
        return render(
            request,
            "login.html",
            None,
            status_code=401,
            next=_safe_next(next),
            error="Wrong user name or password.",
        )
    auth.log_in(conn, request, user)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", name="logout")
def logout(request: Request, conn: Conn, csrf_token: Annotated[str, Form()]):
    check_csrf(request, csrf_token)
    auth.log_out(conn, request)
    return RedirectResponse("/login", status_code=303)


@router.get("/", name="home")
def home(user: PageUser, conn: Conn):
    """HQ lands on the comparison, a store manager on their first store's live page."""
    if user.stores is None:
        return RedirectResponse("/compare", status_code=303)
    first = min(user.stores, default=None)
    return RedirectResponse(f"/stores/{first}/live" if first else "/compare", status_code=303)


# ---- store live --------------------------------------------------------------------------


def _hub(request: Request) -> LiveHub:
    hub = getattr(request.app.state, "live_hub", None)
    if hub is None:
        raise HTTPException(503, "the live view is off: set FOOTFALL_MQTT_URL for the dashboard")
    return hub


def _live_json(request: Request, store: Store, hub: LiveHub) -> dict[str, Any]:
    geometry = FloorGeometry.from_store(store, _plan_url(request, store))
    return live_state(geometry, hub.snapshot(store.id), store.cameras, datetime.now(UTC))


@router.get("/stores/{store_id}/live", name="store_live")
def store_live(request: Request, user: PageUser, store: PageStore, conn: Conn):
    state = _live_json(request, store, _hub(request))
    return render(
        request,
        "live.html",
        user,
        store=store,
        nav_store=store.id,
        active="live",
        initial=state,
        stores=repository.list_stores(conn, user.visible()),
    )


@router.get("/live", name="live_redirect")
def live_redirect(user: PageUser, store: Annotated[str, Query(pattern=STORE_ID)]):
    """Target of the live page's store picker."""
    return RedirectResponse(f"/stores/{store}/live", status_code=303)


def _stream_store(request: Request, store_id: str) -> Store:
    """`page_store` on a connection of its own, given back at once: a stream stays open for
    hours, and a `Conn` dependency would hold its pooled connection as long (15 open live
    pages would exhaust the pool and every other page would wait for one)."""
    with request.app.state.engine.connect() as conn:
        return page_store(store_id, page_user(request, conn), conn)


@router.get("/stores/{store_id}/live/events", name="store_live_events")
async def store_live_events(request: Request, store_id: str):
    """Server-Sent Events: the whole live state of the store at every change (and every few
    seconds as a heartbeat). The registry part (cameras' last bucket) is read once; who may see
    the store is checked again every `stream_recheck_s`, and the stream ends when not."""
    store = await asyncio.to_thread(_stream_store, request, store_id)
    hub = _hub(request)
    recheck_s = request.app.state.settings.stream_recheck_s

    async def stream():
        checked = time.monotonic()
        async for _snapshot in hub.updates(store.id, heartbeat_s=min(5.0, recheck_s)):
            if await request.is_disconnected():
                return
            if time.monotonic() - checked >= recheck_s:
                # The session may have ended (logout elsewhere, password change, users revoke)
                # or lost the store since the stream opened: then the stream ends.
                try:
                    await asyncio.to_thread(_stream_store, request, store_id)
                except HTTPException:
                    return
                checked = time.monotonic()
            state = await asyncio.to_thread(_live_json, request, store, hub)
            yield f"id: {state['version']}\ndata: {json.dumps(state)}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/stores/{store_id}/plan-image", name="plan_image")
def plan_image(request: Request, store: PageStore):
    """The uploaded plan image, from the content-addressed store only (dashboard.plans). An SVG
    is served under a policy that runs nothing, should anyone open it on its own."""
    image = store.floor_plan.image
    path = image and plans.data_path(request.app.state.settings.data_dir, image.sha256, image.media_type)
    if path is None or not path.is_file():
        raise HTTPException(
            404, f"store {store.id!r} has no plan image (HQ uploads one: PUT /api/v1/stores/{{id}}/plan)"
        )
    return FileResponse(
        path,
        media_type=image.media_type,
        headers={
            "Cache-Control": "private, max-age=86400",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": PLAN_POLICY,
        },
    )


# ---- trends ------------------------------------------------------------------------------


def _parse_week(text: str | None, store: Store) -> tuple[int, int]:
    if not text:
        year, week, _ = _local_today(store).isocalendar()
        return year, week
    try:
        year, week = text.upper().split("-W")
        year, week = int(year), int(week)
    except ValueError:
        raise HTTPException(422, f"week {text!r}: expected an ISO week like 2026-W09") from None
    if not YEARS[0] <= year <= YEARS[1]:
        raise HTTPException(422, f"week {text!r}: the year must be within {YEARS[0]}-{YEARS[1]}")
    return year, week


def _iso(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _change(value: float | None) -> tuple[str | None, str]:
    if value is None:
        return None, ""
    return f"{value:+.0%}", "up" if value > 0 else "down" if value < 0 else ""


def trends_figures(data: Trends, geometry: FloorGeometry) -> dict[str, str]:
    """The trends page's charts as Plotly JSON."""
    unit = "people / cell (mean)"
    return dict(
        by_hour=figure_json(charts.hour_of_day_bars(data.occupancy_by_hour, CONGESTION_UNIT)),
        by_weekday=figure_json(charts.weekday_bars(data.occupancy_by_weekday, CONGESTION_UNIT)),
        hour_weekday=figure_json(charts.hour_weekday_heatmap(data.occupancy_hour_weekday, CONGESTION_UNIT)),
        heat=figure_json(
            charts.floor_heatmap(geometry, data.heat, data.cell_m, title="Congestion this week", unit=unit)
        ),
        flows=figure_json(
            charts.flow_figure(
                geometry,
                data.directions,
                data.flow_cell_m or 1.0,
                [(t.from_zone, t.to_zone, t.count) for t in data.transitions],
            )
        ),
        difference=figure_json(
            charts.difference_heatmap(geometry, data.heat_difference, data.cell_m, unit=unit)
        ),
        dwell=figure_json(
            charts.dwell_histogram(data.dwell_bins_s, {z.zone: z.histogram for z in data.zones})
        ),
        queue_waits=figure_json(
            charts.dwell_histogram(
                data.dwell_bins_s, {q.zone: q.histogram for q in data.queues}, title="Queue waits this week"
            )
        ),
    )


@router.get("/trends", name="trends_redirect")
def trends_redirect(user: PageUser, store: Annotated[str, Query(pattern=STORE_ID)], week: str | None = None):
    """Target of the store/week picker form."""
    return RedirectResponse(
        f"/stores/{store}/trends" + (f"?week={quote(week)}" if week else ""), status_code=303
    )


@router.get("/stores/{store_id}/trends", name="store_trends")
def store_trends(request: Request, user: PageUser, store: PageStore, conn: Conn, week: str | None = None):
    year, number = _parse_week(week, store)
    try:
        data = repository.week_trends(conn, store.id, year, number)
    except repository.NotFound as exc:
        raise HTTPException(422, str(exc)) from None
    geometry = FloorGeometry.from_store(store, _plan_url(request, store))
    footfall_change, footfall_dir = _change(data.footfall_change)
    dwell_change, dwell_dir = _change(data.mean_dwell_change)
    kpis = [
        dict(
            key="footfall",
            value=f"{data.footfall:,}",
            label="people in",
            change=footfall_change,
            direction=footfall_dir,
        ),
        dict(
            key="dwell",
            value=_duration(data.mean_dwell_s),
            label="mean dwell",
            change=dwell_change,
            direction=dwell_dir,
        ),
        dict(
            key="peak",
            value=f"{max(range(24), key=data.occupancy_by_hour.__getitem__):02d}:00",
            label="busiest hour",
            change=None,
            direction="",
        ),
    ]
    sales = o2o_view.week_conversion(conn, store.id, data.first)
    if sales["conversion"] is not None:
        change, direction = _change(
            sales["conversion"] / sales["previous_conversion"] - 1 if sales["previous_conversion"] else None
        )
        kpis.append(
            dict(
                key="conversion",
                value=f"{sales['conversion']:.1%}",
                label="conversion",
                change=change,
                direction=direction,
            )
        )
    following = data.first + timedelta(days=7)
    visible = repository.list_stores(conn, user.visible())
    health = repository.camera_health(conn, store.id, data.first, data.last)
    return render(
        request,
        "trends.html",
        user,
        store=store,
        nav_store=store.id,
        active="trends",
        data=data,
        stores=visible,
        week_label=f"{year}-W{number:02d}",
        previous_week=_iso(data.first - timedelta(days=7)),
        next_week=_iso(following) if following <= _local_today(store) else None,
        has_data=bool(data.heat or data.zones or data.footfall),
        kpis=kpis,
        figures=trends_figures(data, geometry) | sales["figures"],
        health=health.cameras,
        campaigns=sales["campaigns"],
        has_sales=sales["conversion"] is not None,
        pos_limits=(pos.MAX_IMPORT_BYTES, pos.MAX_IMPORT_ROWS),
    )


# ---- compare -----------------------------------------------------------------------------


def _compare_range(conn, user: auth.Principal, start: date | None, end: date | None) -> tuple[date, date]:
    """The requested range, or the last 7 days up to the newest data the user may see."""
    if end is None:
        end = _newest_seen(repository.list_stores(conn, user.visible())).date()
    return date_range(start or end - timedelta(days=6), end)


def _compare_data(
    conn: sa.Connection, user: auth.Principal, start: date | None, end: date | None, region: str, tag: str
) -> Comparison:
    first, last = _compare_range(conn, user, start, end)
    return repository.compare_stores(conn, first, last, user.visible(), region or None, tag or None)


def _partial_days(stores: list[Store], last: date) -> dict[str, str]:
    """Per store, the range's last day if it is today in the store's time zone: not over yet,
    so its footfall is so far, not a fall."""
    now = datetime.now(UTC)
    return {s.id: last.isoformat() for s in stores if now.astimezone(ZoneInfo(s.timezone)).date() == last}


@router.get("/compare", name="compare_page")
def compare_page(
    request: Request,
    user: PageUser,
    conn: Conn,
    start: date | None = None,
    end: date | None = None,
    region: str = "",
    tag: str = "",
):
    data = _compare_data(conn, user, start, end, region, tag)
    everything = repository.list_stores(conn, user.visible())
    days = [d.isoformat() for d in data.days]
    rows = data.stores
    series = {r.store: list(zip(days, r.footfall_by_day)) for r in rows}
    partial = _partial_days(everything, data.last)
    periods = o2o_view.campaign_periods(conn, data.first, data.last, {r.store for r in rows})
    figures = dict(
        **o2o_view.compare_figures(rows, periods, charts.daily_lines(series, "people in", partial=partial)),
        density=figure_json(
            charts.ranking_bars(
                {r.store: 100 * (r.occupancy_per_m2 or 0) for r in rows},
                "people per 100 m²",
                "Congestion per 100 m²",
            )
        ),
        dwell=figure_json(
            charts.ranking_bars({r.store: (r.mean_dwell_s or 0) / 60 for r in rows}, "minutes", "Mean dwell")
        ),
        multiples=figure_json(charts.small_multiples(series, "people in", partial=partial)),
    )
    query = urlencode(dict(start=data.first, end=data.last, region=region, tag=tag))
    return render(
        request,
        "compare.html",
        user,
        active="compare",
        rows=rows,
        day_count=max(1, len(days)),
        figures=figures,
        first=data.first,
        last=data.last,
        region=region,
        tag=tag,
        query=query,
        regions=sorted({s.region for s in everything if s.region}),
        tags=sorted({t for s in everything for t in s.tags}),
        nav_store=rows[0].store if rows else min(user.stores or [""]) or None,
        campaigns=periods,
        has_sales=any(r.conversion is not None for r in rows),
    )


@router.get("/compare/daily.csv", name="compare_daily_csv")
def compare_daily_csv(
    user: PageUser,
    conn: Conn,
    start: date | None = None,
    end: date | None = None,
    region: str = "",
    tag: str = "",
):
    """Footfall per store per local day, one row each (long format, for spreadsheets)."""
    data = _compare_data(conn, user, start, end, region, tag)
    rows = [
        dict(store=r.store, date=d, footfall=n)
        for r in data.stores
        for d, n in zip(data.days, r.footfall_by_day)
    ]
    return csv_response(rows, f"footfall-{data.first}-{data.last}.csv")


# ---- static files ------------------------------------------------------------------------


@router.get("/static/plotly.min.js", name="plotly_js")
def plotly_js() -> FileResponse:
    """Plotly's browser bundle from the installed plotly package (the dashboard never uses a CDN)."""
    return FileResponse(
        PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/static/{name}", name="page_static")
def page_static(name: str) -> Response:
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=300"})
