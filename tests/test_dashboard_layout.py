"""Re-importing a store YAML: what it no longer lists leaves the current layout (registry, API,
live state) but keeps its history (trends and camera health of past weeks), on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
import yaml

from dashboard import repository
from dashboard.__main__ import main as dashboard_main
from dashboard.storage import Storage
from footfall_core.contract import HealthAggregate, LineCount, LinesAggregate, ZonesAggregate, ZoneStats

MON = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # ISO week 2026-W10
CALIBRATION = {
    "image_points_px": [[0, 0], [10, 0], [10, 10], [0, 10]],
    "floor_points_m": [[0, 0], [1, 0], [1, 1], [0, 1]],
}


def store_yaml(path, cameras: list[str], zones: dict[str, int | None], lines: list[str]):
    """A store config with these cameras, zones (name → capacity) and lines."""
    path.write_text(
        yaml.safe_dump(
            dict(
                store=dict(id="shop"),
                floor_plan=dict(width_m=20, height_m=10),
                cameras=[dict(name=c, source="video.avi", calibration=CALIBRATION) for c in cameras],
                zones=[
                    dict(name=z, polygon_m=[[i, 0], [i + 1, 0], [i + 1, 1]], capacity=cap)
                    for i, (z, cap) in enumerate(zones.items())
                ],
                lines=[dict(name=ln, start_m=[i, 5], end_m=[i, 7]) for i, ln in enumerate(lines)],
            )
        )
    )
    return path


def traffic(camera: str, zone: str, line: str, start: datetime) -> list:
    common = dict(store="shop", camera=camera, bucket_start=start, bucket_s=60, covered_s=60)
    return [
        ZonesAggregate(
            **common,
            zones=[
                ZoneStats(
                    zone=zone, mean_occupancy=2, max_occupancy=3, person_seconds=120, entries=5, dwells_s=[40]
                )
            ],
        ),
        LinesAggregate(**common, lines=[LineCount(line=line, in_count=4, out_count=1)]),
        HealthAggregate(
            **common,
            frames_read=300,
            frames_analysed=300,
            frames_dropped=0,
            detector_ms_mean=20,
            detector_ms_max=30,
            source_status="ok",
        ),
    ]


def imported(db_url: str, path, capsys) -> str:
    assert dashboard_main(["stores", "--db", db_url, "import", str(path)]) == 0
    return capsys.readouterr().out.strip()


def layout(storage: Storage) -> tuple[list, list, list]:
    with storage.engine.connect() as conn:
        shop = repository.get_store(conn, "shop")
    return (
        [z.name for z in shop.zones],
        [ln.name for ln in shop.lines],
        [c.name for c in shop.cameras],
    )


def test_reimport_retires_what_the_yaml_dropped_and_keeps_its_history(db_url, tmp_path, capsys):
    before = store_yaml(tmp_path / "before.yaml", ["cam1", "cam2"], dict(a=None, b=8), ["door", "back"])
    after = store_yaml(tmp_path / "after.yaml", ["cam1"], dict(a=12), ["door"])
    assert imported(db_url, before, capsys).endswith(
        "2 zones, 2 lines, 2 cameras from " + str(before) + "; added zones a, b; added lines back, door; "
        "added cameras cam1, cam2"
    )
    storage = Storage(db_url)
    storage.write_aggregates(traffic("cam1", "a", "door", MON) + traffic("cam2", "b", "back", MON))

    assert imported(db_url, after, capsys).endswith(
        "; retired zones b; retired lines back; retired cameras cam2"
    )
    assert layout(storage) == (["a"], ["door"], ["cam1"])
    with storage.engine.connect() as conn:
        (zone_a,) = repository.get_store(conn, "shop").zones
        assert (zone_a.capacity, set(zone_a.model_dump())) == (
            12,
            {"name", "polygon_m", "area_m2", "capacity", "kind"},
        )
        week = repository.week_trends(conn, "shop", 2026, 10)  # last week's layout planner still sees zone b
        assert [(z.zone, z.entries) for z in week.zones] == [("a", 5), ("b", 5)]
        assert week.footfall == 8  # both lines' counts, the retired one too
        past = repository.camera_health(conn, "shop", date(2026, 3, 2), date(2026, 3, 8))
        assert [c.camera for c in past.cameras] == ["cam1", "cam2"]
        later = repository.camera_health(conn, "shop", date(2026, 3, 9), date(2026, 3, 15))
        assert [c.camera for c in later.cameras] == ["cam1"]
        assert [z.zone for z in repository.live_zones(conn, "shop").zones] == ["a"]
    assert dashboard_main(["stores", "--db", db_url, "list"]) == 0
    assert "\t1 zones\t1 lines\t1 cameras" in capsys.readouterr().out

    # A late message naming the retired zone, line and camera does not bring them back ...
    storage.write_aggregates(traffic("cam2", "b", "back", MON + timedelta(minutes=1)))
    storage.camera_status("shop", "cam2", "online", MON + timedelta(minutes=2))
    assert layout(storage) == (["a"], ["door"], ["cam1"])
    assert imported(db_url, after, capsys).endswith("; layout unchanged")
    # ... listing them again does, with what the registry kept about them.
    assert imported(db_url, before, capsys).endswith("; added zones b; added lines back; added cameras cam2")
    assert layout(storage) == (["a", "b"], ["back", "door"], ["cam1", "cam2"])
    with storage.engine.connect() as conn:
        cam2 = next(c for c in repository.get_store(conn, "shop").cameras if c.name == "cam2")
    assert (cam2.status, cam2.last_seen) == ("online", datetime(2026, 3, 2, 10, 2))


def test_sections_left_out_leave_the_layout_alone(db_url, tmp_path, capsys):
    """`stores add` (and an API body without zones, lines or cameras) changes only the store."""
    imported(db_url, store_yaml(tmp_path / "s.yaml", ["cam1"], dict(a=None), ["door"]), capsys)
    assert dashboard_main(["stores", "--db", db_url, "add", "shop", "--region", "north"]) == 0
    storage = Storage(db_url)
    assert layout(storage) == (["a"], ["door"], ["cam1"])
    with storage.engine.connect() as conn:
        assert repository.get_store(conn, "shop").region == "north"


def test_upgrade_to_0004_keeps_registered_names_current(tmp_path):
    """Rows registered before migration 0004 are the current layout (retired_at null)."""
    from alembic import command
    from alembic.config import Config

    from dashboard.storage import MIGRATIONS

    storage = Storage(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with storage.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
        conn.execute(
            sa.text(
                "insert into stores (id, tags, auto_registered, simulated, created_at)"
                " values ('shop', '[]', 1, 0, '2026-03-01')"
            )
        )
        for table in ("zones", "lines", "cameras"):
            conn.execute(sa.text(f"insert into {table} (store_id, name) values ('shop', 'x')"))
    storage.migrate()
    assert layout(storage) == (["x"], ["x"], ["x"])
