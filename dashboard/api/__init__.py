"""The JSON API under /api/v1: one router per resource (see `ROUTERS`), OpenAPI at /docs."""

from __future__ import annotations

from dashboard.api import (
    alerts,
    campaigns,
    compare,
    dead_letters,
    export,
    health,
    heat,
    live,
    pos,
    session,
    stores,
    trends,
)

PREFIX = "/api/v1"
ROUTERS = (
    session.router,
    stores.router,
    live.router,
    trends.router,
    compare.router,
    heat.router,
    health.router,
    export.router,
    dead_letters.router,
    campaigns.router,
    pos.router,
    alerts.router,
)
