"""What the centre refuses before it stores an aggregate, and why (docs/storage.md, "Refusals").

The contract (`footfall_core.contract`) is what any receiver can check alone: a payload's shape
and its physical limits. This module checks what needs the centre's registry and history,
inside the transaction of `Storage.write_aggregates`, and names each refusal with one word
(`dead_letters.code`):

- `plan`: a grid or direction cell off the store's floor plan by more than PLAN_MARGIN_CELLS
  (a store registered without a plan counts as UNPLANNED_EXTENT_M square), so that one device
  cannot grow a store's heat grids without bound;
- `horizon`: a bucket older than the dedup horizon, whose id may have been forgotten;
- `conflict`: an id stored before with other content (an edge restarted in mid-bucket sends
  its bucket again, different): the first one stays, the other is kept for a person to see;
- `registry`: a message that would register a camera, zone or line beyond the store's cap.

A batch is admitted in rounds (`rounds`) in which every id appears once, so that a batch gives
the same outcome as its messages written one at a time, in order.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.kinds import writer
from dashboard.rollups import upsert
from footfall_core.contract import Aggregate

PLAN_MARGIN_CELLS = 2  # a plan imported a little smaller than the edge's stays usable
UNPLANNED_EXTENT_M = 100.0  # a store without a plan in the registry: a 100 m × 100 m floor
DEFAULT_NAMES_CAP = 64  # cameras, zones and lines a message may register, per store and each


@dataclass(frozen=True)
class Refusal:
    """One message not stored: its id, the one-word code and the reason in words."""

    id: str
    code: str
    reason: str


@dataclass(frozen=True)
class Written:
    """What one `write_aggregates` did with each message, by id: `stored` (new), `duplicates`
    (stored before with the same content: nothing changed) and `refused` (dead-lettered in the
    same transaction). Every message of the batch is in exactly one of them."""

    stored: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    refused: tuple[Refusal, ...] = ()


@dataclass(frozen=True)
class StoreRow:
    """What admission needs of a registered store."""

    timezone: str
    width_m: float | None
    height_m: float | None


@dataclass
class Outcome:
    """A batch's outcome while it is admitted; `refused` keeps the messages for their dead letters."""

    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refused: list[tuple[Aggregate, str, str]] = field(default_factory=list)

    def refuse(self, message: Aggregate, code: str, reason: str) -> None:
        self.refused.append((message, code, reason))

    def written(self) -> Written:
        return Written(
            tuple(self.stored), tuple(self.duplicates), tuple(Refusal(m.id, c, r) for m, c, r in self.refused)
        )


def content_hash(message: Aggregate) -> bytes:
    """sha256 of a message's content in its canonical JSON: equal content, equal hash."""
    return hashlib.sha256(message.to_json()).digest()


def rounds(messages: Sequence[Aggregate]) -> list[list[Aggregate]]:
    """The batch cut, in arrival order, where an id comes again: each round holds an id at most
    once, and every decision in it (plan, duplicate, conflict, cap) is what writing its messages
    one at a time would give (a batch without repeats is one round)."""
    out: list[list[Aggregate]] = [[]]
    ids: set[str] = set()
    for message in messages:
        if message.id in ids:
            out.append([])
            ids.clear()
        out[-1].append(message)
        ids.add(message.id)
    return out if out[0] else []


def store_rows(conn: sa.Connection, store_ids: set[str]) -> dict[str, StoreRow]:
    """The registered stores among `store_ids` (unknown ones are absent)."""
    s = t.stores.c
    rows = conn.execute(sa.select(s.id, s.timezone, s.width_m, s.height_m).where(s.id.in_(store_ids)))
    return {r.id: StoreRow(r.timezone, r.width_m, r.height_m) for r in rows}


def admit(
    conn: sa.Connection,
    messages: list[Aggregate],
    stores: dict[str, StoreRow],
    names_cap: int,
    now: datetime,
    outcome: Outcome,
) -> list[Aggregate]:
    """The messages of one round (unique ids) to store now, their ids claimed; the others are
    recorded in `outcome` as duplicates or refusals."""
    on_plan = [m for m in messages if _on_plan(m, stores.get(m.store), outcome)]
    fresh = _claim(conn, on_plan, now, outcome)
    admitted = _within_caps(conn, fresh, names_cap, outcome)
    if len(admitted) < len(fresh):  # refused after claiming: their ids are free again
        kept = {m.id for m in admitted}
        conn.execute(
            sa.delete(t.ingested).where(t.ingested.c.id.in_([m.id for m in fresh if m.id not in kept]))
        )
    outcome.stored.extend(m.id for m in admitted)
    return admitted


def _on_plan(message: Aggregate, store: StoreRow | None, outcome: Outcome) -> bool:
    extent = writer(message).extent(message)
    if extent is None:
        return True
    width_m, height_m = (store.width_m, store.height_m) if store else (None, None)
    planned = width_m is not None and height_m is not None
    if not planned:
        width_m = height_m = UNPLANNED_EXTENT_M
    across = math.ceil(width_m / extent.cell_m) + PLAN_MARGIN_CELLS
    down = math.ceil(height_m / extent.cell_m) + PLAN_MARGIN_CELLS
    if extent.max_ix < across and extent.max_iy < down:
        return True
    plan = (
        f"its {width_m:g} × {height_m:g} m plan" if planned else f"{UNPLANNED_EXTENT_M:g} m square (no plan)"
    )
    outcome.refuse(
        message,
        "plan",
        f"cell ({extent.max_ix}, {extent.max_iy}) of {extent.cell_m:g} m is off store {message.store!r}'s "
        f"floor: {plan} holds cells below ({across}, {down}) with the margin",
    )
    return False


def _claim(
    conn: sa.Connection, messages: list[Aggregate], now: datetime, outcome: Outcome
) -> list[Aggregate]:
    """The messages whose id is new, with their ids and content hashes recorded.

    Claiming is one INSERT … ON CONFLICT DO NOTHING RETURNING id: an id comes back only to the
    transaction that recorded it first. An id that does not come back was stored before: with
    the same content hash it is a duplicate, with another a conflict."""
    if not messages:
        return []
    horizon = conn.scalar(sa.select(t.meta.c.value).where(t.meta.c.key == "dedup_horizon"))
    horizon_at = datetime.fromisoformat(horizon) if horizon else None
    hashes = {m.id: content_hash(m) for m in messages}
    old = {m.id for m in messages if horizon_at and _naive(m.bucket_start) < horizon_at}
    claimed = set(
        upsert(
            conn,
            t.ingested,
            [
                dict(
                    id=m.id, bucket_start=_naive(m.bucket_start), received_at=now, content_sha256=hashes[m.id]
                )
                for m in messages
                if m.id not in old
            ],
            nothing=True,
            returning=t.ingested.c.id,
        )
    )
    seen = {}
    if len(claimed) < len(messages):
        ingested = t.ingested.c
        unclaimed = [m.id for m in messages if m.id not in claimed]
        query = sa.select(ingested.id, ingested.content_sha256).where(ingested.id.in_(unclaimed))
        seen = {row.id: row.content_sha256 for row in conn.execute(query)}
    fresh = []
    for m in messages:
        if m.id in claimed:
            fresh.append(m)
        elif m.id not in seen:
            outcome.refuse(
                m, "horizon", f"bucket {m.id} is older than the dedup horizon {horizon} (retention)"
            )
        elif seen[m.id] is None or bytes(seen[m.id]) == hashes[m.id]:
            outcome.duplicates.append(m.id)
        else:
            outcome.refuse(m, "conflict", f"{m.id} was stored before with other content; the first one stays")
    return fresh


def _within_caps(
    conn: sa.Connection, messages: list[Aggregate], cap: int, outcome: Outcome
) -> list[Aggregate]:
    """The messages that register no more than `cap` cameras, zones and lines per store (each),
    counting those the store has (retired ones too); in order, so the first names win."""
    if not messages:
        return []
    stores = {m.store for m in messages}
    known = {}
    for kind, table in (("camera", t.cameras), ("zone", t.zones), ("line", t.lines)):
        names = defaultdict(set)
        for store, name in conn.execute(
            sa.select(table.c.store_id, table.c.name).where(table.c.store_id.in_(stores))
        ):
            names[store].add(name)
        known[kind] = names
    admitted = []
    for m in messages:
        named = writer(m).names(m)
        wanted = {"camera": {m.camera}, "zone": named.zones, "line": named.lines}
        new = {kind: set(wanted[kind]) - known[kind][m.store] for kind in wanted}
        over = [kind for kind, names in new.items() if names and len(known[kind][m.store]) + len(names) > cap]
        if over:
            kind = over[0]
            outcome.refuse(
                m,
                "registry",
                f"{kind} {', '.join(sorted(new[kind])[:5])} would give store {m.store!r} more than {cap} "
                f"{kind}s (it has {len(known[kind][m.store])})",
            )
            continue
        for kind, names in new.items():
            known[kind][m.store] |= names
        admitted.append(m)
    return admitted


def _naive(value: datetime) -> datetime:
    """The database convention: naive UTC (contract times are aware UTC)."""
    return value.astimezone(UTC).replace(tzinfo=None)
