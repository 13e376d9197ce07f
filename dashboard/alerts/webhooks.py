"""Posting alert transitions to webhooks: at least once, each delivery on its own.

Deliveries are rows of `alert_deliveries`, inserted with their transition (dashboard.alerts.
journal). `Deliverer` runs in the evaluator process on a thread of its own with an asyncio
loop: every `poll_s` it takes the due deliveries of the stores its evaluator holds and posts
each as a task of its own, `timeout_s` at most, so a webhook that hangs or fails never delays
another. A 2xx marks the row delivered; anything else schedules the next attempt after a
backoff that doubles from `first_retry_s` up to `max_retry_s`, and after `max_attempts` the
row is given up (kept, with its last error). A process that dies between a post and its mark
posts again: receivers get every delivery at least once, and the same `Idempotency-Key` header
(also `idempotency_key` in the body) on every attempt, to drop repeats.

The body is in the webhook's `format`:
- `slack` (the default): a Markdown `text`, what Slack's incoming webhooks (and Teams' older
  Office 365 connectors) take, with the transition's fields beside it under `footfall`;
- `teams`: a message holding one Adaptive Card (a heading and the transition's fields as
  facts), what Teams' Workflows webhooks take; nothing else at the top level;
- `json`: the transition's fields under `footfall`, with the idempotency key, for receivers of
  one's own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from dashboard import tables as t
from dashboard.alerts.evaluate import describe
from dashboard.alerts.journal import naive

log = logging.getLogger(__name__)


ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def body(row: sa.Row) -> dict:
    """The JSON posted for one delivery row joined with its event and alert, in the row's
    `format` (slack, teams or json)."""
    verb = {"fired": "fired", "cleared": "cleared", "acknowledged": f"acknowledged by {row.by_user}"}
    mark = {"fired": "🔴", "cleared": "🟢", "acknowledged": "☑️"}[row.event]
    at = row.at.replace(tzinfo=UTC)
    what = describe(row.kind, row.zone, row.camera, row.value, row.threshold)
    when = f"{at:%Y-%m-%d %H:%M:%S} UTC"
    fields = dict(
        store=row.store_id,
        alert_id=row.alert_id,
        rule=row.rule,
        kind=row.kind,
        zone=row.zone,
        camera=row.camera,
        event=row.event,
        at=at.isoformat().replace("+00:00", "Z"),
        value=row.value,
        threshold=row.threshold,
        by_user=row.by_user,
    )
    if row.format == "teams":
        return _teams_card(f"{mark} **{row.store_id}** · {row.rule} {verb[row.event]}", what, when, fields)
    if row.format == "json":
        return dict(idempotency_key=row.idempotency_key, footfall=fields)
    text = f"{mark} *{row.store_id}* · {row.rule} {verb[row.event]}: {what} ({when})"
    return dict(text=text, idempotency_key=row.idempotency_key, footfall=fields)


def _teams_card(heading: str, what: str, when: str, fields: dict) -> dict:
    """A Teams message with one Adaptive Card (schema 1.4): the heading, what was measured, and
    the transition's fields as facts."""
    facts = [
        dict(title=title, value=str(value))
        for title, value in (
            ("Store", fields["store"]),
            ("Rule", f"{fields['rule']} ({fields['kind']})"),
            ("Zone", fields["zone"]),
            ("Camera", fields["camera"]),
            ("Event", fields["event"]),
            ("At", when),
            ("Alert", fields["alert_id"]),
        )
        if value is not None
    ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            dict(type="TextBlock", text=heading, weight="Bolder", size="Medium", wrap=True),
            dict(type="TextBlock", text=what, wrap=True),
            dict(type="FactSet", facts=facts),
        ],
    }
    return dict(type="message", attachments=[dict(contentType=ADAPTIVE_CARD, contentUrl=None, content=card)])


def due(
    conn: sa.Connection, stores: list[str], now: datetime, exclude: set[int], limit: int = 100
) -> list[sa.Row]:
    """Deliveries of `stores` whose attempt is due, oldest first, with what their body needs."""
    d, e, a = t.alert_deliveries.c, t.alert_events.c, t.alerts.c
    query = (
        sa.select(
            d.id,
            d.url,
            d.format,
            d.idempotency_key,
            d.attempts,
            d.store_id,
            e.event,
            e.at,
            e.value,
            e.threshold,
            e.by_user,
            e.alert_id,
            a.rule,
            a.kind,
            a.zone,
            a.camera,
        )  # fmt: skip
        .select_from(t.alert_deliveries)
        .join(t.alert_events, e.id == d.event_id)
        .join(t.alerts, a.id == e.alert_id)
        .where(
            d.store_id.in_(stores)
            & d.delivered_at.is_(None)
            & d.gave_up_at.is_(None)
            & (d.next_at <= naive(now))
            & d.id.not_in(exclude or [-1])
        )
        .order_by(d.next_at, d.id)
        .limit(limit)
    )
    return list(conn.execute(query))


class Deliverer:
    """Posts due deliveries of the stores `held()` returns, each as its own task."""

    def __init__(
        self,
        engine: sa.Engine,
        held: Callable[[], list[str]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_s: float = 0.2,
        timeout_s: float = 5.0,
        first_retry_s: float = 1.0,
        max_retry_s: float = 600.0,
        max_attempts: int = 20,
    ) -> None:
        self.engine, self.held, self.clock = engine, held, clock
        self.poll_s, self.timeout_s = poll_s, timeout_s
        self.first_retry_s, self.max_retry_s, self.max_attempts = first_retry_s, max_retry_s, max_attempts
        self._in_flight: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="webhooks", daemon=True)

    def start(self) -> Deliverer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.timeout_s + 5)

    async def _run(self) -> None:
        tasks: set[asyncio.Task] = set()
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
            while not self._stop.is_set():
                stores = self.held()
                try:
                    rows = await asyncio.to_thread(self._due, stores) if stores else []
                except sa.exc.SQLAlchemyError as exc:  # the database is away: try again next round
                    log.error("webhooks: cannot read due deliveries: %s", exc)
                    rows = []
                for row in rows:
                    self._in_flight.add(row.id)
                    task = asyncio.create_task(self._post(client, row))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                await asyncio.sleep(self.poll_s)
            if tasks:
                await asyncio.wait(tasks, timeout=self.timeout_s)

    def _due(self, stores: list[str]) -> list[sa.Row]:
        with self.engine.connect() as conn:
            return due(conn, stores, self.clock(), set(self._in_flight))

    async def _post(self, client: httpx.AsyncClient, row: sa.Row) -> None:
        error = None
        try:
            response = await client.post(
                row.url, json=body(row), headers={"Idempotency-Key": row.idempotency_key}
            )
            if not response.is_success:
                error = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        try:
            await asyncio.to_thread(self._settle, row, error)
        except sa.exc.SQLAlchemyError as exc:  # not marked: it is posted again (at least once)
            log.error("webhooks: cannot record delivery %d: %s", row.id, exc)
        finally:
            self._in_flight.discard(row.id)

    def _settle(self, row: sa.Row, error: str | None) -> None:
        now = naive(self.clock())
        attempts = row.attempts + 1
        values: dict = dict(attempts=attempts)
        if error is None:
            values["delivered_at"] = now
        else:
            values["last_error"] = error[:500]
            if attempts >= self.max_attempts:
                values["gave_up_at"] = now
                log.error("webhook %s: gave up after %d attempts: %s", row.url, attempts, error)
            else:
                delay_s = min(self.max_retry_s, self.first_retry_s * 2 ** (attempts - 1))
                values["next_at"] = now + timedelta(seconds=delay_s)
                log.warning(
                    "webhook %s: attempt %d failed (%s); next in %.0f s", row.url, attempts, error, delay_s
                )
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(t.alert_deliveries).where(t.alert_deliveries.c.id == row.id).values(**values)
            )
