"""A small, exactly known chain of stores for the page and browser tests.

Two stores (`north`, `south`) with a floor plan, three zones and a door line; hourly contract
aggregates for two ISO weeks (2026-W09 and W10) written through the real ingest path
(`Storage.write_aggregates`), so the pages read what production would store. Users: `hq`
(every store) and `anna`, manager of `north` only. Every number is derived from `visitors()`,
so tests compute what a page must show instead of hard-coding it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dashboard import auth, registry
from dashboard.read_models import Store
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
from footfall_core.store import FloorPlan, Line, StoreInfo, Zone

PASSWORD = "correct horse battery"
FIRST_DAY = date(2026, 2, 23)  # Monday of ISO week 2026-W09
DAYS = 14
OPEN_HOURS = range(9, 19)  # UTC hours with customers
ZONES = {
    "entrance": ([(0, 0), (5, 0), (5, 4), (0, 4)], 4),
    "aisle": ([(6, 2), (12, 2), (12, 10), (6, 10)], 8),
    "tills": ([(14, 6), (19, 6), (19, 11), (14, 11)], 3),
}
STORES = {"north": ("North Street", "east", ["mall"]), "south": ("South Square", "west", ["high-street"])}


def registry_store(floor_plan: dict, zones: list[dict]) -> Store:
    """A registry store (as the dashboard reads it) with this plan and these zones, no camera."""
    return Store(
        id="north",
        name="North Street",
        region="east",
        tags=[],
        timezone="UTC",
        area_m2=None,
        auto_registered=False,
        simulated=False,
        floor_plan=floor_plan,
        zones=[dict(dict(area_m2=None), **z) for z in zones],
        lines=[],
        cameras=[],
    )


PLAN = registry_store(
    dict(origin_m=[0, 0], width_m=20, height_m=12, image=None),
    [dict(name=z, polygon_m=p, capacity=c) for z, (p, c) in ZONES.items()],
)


def visitors(store: str, day: int, hour: int) -> int:
    """People walking in during one hour: busier in week 2, at lunch and for `north`."""
    base = 10 + 3 * (hour == 12) + 2 * (day >= 7) + (day % 7 == 5)
    return base * (2 if store == "north" else 1)


def record(store: str) -> registry.StoreRecord:
    name, region, tags = STORES[store]
    return registry.StoreRecord(
        store=StoreInfo(id=store, name=name, region=region, tags=tags, timezone="UTC"),
        floor_plan=FloorPlan(width_m=20, height_m=12),
        zones=[Zone(name=z, polygon_m=poly, capacity=cap) for z, (poly, cap) in ZONES.items()],
        lines=[Line(name="door", start_m=(0, 5), end_m=(0, 8))],
    )


def messages(store: str) -> list:
    out = []
    for day in range(DAYS):
        for hour in OPEN_HOURS:
            start = datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time(), UTC) + timedelta(
                hours=hour
            )
            n = visitors(store, day, hour)
            common = dict(store=store, camera="cam1", bucket_start=start, bucket_s=3600, covered_s=3600.0)
            dwell_s = [45.0 + 30 * (k % 5) for k in range(n // 2)]
            out.append(
                ZonesAggregate(
                    **common,
                    zones=[
                        ZoneStats(
                            zone="entrance",
                            mean_occupancy=n / 20,
                            max_occupancy=3,
                            person_seconds=180.0 * n,
                            entries=n,
                            dwells_s=[],
                        ),
                        ZoneStats(
                            zone="aisle",
                            mean_occupancy=n / 8,
                            max_occupancy=6,
                            person_seconds=450.0 * n,
                            entries=n // 2,
                            dwells_s=dwell_s,
                        ),
                        ZoneStats(
                            zone="tills",
                            mean_occupancy=n / 10,
                            max_occupancy=4,
                            person_seconds=360.0 * n,
                            entries=n // 2,
                            dwells_s=[150.0] * (n // 3),
                        ),
                    ],
                )
            )
            out.append(LinesAggregate(**common, lines=[LineCount(line="door", in_count=n, out_count=n - 1)]))
            down = store == "south" and day == 2 and hour == 12  # one reconnecting hour in week 9
            out.append(
                HealthAggregate(
                    **dict(common, covered_s=1800.0 if down else 3600.0),
                    frames_read=18000,
                    frames_analysed=9000 if down else 18000,
                    frames_dropped=90 if down else 0,
                    detector_ms_mean=20.0,
                    detector_ms_max=60.0 if down else 35.0,
                    source_status="reconnecting" if down else "ok",
                    reconnects=int(down),
                )
            )
            out.append(
                GridAggregate(
                    **common,
                    cell_m=1.0,
                    cells=[(2, 2, 180.0 * n), (9, 6, 450.0 * n), (16, 8 + (day >= 7), 360.0 * n)],
                )
            )
            out.append(
                FlowsAggregate(
                    **common,
                    flow_cell_m=2.0,
                    transitions=[
                        Transition(from_zone="entrance", to_zone="aisle", count=n // 2),
                        Transition(from_zone="aisle", to_zone="tills", count=n // 3),
                    ],
                    directions=[(1, 1, [n, 0, 0, 0, 0, 0, 0, 0]), (4, 3, [0, 0, n, 0, 0, 0, 0, 0])],
                )
            )
    return out


def build(db_url: str) -> Storage:
    """Migrate, register both stores, ingest two weeks, add the users."""
    storage = Storage(db_url)
    storage.migrate()
    with storage.engine.begin() as conn:
        for store in STORES:
            registry.save(conn, record(store))
    for store in STORES:
        storage.write_aggregates(messages(store))
    with storage.engine.begin() as conn:
        auth.add_user(conn, "hq", "hq", PASSWORD)
        auth.add_user(conn, "anna", "manager", PASSWORD, ["north"])
    return storage


def week_footfall(store: str, week: int) -> int:
    """People in over ISO week 9 or 10 of 2026 (the door line's in_count)."""
    days = range(0, 7) if week == 9 else range(7, 14)
    return sum(visitors(store, d, h) for d in days for h in OPEN_HOURS)
