"""Prometheus `/metrics` of the dashboard: what the centre has stored, read from the database at
scrape time (so it is right whichever ingest worker did the work): ingest rate over the last
minute, dead letters, cameras online. Each ingest worker also serves its own counters
(`python -m dashboard ingest --metrics-port`, on 127.0.0.1).

The figures say how big the chain is and how its devices fare, so /metrics needs a credential:
the metrics token (`FOOTFALL_METRICS_TOKEN_FILE`, what Prometheus sends as its bearer token) or
an hq user's session or API token. Without one it answers 401, with a manager's 403."""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dashboard import auth
from dashboard import tables as t
from dashboard.storage import now_utc

RATE_WINDOW_S = 60


class StoredFigures:
    """A Prometheus collector over the database."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def collect(self):
        now = now_utc()
        since = now - timedelta(seconds=RATE_WINDOW_S)
        with self.engine.connect() as conn:
            # bucket_start is indexed and live aggregates are minutes old: bound the scan with it
            recent = conn.scalar(
                sa.select(sa.func.count())
                .select_from(t.ingested)
                .where(
                    t.ingested.c.bucket_start >= now - timedelta(hours=2), t.ingested.c.received_at >= since
                )
            )
            dead_total = conn.scalar(sa.select(sa.func.count()).select_from(t.dead_letters))
            dead_by_code = conn.execute(
                sa.select(t.dead_letters.c.code, sa.func.count()).group_by(t.dead_letters.c.code)
            ).all()
            dead_hour = conn.scalar(
                sa.select(sa.func.count())
                .select_from(t.dead_letters)
                .where(t.dead_letters.c.received_at >= now - timedelta(hours=1))
            )
            online = conn.scalar(
                sa.select(sa.func.count()).select_from(t.cameras).where(t.cameras.c.status == "online")
            )
        yield GaugeMetricFamily(
            "footfall_ingest_rate",
            "Aggregates stored per second over the last minute",
            value=recent / RATE_WINDOW_S,
        )
        yield GaugeMetricFamily(
            "footfall_dead_letters", "Payloads refused by ingest and kept with their reason", value=dead_total
        )
        yield GaugeMetricFamily(
            "footfall_dead_letters_last_hour", "Dead letters received in the last hour", value=dead_hour
        )
        by_code = GaugeMetricFamily(
            "footfall_dead_letters_by_code",
            'Dead letters kept, by reason code (docs/storage.md, "Refusals and dead letters")',
            labels=["code"],
        )
        for code, count in dead_by_code:
            by_code.add_metric([code], count)
        yield by_code
        yield GaugeMetricFamily(
            "footfall_cameras_online", "Cameras whose last status is online", value=online
        )


def metrics_endpoint(engine: sa.Engine, metrics_token: str | None):
    registry = CollectorRegistry()
    registry.register(StoredFigures(engine))

    def metrics(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not (metrics_token and bearer and secrets.compare_digest(bearer, metrics_token)):
            with engine.connect() as conn:
                user = auth.request_principal(conn, request)
            if user is None:
                return JSONResponse(
                    {"detail": "send Authorization: Bearer with the metrics token or an hq user's API token"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if user.role != "hq":
                return JSONResponse(
                    {"detail": f"user {user.name!r} is a {user.role}; /metrics needs hq"}, 403
                )
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    return metrics
