"""The simulated chain: written through the ingest path, marked simulated, rollups consistent,
and shaped like a shop's week (closed at night, busier Saturdays, lunch and evening peaks)."""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from dashboard import campaigns, cells, repository, seed
from dashboard import tables as t
from dashboard.storage import Storage
from footfall_core.store import load_config

END = date(2026, 3, 2)  # Monday: three full ISO weeks 7, 8 and 9 before it


@pytest.fixture(scope="module")
def seeded(module_db_url) -> Storage:
    """One seeded chain per backend for the module (the tests only read it)."""
    parser = argparse.ArgumentParser()
    seed.add_arguments(parser)
    args = parser.parse_args(
        ["--db", module_db_url, "--stores", "3", "--weeks", "3", "--store-config", "examples/pets09.yaml"]
        + [
            "--seed",
            "7",
            "--end",
            str(END),
            "--pos",
            "--campaign",
            "store-001,store-002",
            "--campaign-days",
            "5",
        ]
    )
    assert seed.main(args) == 0
    return Storage(module_db_url)


def test_every_row_is_simulated_and_days_equal_their_hours(seeded):
    with seeded.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(t.stores)) == 4
        made_up = dict(conn.execute(sa.select(t.stores.c.id, t.stores.c.simulated)).all())
        assert made_up == {"pets09": False, "store-001": True, "store-002": True, "store-003": True}
        for table in (t.zone_hours, t.zone_days, t.line_days, t.grid_days, t.transition_hours):
            assert set(conn.scalars(sa.select(table.c.simulated).distinct())) == {True}
        for hours, days, column in (
            (t.zone_hours, t.zone_days, "entries"),
            (t.line_hours, t.line_days, "in_count"),
            (t.grid_hours, t.grid_days, "person_seconds"),
            (t.transition_hours, t.transition_days, "count"),
        ):
            by_hour = conn.scalar(sa.select(sa.func.sum(hours.c[column])))
            assert by_hour > 0 and conn.scalar(sa.select(sa.func.sum(days.c[column]))) == pytest.approx(
                by_hour
            )
        # 1 h buckets older than 14 days before END were pruned as the daily prune would have on
        # that day (whatever today is); their hours stay.
        horizon = datetime.combine(END - timedelta(days=14), datetime.min.time())
        kept = conn.execute(sa.select(sa.func.min(t.zone_minutes.c.bucket_start), sa.func.count())).one()
        assert kept[0] >= horizon and kept[1] > 0
        assert conn.scalar(sa.select(sa.func.min(t.zone_hours.c.period_start))) < horizon


def test_the_week_has_a_shops_shape(seeded):
    with seeded.engine.connect() as conn:
        data = repository.week_trends(conn, "store-001", 2026, 9)
    by_hour, by_day = np.array(data.occupancy_by_hour), np.array(data.occupancy_by_weekday)
    assert by_hour[:8].sum() == 0 and by_hour[22:].sum() == 0  # closed at night (local time)
    assert by_hour[12] > by_hour[10] and by_hour[18] > by_hour[15]  # lunch and evening peaks
    assert by_day[5] > by_day[1]  # Saturday busier than Tuesday
    assert data.simulated and data.footfall > 0 and data.previous_footfall > 0 and data.transitions
    assert all(z.dwell_count > 0 for z in data.zones)


def test_real_store_config_gives_its_zones_lines_and_plan(seeded):
    config = load_config("examples/pets09.yaml")
    with seeded.engine.connect() as conn:
        info = repository.get_store(conn, "pets09")
        zone_names = set(
            conn.scalars(sa.select(t.zone_days.c.zone).where(t.zone_days.c.store_id == "pets09"))
        )
        blobs = conn.scalars(sa.select(t.grid_days.c.cells).where(t.grid_days.c.store_id == "pets09")).all()
        compared = repository.compare_stores(conn, date(2026, 2, 16), date(2026, 3, 1))
    assert zone_names == {z.name for z in config.zones}
    assert [ln.name for ln in info.lines] == [ln.name for ln in config.lines]
    assert info.timezone == config.store.timezone and not info.simulated  # a real store...
    grid = cells.merge([cells.unpack(b, cells.HEAT) for b in blobs], cells.HEAT)
    cols, rows = (
        config.floor_plan.width_m / config.analysis.cell_m,
        config.floor_plan.height_m / config.analysis.cell_m,
    )
    assert len(grid) > 100 and grid["ix"].max() < cols and grid["iy"].max() < rows
    assert {s.store for s in compared.stores} == {"pets09", "store-001", "store-002", "store-003"}
    assert all(
        s.footfall > 0 and s.footfall_source == "lines" and s.simulated  # ...with simulated history
        for s in compared.stores
    )


def test_a_simulated_campaign_and_sales_are_recorded_and_marked(seeded):
    with seeded.engine.connect() as conn:
        (campaign,) = campaigns.all_campaigns(conn)
        hours = repository.conversion_hours(conn, None, date(2026, 2, 16), date(2026, 3, 1))
        flags = set(conn.scalars(sa.select(t.pos_hours.c.simulated).distinct()))
    assert campaign.simulated and campaign.treated == ["store-001", "store-002"]
    # the 21 seeded days before END less the 5 campaign days
    assert (campaign.start, campaign.end, campaign.pre_days) == (date(2026, 2, 25), date(2026, 3, 1), 16)
    assert flags == {True} and {h["store_id"] for h in hours} == {
        "pets09",
        "store-001",
        "store-002",
        "store-003",
    }
    assert all(0 <= h["transactions"] <= h["footfall"] for h in hours)
    share = sum(h["transactions"] for h in hours) / sum(h["footfall"] for h in hours)
    assert 0.15 < share < 0.35  # each store's buyers are drawn from 15-35 % of its visitors
