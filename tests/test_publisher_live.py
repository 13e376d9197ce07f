"""The live merger: sums across cameras, rate limit, stale cameras left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from edge.live import LiveMerger
from footfall_core.contract import LiveMessage, LiveZone

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _live(
    camera: str,
    people: int,
    at: datetime = T0,
    cells=((0, 0, 1),),
    store: str = "shop-1",
    cell_m: float = 1.0,
) -> LiveMessage:
    return LiveMessage(
        store=store,
        sent_at=at,
        cell_m=cell_m,
        people=people,
        zones=[LiveZone(zone="entrance", occupancy=people)],
        cells=list(cells),
        cameras=[camera],
    )


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_sums_cameras_and_reports_the_oldest_snapshot_time():
    clock = Clock()
    merger = LiveMerger("shop-1", 1.0, interval_s=2.0, clock=clock)
    first = merger.update(_live("cam1", 2, cells=[(3, 4, 2)]))
    assert first is not None and first.people == 2 and first.cameras == ["cam1"]
    clock.now_s += 1.0  # the gap (interval / 2) has passed: the next report goes out at once
    merged = merger.update(_live("cam2", 3, at=T0 - timedelta(seconds=1), cells=[(3, 4, 1), (5, 5, 2)]))
    assert merged is not None
    assert merged.people == 5
    assert merged.cameras == ["cam1", "cam2"]
    assert merged.cells == [(3, 4, 3), (5, 5, 2)]
    assert merged.zones == [LiveZone(zone="entrance", occupancy=5)]
    assert merged.sent_at == T0 - timedelta(seconds=1)


def test_rate_limited_to_half_the_interval_and_flushed_later():
    clock = Clock()
    merger = LiveMerger("shop-1", 1.0, interval_s=2.0, clock=clock)
    assert merger.update(_live("cam1", 1)) is not None
    clock.now_s += 0.4
    assert merger.update(_live("cam2", 1)) is None, "inside the 1 s gap"
    assert merger.due() is None
    clock.now_s += 0.6
    flushed = merger.due()
    assert flushed is not None and flushed.people == 2, "the held report goes out when the gap ends"
    assert merger.due() is None, "nothing new since"


def test_a_silent_camera_is_left_out():
    clock = Clock()
    merger = LiveMerger("shop-1", 1.0, interval_s=2.0, clock=clock)
    merger.update(_live("cam1", 4))
    clock.now_s += 7.0  # more than 3 × interval without cam1
    merged = merger.update(_live("cam2", 1))
    assert merged.cameras == ["cam2"] and merged.people == 1


def test_refuses_another_store_or_grid():
    merger = LiveMerger("shop-1", 1.0, interval_s=2.0)
    with pytest.raises(ValueError, match="store 'shop-2'"):
        merger.update(_live("cam1", 1, store="shop-2"))
    with pytest.raises(ValueError, match="cell_m=0.5"):
        merger.update(_live("cam1", 1, cell_m=0.5))
