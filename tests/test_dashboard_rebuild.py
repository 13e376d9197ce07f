"""`python -m dashboard rollups rebuild`: health rollups from raw health rows, equal to what the
ingest writes, idempotent, and never shortening a period whose raw rows were pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from dashboard import registry
from dashboard import tables as t
from dashboard.__main__ import main as dashboard_main
from dashboard.storage import Storage
from footfall_core.contract import HealthAggregate
from footfall_core.store import StoreInfo

T0 = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # Monday 2 March, 00:00 in Paris
HEALTH = (t.health_hours, t.health_days)


def health_series(hours: int) -> list[HealthAggregate]:
    """Two cameras, a 60 s bucket every 20 min, with values that differ between buckets."""
    out = []
    for k in range(hours * 3):
        for cam, ms in (("c1", 20.5), ("c2", 12.25)):
            out.append(
                HealthAggregate(
                    store="shop",
                    camera=cam,
                    bucket_start=T0 + timedelta(minutes=20 * k),
                    bucket_s=60,
                    covered_s=60 - k % 4 * 15,
                    frames_read=300,
                    frames_analysed=290 - k % 3,
                    frames_dropped=10 + k % 3,
                    detector_ms_mean=ms + k % 5,
                    detector_ms_max=40 + k % 7,
                    source_status="ok" if k % 6 else "reconnecting",
                    reconnects=int(k % 6 == 0),
                )
            )
    return out


@pytest.fixture
def storage(db_url) -> Storage:
    storage = Storage(db_url)
    storage.migrate()
    with storage.engine.begin() as conn:
        registry.save(conn, registry.StoreRecord(store=StoreInfo(id="shop", timezone="Europe/Paris")))
    storage.write_aggregates(health_series(60))
    return storage


def snapshot(storage: Storage) -> dict[str, list[dict]]:
    with storage.engine.connect() as conn:
        return {
            table.name: [
                dict(r)
                for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings()
            ]
            for table in HEALTH
        }


def delete(storage: Storage, table: sa.Table, where) -> int:
    with storage.engine.begin() as conn:
        return conn.execute(sa.delete(table).where(where)).rowcount


def rebuild(storage: Storage, capsys, *extra: str) -> str:
    assert dashboard_main(["rollups", "--db", storage.url, "rebuild", "--store", "shop", *extra]) == 0
    return capsys.readouterr().out.strip()


def test_rebuild_fills_in_what_ingest_would_have_written_and_is_idempotent(storage, capsys):
    ingested = snapshot(storage)
    assert [len(ingested[table.name]) for table in HEALTH] == [120, 6]
    # Messages stored before migration 0003 have raw rows but no rollups: the first 40 hours.
    upgrade = T0.replace(tzinfo=None) + timedelta(hours=40)
    assert all(delete(storage, table, table.c.period_start < upgrade) for table in HEALTH)
    out = rebuild(storage, capsys)
    assert out == (
        "shop: health rollups from 2026-03-01 23:00 UTC rebuilt: 120 health_hours rows, 6 health_days rows"
    )
    assert snapshot(storage) == ingested
    rebuild(storage, capsys)
    assert snapshot(storage) == ingested


def test_periods_with_pruned_raw_rows_are_left_alone(storage, capsys):
    ingested = snapshot(storage)
    oldest = datetime(2026, 3, 3, 0, 40)  # raw retention cut into hour 00:00 UTC and 3 March in Paris
    delete(storage, t.health_minutes, t.health_minutes.c.bucket_start < oldest)
    assert all(delete(storage, table, table.c.period_start > oldest) for table in HEALTH)
    out = rebuild(storage, capsys)
    assert out == (
        "shop: health rollups from 2026-03-03 00:40 UTC rebuilt: 68 health_hours rows, 2 health_days rows"
    )
    assert snapshot(storage) == ingested  # hour 00:00 and 3 March kept their pruned buckets


def test_since_limits_the_rebuild(storage, capsys):
    ingested = snapshot(storage)
    for table in HEALTH:
        delete(storage, table, sa.true())
    rebuild(storage, capsys, "--since", "2026-03-03T23:00:00+00:00")  # 4 March in Paris
    rebuilt = snapshot(storage)
    since = datetime(2026, 3, 3, 23)
    assert rebuilt == {
        name: [r for r in rows if r["period_start"] >= since] for name, rows in ingested.items()
    }
    assert [r["local_date"].day for r in rebuilt["health_days"]] == [4, 4]


def test_unknown_store_is_an_error(storage):
    assert dashboard_main(["rollups", "--db", storage.url, "rebuild", "--store", "nowhere"]) == 2
