"""The web app: `create_app(settings)` builds the engine and the FastAPI app at call time.

It mounts the JSON API (dashboard.api, under /api/v1; its documentation at /docs for logged-in
users, dashboard.api_docs), /metrics (dashboard.metrics, behind a token) and, when the web
pages exist, `dashboard.pages.router` (HTML pages, static files, live stream), with the live
MQTT subscriber started and stopped in the app's lifespan (dashboard.live.start_live).
`app.state.engine`, `.storage` and `.settings` serve both.
`python -m dashboard serve` runs it with uvicorn.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware.sessions import SessionMiddleware

from dashboard import api, auth, repository
from dashboard.api_docs import add_docs
from dashboard.login_guard import LoginGuard
from dashboard.metrics import metrics_endpoint
from dashboard.settings import DEFAULT_DB_URL, Settings, SettingsError
from dashboard.storage import Storage
from footfall_core.http_errors import answer_refused_requests
from footfall_core.watchdog import Notifier

log = logging.getLogger(__name__)
SESSION_COOKIE = "footfall_session"


def create_app(settings: Settings) -> FastAPI:
    storage = Storage(settings.db_url)
    if settings.migrate:
        storage.migrate()
    pages = (
        importlib.import_module("dashboard.pages") if importlib.util.find_spec("dashboard.pages") else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with _systemd_notify():
            if pages is None:
                yield
                return
            from dashboard.live import start_live, stop_live

            start_live(app.state, settings.mqtt)
            try:
                yield
            finally:
                stop_live(app.state)

    app = FastAPI(
        lifespan=lifespan,
        title="Footfall dashboard",
        version="1",
        description="In-store analytics: per-store trends, chain comparison, heat grids, CSV export. "
        "Log in with POST /api/v1/session or send Authorization: Bearer TOKEN.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.engine = storage.engine
    app.state.storage = storage
    app.state.settings = settings
    app.state.session_policy = auth.SessionPolicy(settings.session_idle_s, settings.session_absolute_s)
    app.state.login_guard = LoginGuard()
    answer_refused_requests(app)

    @app.middleware("http")
    async def _same_origin_only(request: Request, call_next):
        """CSRF guard: cookie-authenticated writes must come from this site (SameSite=strict too)."""
        if not auth.same_origin(request):
            return JSONResponse(
                {"detail": "cross-site request refused: Origin or Referer must be this site"}, status_code=403
            )
        return await call_next(request)

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_absolute_s,
        same_site="strict",
        https_only=settings.secure_cookies,
    )

    @app.exception_handler(repository.NotFound)
    async def _not_found(request: Request, exc: repository.NotFound) -> JSONResponse:
        """A store, dataset or week the API was asked for does not exist (pages answer for
        themselves)."""
        return JSONResponse({"detail": str(exc)}, status_code=404)

    for router in api.ROUTERS:
        app.include_router(router, prefix=api.PREFIX)
    app.add_route(
        "/metrics", metrics_endpoint(storage.engine, settings.metrics_token), include_in_schema=False
    )
    add_docs(app)
    if pages is not None:
        app.include_router(pages.router)
        app.include_router(importlib.import_module("dashboard.campaign_pages").router)
        app.include_router(importlib.import_module("dashboard.alert_pages").router)
        app.include_router(importlib.import_module("dashboard.pos_pages").router)
    return app


@asynccontextmanager
async def _systemd_notify():
    """READY=1 once started, then WATCHDOG=1 from the event loop itself: if the loop hangs, the
    pings stop and systemd restarts the service (footfall-dashboard.service, Type=notify)."""
    notifier = Notifier()

    async def keepalive() -> None:
        while True:
            notifier.keepalive(True)
            await asyncio.sleep(min(1.0, notifier.interval_s or 1.0))

    pinger = asyncio.create_task(keepalive()) if notifier.interval_s else None
    notifier.ready("serving")
    try:
        yield
    finally:
        if pinger is not None:
            pinger.cancel()
        notifier.stopping()
        notifier.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help=f"SQLAlchemy URL (default $FOOTFALL_DB_URL or {DEFAULT_DB_URL})")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="listen port (default 8000)")
    parser.add_argument(
        "--secret-file", help="file holding the session secret (default $FOOTFALL_SECRET_FILE)"
    )
    parser.add_argument("--mqtt", help="broker URL for the live page (default $FOOTFALL_MQTT_URL)")
    parser.add_argument(
        "--plain-http",
        action="store_true",
        help="development only: send the session cookie over plain HTTP too (by default it is "
        "Secure: browsers send it over HTTPS only)",
    )


def main(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    env = dict(os.environ)
    if args.secret_file:
        env["FOOTFALL_SECRET_FILE"] = args.secret_file
    if args.mqtt:
        env["FOOTFALL_MQTT_URL"] = args.mqtt
    if args.plain_http:
        env["FOOTFALL_SECURE_COOKIES"] = "0"
    try:
        settings = Settings.from_env(env, db_url=args.db)
    except SettingsError as exc:
        log.error("%s", exc)
        return 2
    if not settings.secure_cookies:
        log.warning("session cookies are not Secure: for plain-HTTP development only")
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info", log_config=None)
    return 0
