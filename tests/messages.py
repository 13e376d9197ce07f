"""Contract messages for the tests: one-minute aggregates of one camera (one zone, one heat grid
or a few lines, the bucket `minute` minutes after `start`) and live snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from footfall_core.contract import (
    GridAggregate,
    LineCount,
    LinesAggregate,
    LiveMessage,
    LiveZone,
    ZonesAggregate,
    ZoneStats,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def _minute(store: str, camera: str, start: datetime, minute: int) -> dict:
    """What every message here shares: a whole one-minute bucket of `store`'s `camera`."""
    return dict(
        store=store, camera=camera, bucket_start=start + timedelta(minutes=minute), bucket_s=60, covered_s=60
    )


def zones_msg(
    minute: int,
    person_seconds: float,
    max_occ: int,
    entries: int,
    dwells: list[float],
    store="s1",
    camera="c1",
    zone="a",
    start=T0,
) -> ZonesAggregate:
    """One zone over a whole minute: its mean occupancy is `person_seconds` / 60."""
    return ZonesAggregate(
        **_minute(store, camera, start, minute),
        zones=[
            ZoneStats(
                zone=zone,
                mean_occupancy=person_seconds / 60,
                max_occupancy=max_occ,
                person_seconds=person_seconds,
                entries=entries,
                dwells_s=dwells,
            )
        ],
    )


def grid_msg(minute: int, cells_: list, store="s1", camera="c1", start=T0) -> GridAggregate:
    """Heat cells (ix, iy, person-seconds) of 0.5 m."""
    return GridAggregate(**_minute(store, camera, start, minute), cell_m=0.5, cells=cells_)


def lines_msg(minute: int, names: list[str], camera: str = "c1", start=T0) -> LinesAggregate:
    """One person in across each of `names`."""
    return LinesAggregate(
        **_minute("s1", camera, start, minute),
        lines=[LineCount(line=n, in_count=1, out_count=0) for n in names],
    )


def live_msg(
    store: str, people: int, at: datetime, cell: tuple[int, int] | None = None, cameras=("cam1",)
) -> LiveMessage:
    """A live snapshot of `store` whose `people` all stand in its `tills` zone, and in one 1 m
    floor cell `cell` when given."""
    return LiveMessage(
        store=store,
        sent_at=at,
        cell_m=1.0,
        people=people,
        zones=[LiveZone(zone="tills", occupancy=people)],
        cells=[(*cell, people)] if cell else [],
        cameras=list(cameras),
    )
