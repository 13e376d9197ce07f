"""What each aggregate kind writes: its raw rows, its rollup contributions and the zone and line
names it mentions. One writer per kind in `WRITERS`, chosen by the message's `kind`: storage,
rollup rebuilds and the registry of names all go through `writer(message)`, so a new kind is
added here once (the table must cover `AGGREGATE_KINDS`, checked at import).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any, Generic, TypeVar

import numpy as np

from dashboard import cells as packed
from dashboard import tables as t
from dashboard.rollups import Rows, StoreClock
from footfall_core.contract import (
    AGGREGATE_KINDS,
    Aggregate,
    FlowsAggregate,
    GridAggregate,
    HealthAggregate,
    LinesAggregate,
    ZonesAggregate,
)

M = TypeVar("M", GridAggregate, ZonesAggregate, LinesAggregate, FlowsAggregate, HealthAggregate)


@dataclass(frozen=True)
class Bucket:
    """The columns one message shares with all its rows. `base` keys every rollup row (store,
    camera, coverage, simulated); `raw` adds the bucket's UTC start and length for raw rows;
    `periods` are the store-local hour and day the bucket counts in, by grain."""

    base: dict[str, Any]
    raw: dict[str, Any]
    periods: tuple[tuple[str, dict[str, Any]], ...]


@dataclass(frozen=True)
class Names:
    """Zone and line names a message mentions (registered on the fly when new)."""

    zones: frozenset[str] = frozenset()
    lines: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Extent:
    """How far across the floor a message's cells reach: their size (m) and the largest cell
    index along x and y (cells counted from the plan's origin_m)."""

    cell_m: float
    max_ix: int
    max_iy: int


def _extent(cell_m: float, cells: list) -> Extent | None:
    if not cells:
        return None
    return Extent(cell_m, max(c[0] for c in cells), max(c[1] for c in cells))


class Writer(Generic[M]):
    """Rows of one aggregate kind; subclasses fill in `rows` and, when they mention zones or
    lines, `names`; when they hold floor cells, `extent`."""

    def names(self, m: M) -> Names:
        return Names()

    def extent(self, m: M) -> Extent | None:
        return None

    def rows(self, m: M, bucket: Bucket, raw: Rows, rollups: Rows) -> None:
        raise NotImplementedError


def _dwell_histogram(dwells_s: list[float]) -> dict[str, int]:
    bins = np.searchsorted(np.asarray(t.DWELL_BINS_S[1:]), np.asarray(dwells_s, np.float64), side="right")
    counts = np.bincount(bins, minlength=len(t.DWELL_BINS_S))
    return {name: int(n) for name, n in zip(t.DWELL_COLUMNS, counts)}


class ZonesWriter(Writer[ZonesAggregate]):
    def names(self, m: ZonesAggregate) -> Names:
        return Names(zones=frozenset(z.zone for z in m.zones))

    def rows(self, m: ZonesAggregate, bucket: Bucket, raw: Rows, rollups: Rows) -> None:
        for z in m.zones:
            raw.append(
                t.zone_minutes,
                dict(
                    bucket.raw,
                    zone=z.zone,
                    mean_occupancy=z.mean_occupancy,
                    max_occupancy=z.max_occupancy,
                    person_seconds=z.person_seconds,
                    entries=z.entries,
                    dwells_s=np.asarray(z.dwells_s, "<f4").tobytes(),
                ),
            )
            measures = dict(
                person_seconds=z.person_seconds,
                max_occupancy=z.max_occupancy,
                entries=z.entries,
                dwell_count=len(z.dwells_s),
                dwell_sum_s=float(sum(z.dwells_s)),
                **_dwell_histogram(z.dwells_s),
            )
            for grain, period in bucket.periods:
                rollups.add(t.ROLLUPS[grain]["zones"], dict(bucket.base, zone=z.zone, **period, **measures))


class LinesWriter(Writer[LinesAggregate]):
    def names(self, m: LinesAggregate) -> Names:
        return Names(lines=frozenset(c.line for c in m.lines))

    def rows(self, m: LinesAggregate, bucket: Bucket, raw: Rows, rollups: Rows) -> None:
        for c in m.lines:
            counts = dict(in_count=c.in_count, out_count=c.out_count)
            raw.append(t.line_minutes, dict(bucket.raw, line=c.line, **counts))
            for grain, period in bucket.periods:
                rollups.add(t.ROLLUPS[grain]["lines"], dict(bucket.base, line=c.line, **period, **counts))


class FlowsWriter(Writer[FlowsAggregate]):
    def names(self, m: FlowsAggregate) -> Names:
        return Names(zones=frozenset(z for tr in m.transitions for z in (tr.from_zone, tr.to_zone)))

    def extent(self, m: FlowsAggregate) -> Extent | None:
        return _extent(m.flow_cell_m, m.directions)

    def rows(self, m: FlowsAggregate, bucket: Bucket, raw: Rows, rollups: Rows) -> None:
        for tr in m.transitions:
            names = dict(from_zone=tr.from_zone, to_zone=tr.to_zone, count=tr.count)
            raw.append(t.transition_minutes, dict(bucket.raw, **names))
            for grain, period in bucket.periods:
                rollups.add(t.ROLLUPS[grain]["transitions"], dict(bucket.base, **period, **names))
        grid = packed.from_cells(m.directions, packed.DIRECTIONS)
        raw.append(t.direction_minutes, dict(bucket.raw, flow_cell_m=m.flow_cell_m, cells=packed.pack(grid)))
        for grain, period in bucket.periods:
            rollups.add(
                t.ROLLUPS[grain]["directions"],
                dict(bucket.base, flow_cell_m=m.flow_cell_m, **period, cells=grid),
            )


class GridWriter(Writer[GridAggregate]):
    def extent(self, m: GridAggregate) -> Extent | None:
        return _extent(m.cell_m, m.cells)

    def rows(self, m: GridAggregate, bucket: Bucket, raw: Rows, rollups: Rows) -> None:
        grid = packed.from_cells(m.cells, packed.HEAT)
        raw.append(t.grid_minutes, dict(bucket.raw, cell_m=m.cell_m, cells=packed.pack(grid)))
        total = float(sum(c[2] for c in m.cells))
        for grain, period in bucket.periods:
            rollups.add(
                t.ROLLUPS[grain]["grid"],
                dict(bucket.base, cell_m=m.cell_m, **period, person_seconds=total, cells=grid),
            )


class HealthWriter(Writer[HealthAggregate]):
    def rows(self, m: HealthAggregate, bucket: Bucket, raw: Rows, rollups: Rows) -> None:
        frames = dict(
            frames_read=m.frames_read,
            frames_analysed=m.frames_analysed,
            frames_dropped=m.frames_dropped,
            detector_ms_max=m.detector_ms_max,
            reconnects=m.reconnects,
        )
        raw.append(
            t.health_minutes,
            dict(bucket.raw, **frames, detector_ms_mean=m.detector_ms_mean, source_status=m.source_status),
        )
        measures = dict(
            frames,
            span_s=float(m.bucket_s),
            buckets=1,
            degraded_buckets=int(m.source_status != "ok"),
            detector_ms_sum=m.detector_ms_mean * m.frames_analysed,
        )
        for grain, period in bucket.periods:
            rollups.add(t.ROLLUPS[grain]["health"], dict(bucket.base, **period, **measures))


WRITERS: dict[str, Writer[Any]] = {
    "grid": GridWriter(),
    "zones": ZonesWriter(),
    "lines": LinesWriter(),
    "flows": FlowsWriter(),
    "health": HealthWriter(),
}
if set(WRITERS) != set(AGGREGATE_KINDS):
    raise ImportError(f"dashboard.kinds.WRITERS covers {sorted(WRITERS)}, the contract {AGGREGATE_KINDS}")


def writer(m: Aggregate) -> Writer[Any]:
    """The writer of a message's kind."""
    return WRITERS[m.kind]


def accumulate(m: Aggregate, clock: StoreClock, raw: Rows, rollups: Rows) -> None:
    """Turn one aggregate into raw rows and rollup contributions of its store's hour and day."""
    start = m.bucket_start.astimezone(UTC).replace(tzinfo=None)
    base = dict(store_id=m.store, camera=m.camera, covered_s=m.covered_s, simulated=m.simulated)
    by_hour, by_day = clock.periods(start)
    bucket = Bucket(
        base=base,
        raw=dict(base, bucket_start=start, bucket_s=m.bucket_s),
        periods=(("hour", by_hour), ("day", by_day)),
    )
    writer(m).rows(m, bucket, raw, rollups)
