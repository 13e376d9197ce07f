"""`python -m dashboard seed`: a simulated chain of stores with weeks of believable history.

Every value is generated, marked `simulated=True` (every message, and every made-up store; a
real store seeded from its config stays a real store with simulated history), and written through
`Storage.write_aggregates` like real data, so the hour and day rollups are exercised. Buckets
are one hour long (bucket_s=3600, the contract's largest): 50 stores × 8 weeks is about 170k
messages instead of 10M at one minute. The raw rows of those buckets older than the raw
retention (14 days) before `--end` are then pruned, exactly as the daily prune would have on
that day: a history seeded up to a past day looks as it did then, whatever today is.

The model: opening hours (Mon–Sat 9–21, Sunday 10–18, street shops closed on Sunday),
arrivals per hour with a lunch and an evening peak, busier Fridays and Saturdays, a slow trend
and noise; occupancy from arrivals × visit time (Little's law); zones taking shares of it;
dwell times log-normal per zone kind; heat as Gaussian hot spots at the entrance, the checkout
and the aisles; walking directions along the aisles; transitions entrance → aisles → checkout.

With `--campaign` a campaign multiplies its stores' arrivals over the last days and is recorded
(a known lift for the campaign page to find); `--pos` adds point-of-sale transactions
(dashboard.seed_o2o).

    python -m dashboard seed --db URL --stores 50 --weeks 8
    python -m dashboard seed --db URL --store-config examples/pets09.yaml --weeks 3
    python -m dashboard seed --db URL --stores 12 --weeks 6 --pos --campaign store-001,store-002,store-003
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from dashboard import pos, registry, seed_o2o
from dashboard.seed_o2o import SimulatedCampaign, Till, boost
from dashboard.settings import add_db_argument
from dashboard.storage import Storage
from footfall_core.contract import (
    FlowsAggregate,
    GridAggregate,
    HealthAggregate,
    LineCount,
    LinesAggregate,
    Transition,
    ZonesAggregate,
    ZoneStats,
)
from footfall_core.store import StoreConfig, load_config

log = logging.getLogger(__name__)
REGIONS = {
    "north": "Europe/London",
    "south": "Europe/Madrid",
    "east": "Europe/Berlin",
    "west": "Europe/Dublin",
    "central": "Europe/Paris",
}
KINDS = ("mall", "street", "outlet", "station")
VISIT_S = 12 * 60  # mean time a visitor spends in the store
DWELL_MEAN_S = {"entrance": 15.0, "checkout": 150.0, "aisle": 90.0}


@dataclass
class SeedStore:
    """A store to simulate: its registry record and the geometry the generator uses (metres)."""

    record: registry.StoreRecord
    camera: str
    cell_m: float
    peak_per_hour: float  # arrivals per hour at the busiest time
    closed_sunday: bool
    heat_weights: list[tuple[int, int, float]]  # (ix, iy, share of person-seconds), shares sum to 1
    zone_share: dict[str, float]  # share of the store's person-seconds spent in each zone
    zone_kind: dict[str, str]
    flow_cells: list[tuple[int, int, int]]  # (ix, iy, main direction bin) at FLOW_CELL_M
    min_dwell_s: float = 10.0
    made_up: bool = True  # False for a real store (from its config) given simulated history


FLOW_CELL_M = 2.0


def _zone_kind(name: str) -> str:
    return (
        "entrance"
        if "entr" in name or "door" in name
        else "checkout"
        if "check" in name or "till" in name
        else "aisle"
    )


def _layout(
    record: registry.StoreRecord,
    camera: str,
    cell_m: float,
    peak: float,
    closed_sunday: bool,
    rng: np.random.Generator,
    min_dwell_s: float = 10.0,
) -> SeedStore:
    """Hot spots on the zones' centres (entrance and checkout hotter), shares by zone area."""
    plan = record.floor_plan
    ox, oy = plan.origin_m
    nx, ny = int(plan.width_m / cell_m), int(plan.height_m / cell_m)
    xs, ys = np.meshgrid(ox + (np.arange(nx) + 0.5) * cell_m, oy + (np.arange(ny) + 0.5) * cell_m)
    weight = np.full(xs.shape, 0.02)
    flow_cells, kinds, areas = [], {}, {}
    for zone in record.zones:
        poly = np.asarray(zone.polygon_m)
        cx, cy = poly.mean(0)
        sx, sy = np.ptp(poly[:, 0]) / 3 + 0.5, np.ptp(poly[:, 1]) / 3 + 0.5
        kinds[zone.name] = _zone_kind(zone.name)
        strength = {"entrance": 3.0, "checkout": 2.0, "aisle": 1.0}[kinds[zone.name]] * rng.uniform(0.7, 1.3)
        weight += strength * np.exp(-(((xs - cx) / sx) ** 2) - ((ys - cy) / sy) ** 2)
        areas[zone.name] = zone.area_m2 * strength
        along_y = np.ptp(poly[:, 1]) >= np.ptp(poly[:, 0])
        for fx in np.arange(poly[:, 0].min(), poly[:, 0].max(), FLOW_CELL_M):
            for fy in np.arange(poly[:, 1].min(), poly[:, 1].max(), FLOW_CELL_M):
                flow_cells.append(
                    (int((fx - ox) // FLOW_CELL_M), int((fy - oy) // FLOW_CELL_M), 2 if along_y else 0)
                )
    weight[weight < 0.05 * weight.max()] = 0
    weight /= weight.sum()
    iy, ix = np.nonzero(weight)
    total_area = sum(areas.values()) or 1.0
    return SeedStore(
        record,
        camera,
        cell_m,
        peak,
        closed_sunday,
        [(int(a), int(b), float(weight[b, a])) for a, b in zip(ix, iy)],
        {z: 0.8 * a / total_area for z, a in areas.items()},
        kinds,
        sorted(set(flow_cells)),
        min_dwell_s,
    )


def generated_store(index: int, rng: np.random.Generator) -> SeedStore:
    """A made-up store: size, region, kind; an entrance, a checkout and 3–6 aisles."""
    region = list(REGIONS)[index % len(REGIONS)]
    kind = KINDS[int(rng.integers(len(KINDS)))]
    width, height = float(rng.integers(20, 61)), float(rng.integers(15, 41))
    aisles = int(rng.integers(3, 7))
    zones = [
        dict(
            name="entrance",
            polygon_m=[
                [width / 2 - 3, height - 4],
                [width / 2 + 3, height - 4],
                [width / 2 + 3, height],
                [width / 2 - 3, height],
            ],
        ),
        dict(
            name="checkout",
            polygon_m=[
                [width - 10, height - 8],
                [width - 1, height - 8],
                [width - 1, height - 4],
                [width - 10, height - 4],
            ],
        ),
    ]
    step = (width - 4) / aisles
    for k in range(aisles):
        x0 = 2 + k * step
        zones.append(
            dict(
                name=f"aisle-{k + 1}",
                polygon_m=[[x0, 2], [x0 + step * 0.6, 2], [x0 + step * 0.6, height - 10], [x0, height - 10]],
            )
        )
    record = registry.StoreRecord.model_validate(
        dict(
            store=dict(
                id=f"store-{index + 1:03d}",
                name=f"{region.title()} {kind} {index + 1}",
                region=region,
                tags=[kind] + (["flagship"] if width * height > 1800 else []),
                timezone=REGIONS[region],
            ),
            floor_plan=dict(width_m=width, height_m=height),
            zones=zones,
            lines=[
                dict(name="door", start_m=[width / 2 + 3, height - 0.5], end_m=[width / 2 - 3, height - 0.5])
            ],
        )
    )
    peak = width * height / 6 * rng.uniform(0.6, 1.4) * (1.5 if kind == "mall" else 1.0)
    return _layout(record, "cam1", 1.0, peak, kind == "street", rng)


def configured_store(config: StoreConfig, rng: np.random.Generator) -> SeedStore:
    """The store of an edge config: its own plan, zones, lines, camera and cell size."""
    record = registry.StoreRecord.from_config(config)
    peak = config.floor_plan.width_m * config.floor_plan.height_m / 8
    store = _layout(
        record, config.cameras[0].name, config.analysis.cell_m, peak, False, rng, config.analysis.min_dwell_s
    )
    store.made_up = False
    return store


def arrivals_per_hour(
    store: SeedStore, local_hour: int, weekday: int, week: int, rng: np.random.Generator
) -> float:
    """Expected arrivals in a local hour: lunch and evening peaks, busy end of week, a slow trend."""
    h = local_hour + 0.5
    profile = 0.3 + 0.6 * math.exp(-(((h - 12.75) / 1.3) ** 2)) + 0.75 * math.exp(-(((h - 18) / 1.6) ** 2))
    day = (0.85, 0.8, 0.9, 0.95, 1.15, 1.4, 0.75)[weekday]
    return store.peak_per_hour * profile * day * (1 + 0.01 * week) * rng.lognormal(0, 0.12)


def hour_rate(
    store: SeedStore, local_hour: int, weekday: int, week: int, rng: np.random.Generator, boost: float = 1.0
) -> tuple[float, float]:
    """Arrivals counted in one store-hour (expected) and the seconds the camera covered: now and
    then the camera is down half the hour and misses those arrivals. `boost` multiplies the
    arrivals (a simulated campaign's lift)."""
    rate = arrivals_per_hour(store, local_hour, weekday, week, rng) * boost
    covered = 3600.0 if rng.random() > 0.01 else 1800.0
    return rate * covered / 3600, covered


def hour_messages(
    store: SeedStore,
    start: datetime,
    local_hour: int,
    weekday: int,
    week: int,
    rng: np.random.Generator,
    boost: float = 1.0,
    footfall_only: bool = False,
) -> list:
    """The five aggregates of one store-hour (UTC `start`, a whole hour); with `footfall_only`,
    only its line counts (what footfall and campaign lift read: a chain in seconds)."""
    rate, covered = hour_rate(store, local_hour, weekday, week, rng, boost)
    common = dict(
        store=store.record.store.id,
        camera=store.camera,
        bucket_start=start,
        bucket_s=3600,
        covered_s=covered,
        simulated=True,
    )
    if footfall_only:
        return [LinesAggregate(**common, lines=_line_counts(store, rate, rng))] if store.record.lines else []
    people = rate * VISIT_S / 3600 * covered / 3600  # mean people present
    person_seconds = people * covered
    zones, in_zone = [], {}
    for name, share in store.zone_share.items():
        kind = store.zone_kind[name]
        ps = person_seconds * share * rng.lognormal(0, 0.1)
        entries = int(rng.poisson(rate * {"entrance": 1.0, "checkout": 0.55, "aisle": 0.35}[kind]))
        n_dwell = int(rng.binomial(entries, 0.1 if kind == "entrance" else 0.7))
        dwells = store.min_dwell_s + rng.lognormal(math.log(DWELL_MEAN_S[kind]), 0.6, n_dwell)
        mean = ps / covered
        zones.append(
            ZoneStats(
                zone=name,
                mean_occupancy=mean,
                max_occupancy=int(math.ceil(mean + 2 * math.sqrt(mean))),
                person_seconds=ps,
                entries=entries,
                dwells_s=dwells.round(1).tolist(),
            )
        )
        in_zone[name] = entries
    noise = rng.lognormal(0, 0.25, len(store.heat_weights))
    shares = np.array([w for _, _, w in store.heat_weights]) * noise
    shares *= person_seconds / max(shares.sum(), 1e-9)
    cells = [(ix, iy, v) for (ix, iy, _), v in zip(store.heat_weights, shares.tolist()) if v >= 0.001]
    aisles = [z for z, k in store.zone_kind.items() if k == "aisle"]
    entrance = next((z for z, k in store.zone_kind.items() if k == "entrance"), None)
    checkout = next((z for z, k in store.zone_kind.items() if k == "checkout"), None)
    pairs = (
        [(entrance, a, 0.3) for a in aisles]
        + [(a, checkout, 0.25) for a in aisles]
        + [(a, b, 0.08) for a in aisles for b in aisles if a != b]
        + [(checkout, entrance, 0.5)]
    )
    transitions = [
        Transition(from_zone=a, to_zone=b, count=n)
        for a, b, p in pairs
        if a and b and (n := int(rng.poisson(rate * p))) > 0
    ]
    directions = []
    for ix, iy, main in store.flow_cells:
        counts = rng.poisson(rate * 0.02, 8)
        counts[main] += rng.poisson(rate * 0.15)
        counts[(main + 4) % 8] += rng.poisson(rate * 0.12)
        if counts.any():
            directions.append((ix, iy, [int(c) for c in counts]))
    lines = _line_counts(store, rate, rng)
    fps_frames = int(5 * covered)
    out = [
        ZonesAggregate(**common, zones=zones),
        GridAggregate(**common, cell_m=store.cell_m, cells=cells),
        FlowsAggregate(**common, flow_cell_m=FLOW_CELL_M, transitions=transitions, directions=directions),
        HealthAggregate(
            **common,
            frames_read=fps_frames,
            frames_analysed=fps_frames - int(rng.poisson(3)),
            frames_dropped=int(rng.poisson(3)),
            detector_ms_mean=round(float(rng.normal(24, 2)), 2),
            detector_ms_max=round(float(rng.normal(60, 8)), 2),
            source_status="ok",
        ),
    ]
    if lines:
        out.append(LinesAggregate(**common, lines=lines))
    return out


def _line_counts(store: SeedStore, rate: float, rng: np.random.Generator) -> list[LineCount]:
    return [
        LineCount(line=line.name, in_count=int(rng.poisson(rate)), out_count=int(rng.poisson(rate * 0.98)))
        for line in store.record.lines
    ]


def open_hours(store: SeedStore, day: date) -> range:
    if day.weekday() == 6:
        return range(0) if store.closed_sunday else range(10, 18)
    return range(9, 21)


def seed(
    storage: Storage,
    stores: list[SeedStore],
    weeks: int,
    end: date,
    rng: np.random.Generator,
    simulated: Sequence[SimulatedCampaign] = (),
    sales: bool = False,
    footfall_only: bool = False,
) -> int:
    """Write `weeks` weeks of history up to local date `end` (excluded) for every store, with
    the campaigns' lift on their treated stores and days (the campaigns are recorded too), and
    point-of-sale transactions if `sales`. `footfall_only` writes line counts alone."""
    written = 0
    for store in stores:
        store_id = store.record.store.id
        with storage.engine.begin() as conn:
            registry.save(conn, store.record, simulated=store.made_up)
        tz = ZoneInfo(store.record.store.timezone)
        first = end - timedelta(weeks=weeks)
        till = Till.draw(rng) if sales else None
        for week in range(weeks):
            batch, sold = [], []
            for offset in range(7):
                day = first + timedelta(weeks=week, days=offset)
                lift = boost(simulated, store_id, day)
                for hour in open_hours(store, day):
                    local = datetime.combine(day, time(hour), tz)
                    start = local.astimezone(UTC)
                    if start.minute != 0:  # half-hour time zones are not simulated
                        continue
                    messages = hour_messages(
                        store, start, hour, day.weekday(), week, rng, lift, footfall_only
                    )
                    batch.extend(messages)
                    if till is not None:
                        visitors = sum(c.in_count for m in messages if m.kind == "lines" for c in m.lines)
                        sold.append(till.hour_row(store_id, start.replace(tzinfo=None), local, visitors, rng))
            result = storage.write_aggregates(batch)
            if result.refused:
                raise RuntimeError(f"{store_id}: seeded data refused: {result.refused[0]}")
            written += len(result.stored)
            if sold:
                with storage.engine.begin() as conn:
                    pos.write(conn, sold, simulated=True)
        log.info("%s: %d weeks seeded", store_id, weeks)
    with storage.engine.begin() as conn:
        for campaign in simulated:
            log.info("campaign %s: %s", campaign.save(conn).id, campaign.name)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db_argument(parser)
    parser.add_argument("--stores", type=int, help="generated stores (default 50, or 0 with --store-config)")
    parser.add_argument("--weeks", type=int, default=8, help="weeks of history up to today (default 8)")
    parser.add_argument(
        "--store-config",
        type=Path,
        action="append",
        default=[],
        help="also seed the real store of this edge config (its zones, lines, plan); repeatable",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        help="first day NOT seeded (default today, UTC); retention is applied as of that day",
    )
    seed_o2o.add_arguments(parser)


def main(args: argparse.Namespace) -> int:
    rng = np.random.default_rng(args.seed)
    count = args.stores if args.stores is not None else (0 if args.store_config else 50)
    stores = [configured_store(load_config(path), rng) for path in args.store_config]
    stores += [generated_store(i, rng) for i in range(count)]
    end = args.end or datetime.now(UTC).date()
    try:
        simulated = seed_o2o.from_args(args, {s.record.store.id for s in stores}, end)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    storage = Storage(args.db)
    storage.migrate()
    written = seed(storage, stores, args.weeks, end, rng, simulated, args.pos)
    pruned = storage.prune(now=datetime.combine(end, time.min, UTC))
    log.info(
        "seeded %d stores × %d weeks: %d simulated messages; pruned %d raw rows past retention",
        len(stores),
        args.weeks,
        written,
        sum(v for k, v in pruned.items() if k.endswith("_minutes")),
    )
    return 0
