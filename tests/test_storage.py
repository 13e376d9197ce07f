"""Storage write path over SQLite and PostgreSQL: migrations, idempotency, rollups, retention."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from dashboard import cells
from dashboard import tables as t
from dashboard.storage import MIGRATIONS, Storage
from footfall_core.contract import (
    FlowsAggregate,
    HealthAggregate,
    LineCount,
    LinesAggregate,
    Transition,
)
from tests.messages import T0, grid_msg, zones_msg


@pytest.fixture
def storage(db_url) -> Storage:
    s = Storage(db_url)
    s.migrate()
    return s


def rows(storage: Storage, table: sa.Table) -> list[dict]:
    with storage.engine.connect() as conn:
        return [
            dict(r) for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings()
        ]


def _single_head() -> str:
    """The newest migration; two heads (two branches that each added one) fail here."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"migrations have {len(heads)} heads: {heads}"
    return heads[0]


def test_migrate_from_empty_creates_every_table_and_is_repeatable(db_url):
    storage = Storage(db_url)
    storage.migrate()
    storage.migrate()
    names = set(sa.inspect(storage.engine).get_table_names())
    assert set(t.metadata.tables) <= names
    with storage.engine.connect() as conn:
        assert conn.scalar(sa.text("select version_num from alembic_version")) == _single_head()
        if conn.dialect.name == "postgresql":  # rollup grids are kept out of line, uncompressed
            storage_of = dict(
                conn.execute(
                    sa.text(
                        "select attrelid::regclass::text, attstorage from pg_attribute where attname = "
                        "'cells'"
                        " and attrelid::regclass::text in ('grid_hours', 'grid_days', "
                        "'direction_hours', 'direction_days')"
                    )
                ).all()
            )
            assert storage_of == dict.fromkeys(
                ("grid_hours", "grid_days", "direction_hours", "direction_days"), "e"
            )


def test_migrations_build_exactly_the_tables_the_code_declares(storage):
    """alembic's own comparison of the migrated database with dashboard.tables: nothing missing,
    nothing extra, same types (a migration forgotten or written by hand wrongly fails here)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with storage.engine.connect() as conn:
        assert (
            compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), t.metadata) == []
        )


def test_same_message_twice_is_stored_once(storage):
    batch = [zones_msg(0, 120, 3, 4, [12, 45]), grid_msg(0, [(1, 2, 3.0)])]
    assert len(storage.write_aggregates(batch).stored) == 2
    assert len(storage.write_aggregates(batch).stored) == 0
    assert len(storage.write_aggregates(batch + batch[:1]).stored) == 0
    assert len(rows(storage, t.zone_minutes)) == 1
    (hour,) = rows(storage, t.zone_hours)
    assert (hour["person_seconds"], hour["entries"], hour["dwell_count"]) == (120, 4, 2)
    (grid,) = rows(storage, t.grid_days)
    assert cells.unpack(grid["cells"], cells.HEAT).tolist() == [(1, 2, 3.0)]


def test_minutes_roll_up_to_hours_and_days(storage):
    # 09:00, 09:30 and 10:15 UTC on Monday 2 March; then 23:30 UTC, which is Tuesday in Paris.
    storage.write_aggregates([zones_msg(0, 120, 3, 4, [12, 45]), zones_msg(30, 60, 5, 1, [700])])
    storage.write_aggregates([zones_msg(75, 30, 2, 2, [4000]), zones_msg(14 * 60 + 30, 6, 1, 1, [])])
    hours = rows(storage, t.zone_hours)
    assert [
        (
            h["period_start"].hour,
            h["local_hour"],
            h["covered_s"],
            h["person_seconds"],
            h["max_occupancy"],
            h["entries"],
        )
        for h in hours
    ] == [(9, 9, 120, 180, 5, 5), (10, 10, 60, 30, 2, 2), (23, 23, 60, 6, 1, 1)]
    assert [h[c] for c in t.DWELL_COLUMNS for h in hours[:1]] == [1, 1, 0, 0, 0, 1, 0, 0, 0]
    (day,) = rows(storage, t.zone_days)
    assert (
        day["local_date"],
        day["local_weekday"],
        day["covered_s"],
        day["person_seconds"],
        day["max_occupancy"],
        day["entries"],
        day["dwell_count"],
        day["dwell_sum_s"],
    ) == (date(2026, 3, 2), 0, 240, 216, 5, 8, 4, 4757)
    assert day["dwell_b8"] == 1 and day["simulated"] is False


def test_local_time_zone_decides_hour_and_day(storage):
    with storage.engine.begin() as conn:
        conn.execute(
            sa.insert(t.stores),
            dict(id="paris", name="Paris", tags=[], timezone="Europe/Paris", created_at=datetime(2026, 1, 1)),
        )
    storage.write_aggregates([zones_msg(14 * 60 + 30, 6, 1, 1, [], store="paris")])  # 23:30 UTC = 00:30 CET
    (hour,) = rows(storage, t.zone_hours)
    assert (hour["local_date"], hour["local_hour"], hour["local_weekday"]) == (date(2026, 3, 3), 0, 1)
    (day,) = rows(storage, t.zone_days)
    assert day["local_date"] == date(2026, 3, 3) and day["period_start"] == datetime(2026, 3, 2, 23, 0)


def test_half_hour_time_zone_gets_its_own_local_hours(storage):
    """In Asia/Kolkata (UTC+05:30) 08:45 and 09:15 UTC are 14:15 and 14:45 in the shop: one
    local hour 14, which starts at 08:30 UTC (not UTC hours 8 and 9, labelled 13 and 14)."""
    with storage.engine.begin() as conn:
        conn.execute(
            sa.insert(t.stores),
            dict(id="pune", name="Pune", tags=[], timezone="Asia/Kolkata", created_at=datetime(2026, 1, 1)),
        )
    storage.write_aggregates(
        [
            zones_msg(-15, 6, 1, 1, [], store="pune"),
            zones_msg(15, 12, 2, 1, [], store="pune"),
            zones_msg(35, 3, 1, 0, [], store="pune"),
        ]
    )  # 08:45, 09:15, 09:35 UTC
    hours = sorted(rows(storage, t.zone_hours), key=lambda r: r["period_start"])
    assert [(h["local_hour"], h["period_start"], h["person_seconds"]) for h in hours] == [
        (14, datetime(2026, 3, 2, 8, 30), 18),
        (15, datetime(2026, 3, 2, 9, 30), 3),
    ]


def test_heat_grids_merge_cell_by_cell_across_batches(storage):
    storage.write_aggregates([grid_msg(0, [(1, 2, 3.0), (4, 0, 1.5)])])
    storage.write_aggregates([grid_msg(1, [(1, 2, 2.0)]), grid_msg(2, [(0, 0, 1.0)])])
    (hour,) = rows(storage, t.grid_hours)
    assert hour["person_seconds"] == pytest.approx(7.5) and hour["covered_s"] == 180
    assert cells.unpack(hour["cells"], cells.HEAT).tolist() == [(0, 0, 1.0), (4, 0, 1.5), (1, 2, 5.0)]


def test_lines_flows_and_health_are_kept(storage):
    lines = LinesAggregate(
        store="s1",
        camera="c1",
        bucket_start=T0,
        bucket_s=60,
        covered_s=60,
        lines=[LineCount(line="door", in_count=3, out_count=1)],
    )
    flows = FlowsAggregate(
        store="s1",
        camera="c1",
        bucket_start=T0,
        bucket_s=60,
        covered_s=60,
        flow_cell_m=1,
        transitions=[Transition(from_zone="a", to_zone="b", count=2)],
        directions=[(0, 0, [1, 0, 0, 0, 0, 0, 0, 2])],
    )
    health = HealthAggregate(
        store="s1",
        camera="c1",
        bucket_start=T0,
        bucket_s=60,
        covered_s=60,
        frames_read=300,
        frames_analysed=290,
        frames_dropped=10,
        detector_ms_mean=20,
        detector_ms_max=40,
        source_status="ok",
    )
    second = lines.model_copy(update={"bucket_start": T0 + timedelta(minutes=1)})
    written = storage.write_aggregates(
        [lines, flows, health, second, flows.model_copy(update={"bucket_start": T0 + timedelta(minutes=1)})]
    )
    assert len(written.stored) == 5
    (line_day,) = rows(storage, t.line_days)
    assert (line_day["in_count"], line_day["out_count"]) == (6, 2)
    (tr,) = rows(storage, t.transition_hours)
    assert (tr["from_zone"], tr["to_zone"], tr["count"]) == ("a", "b", 4)
    (directions,) = rows(storage, t.direction_days)
    assert cells.unpack(directions["cells"], cells.DIRECTIONS)["value"].tolist() == [[2, 0, 0, 0, 0, 0, 0, 4]]
    assert rows(storage, t.health_minutes)[0]["frames_dropped"] == 10
    assert {z["name"] for z in rows(storage, t.zones)} == {"a", "b"}
    assert [r["name"] for r in rows(storage, t.lines)] == ["door"]


def test_unknown_store_is_registered_and_camera_status_recorded(storage):
    storage.write_aggregates([zones_msg(0, 60, 1, 1, [], store="new-shop", camera="cam9")])
    (store,) = rows(storage, t.stores)
    assert (store["id"], store["timezone"], store["auto_registered"]) == ("new-shop", "UTC", True)
    storage.camera_status("new-shop", "cam9", "offline", T0 + timedelta(minutes=5))
    (camera,) = rows(storage, t.cameras)
    assert (camera["status"], camera["status_at"], camera["last_seen"]) == (
        "offline",
        datetime(2026, 3, 2, 9, 5),
        datetime(2026, 3, 2, 9, 1),
    )


def test_dead_letters_are_kept_newest_first(storage):
    storage.dead_letter("footfall/v1/s1/c1/agg", b"{bad", "not JSON")
    storage.dead_letter("footfall/v1/s1/c2/agg", b"{}", "unsupported schema_version None")
    letters = storage.dead_letters()
    assert [(d["topic"], d["payload"], d["reason"]) for d in letters] == [
        ("footfall/v1/s1/c2/agg", b"{}", "unsupported schema_version None"),
        ("footfall/v1/s1/c1/agg", b"{bad", "not JSON"),
    ]


def test_a_payload_sent_again_is_one_dead_letter_that_counts_its_arrivals(storage):
    """A device sends again what was not confirmed: the table counts payloads, not deliveries."""
    storage.add_dead_letters(
        [("footfall/v1/s1/c1/agg", b"{bad", "contract", "not JSON")] * 2
        + [("footfall/v1/s1/c1/agg", b"{bad", "clock", "ahead of the centre")]
    )
    storage.dead_letter("footfall/v1/s1/c1/agg", b"{bad", "not JSON again")
    storage.dead_letter("footfall/v1/s1/c2/agg", b"{bad", "not JSON")
    first = zones_msg(0, 60, 1, 1, [])
    storage.write_aggregates([first])
    other = zones_msg(0, 120, 3, 4, [12])
    assert other.id == first.id
    for _ in range(3):  # the same conflicting message, re-sent twice
        assert [r.code for r in storage.write_aggregates([other]).refused] == ["conflict"]
    letters = {(d["topic"], d["code"]): d for d in storage.dead_letters()}
    assert {key: d["received_count"] for key, d in letters.items()} == {
        ("footfall/v1/s1/c1/agg", "contract"): 3,
        ("footfall/v1/s1/c1/agg", "clock"): 1,
        ("footfall/v1/s1/c2/agg", "contract"): 1,
        ("footfall/v1/s1/c1/agg", "conflict"): 3,
    }
    assert letters[("footfall/v1/s1/c1/agg", "contract")]["reason"] == "not JSON", "the first stays"


def test_prune_applies_retention_and_refuses_redelivery_past_the_horizon(storage):
    old = zones_msg(0, 60, 1, 1, [])
    storage.write_aggregates([old, grid_msg(0, [(0, 0, 1.0)])])
    done = storage.prune(now=T0 + timedelta(days=40))
    assert done["zone_minutes"] == 1 and done["ingested"] == 2 and done["grid_hours.cells"] == 1
    assert rows(storage, t.zone_minutes) == [] and len(rows(storage, t.zone_days)) == 1
    assert rows(storage, t.grid_hours)[0]["cells"] is None
    # The id is forgotten, so a late redelivery would double the rollups: it is dead-lettered instead.
    assert len(storage.write_aggregates([old]).stored) == 0
    assert rows(storage, t.zone_days)[0]["person_seconds"] == 60
    assert "dedup horizon" in storage.dead_letters()[0]["reason"]


def test_migrate_command_prunes_on_request(db_url):
    from dashboard.__main__ import main as dashboard_main

    assert dashboard_main(["migrate", "--db", db_url]) == 0
    storage = Storage(db_url)
    three_weeks_ago = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=21)
    storage.write_aggregates([zones_msg(0, 60, 1, 1, [], start=three_weeks_ago)])  # past raw retention
    with storage.engine.connect() as conn:
        assert conn.scalar(sa.select(t.meta.c.value).where(t.meta.c.key == "dedup_horizon")) is None
    assert dashboard_main(["migrate", "--db", db_url, "--prune"]) == 0
    with storage.engine.connect() as conn:
        assert conn.scalar(sa.select(t.meta.c.value).where(t.meta.c.key == "dedup_horizon")) is not None
    assert rows(storage, t.zone_minutes) == [] and len(rows(storage, t.zone_hours)) == 1


@pytest.mark.postgres
def test_concurrent_writers_neither_lose_nor_double_grid_cells(pg_url):
    import threading

    storage = Storage(pg_url)
    storage.migrate()
    rounds, barrier, errors = 20, threading.Barrier(2), []

    def worker(k: int) -> None:
        # Each round both workers start together on a new hour (a grid row neither has seen) with
        # their own bucket and one bucket both got (a redelivery through a shared subscription).
        for r in range(rounds):
            barrier.wait()
            try:
                storage.write_aggregates(
                    [grid_msg(60 * r + 1 + k, [(0, 0, 1.0)]), grid_msg(60 * r, [(0, 0, 1.0)])]
                )
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in (0, 1)]
    [th.start() for th in threads]
    [th.join() for th in threads]
    assert errors == []
    hours = rows(storage, t.grid_hours)
    assert len(hours) == rounds and len(rows(storage, t.ingested)) == 3 * rounds
    assert [(h["covered_s"], cells.unpack(h["cells"], cells.HEAT).tolist()) for h in hours] == [
        (180.0, [(0, 0, 3.0)])
    ] * rounds
