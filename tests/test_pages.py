"""The pages over HTTP (no browser): login and CSRF, who sees what, what each page computes.

The database is tests/pages_data.py's two stores, written through the ingest path.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from dashboard.app import create_app
from dashboard.charts import FloorGeometry
from dashboard.live import CameraState, StoreSnapshot
from dashboard.live_view import STALE_AFTER_S, ago, live_state
from dashboard.read_models import Camera
from dashboard.settings import Settings
from footfall_core.contract import LiveMessage, LiveZone
from tests import pages_data

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def app(module_db_url):
    """Every page test on SQLite and on PostgreSQL, over one chain's data built once."""
    pages_data.build(module_db_url)
    return create_app(
        Settings(
            secure_cookies=False, db_url=module_db_url, secret_key="page-tests-" + "Zq9x" * 10, mqtt=None
        )
    )


def client_for(app, user: str | None) -> TestClient:
    client = TestClient(app, base_url="http://testserver")
    if user:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        response = client.post(
            "/login",
            data=dict(username=user, password=pages_data.PASSWORD, csrf_token=token),
            headers={"Origin": "http://testserver"},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
    return client


@pytest.fixture(scope="module")
def hq(app):
    return client_for(app, "hq")


@pytest.fixture(scope="module")
def anna(app):
    return client_for(app, "anna")


def figure(html: str, div_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{div_id}-figure">(.*?)</script>', html, re.S)
    assert match, f"no figure {div_id}"
    return json.loads(match.group(1))


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/compare",
        "/stores/north/trends",
        "/stores/north/live",
        "/stores/north/live/events",
        "/compare/daily.csv",
    ],
)
def test_pages_need_a_login_and_come_back_after_it(app, path):
    response = client_for(app, None).get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize(
    "next_url, lands",
    [
        ("/stores/north/trends?week=2026-W09", "/stores/north/trends?week=2026-W09"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
    ],
)
def test_login_returns_only_to_local_pages(app, next_url, lands):
    client = TestClient(app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post(
        "/login",
        data=dict(username="hq", password=pages_data.PASSWORD, csrf_token=token, next=next_url),
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert response.headers["location"] == lands


def test_login_refuses_wrong_password_missing_token_and_other_origin(app):
    client = TestClient(app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    good = dict(username="hq", password=pages_data.PASSWORD, csrf_token=token)
    origin = {"Origin": "http://testserver"}
    wrong = client.post("/login", data=dict(good, password="nope nope nope"), headers=origin)
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    assert client.post("/login", data=dict(good, csrf_token="x"), headers=origin).status_code == 403
    assert client.post("/login", data=good, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.get("/compare", follow_redirects=False).status_code == 303  # none of them logged in


def test_logout_needs_the_token_and_ends_the_session(app):
    client = client_for(app, "hq")
    page = client.get("/compare")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert (
        client.post(
            "/logout", data=dict(csrf_token="forged"), headers={"Origin": "http://testserver"}
        ).status_code
        == 403
    )
    assert client.get("/compare").status_code == 200
    client.post("/logout", data=dict(csrf_token=token), headers={"Origin": "http://testserver"})
    assert client.get("/compare", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "path",
    [
        "/stores/south/trends",
        "/stores/south/trends?week=2026-W10",
        "/stores/south/live",
        "/stores/south/live/events",
        "/stores/south/plan-image",
        "/stores/nowhere/trends",
        "/trends?store=south&week=2026-W10",
        "/live?store=south",
    ],
)
def test_manager_sees_403_and_nothing_of_other_stores(anna, path):
    response = anna.get(path, headers=HTML)
    assert response.status_code == 403
    assert "South Square" not in response.text and '<div class="chart' not in response.text
    assert "may not see store" in response.text


def test_hq_gets_404_for_unknown_store_and_422_for_a_bad_week(hq):
    assert hq.get("/stores/nowhere/trends", headers=HTML).status_code == 404
    bad = hq.get("/stores/north/trends?week=last-week", headers=HTML)
    assert bad.status_code == 422 and "expected an ISO week like 2026-W09" in bad.text
    assert hq.get("/stores/north/trends?week=2026-W60", headers=HTML).status_code == 422
    assert hq.get("/stores/north/trends?week=last-week").headers["content-type"] == "application/json"


def test_manager_home_is_their_live_page_and_compare_only_their_store(anna):
    assert anna.get("/", follow_redirects=False).headers["location"] == "/stores/north/live"
    page = anna.get("/compare?start=2026-02-23&end=2026-03-08")
    assert 'data-store="north"' in page.text and 'data-store="south"' not in page.text
    assert set(figure(page.text, "daily")["data"][0]["x"][:1]) == {"2026-02-23"}
    assert [t["name"] for t in figure(page.text, "daily")["data"]] == ["north"]


def test_trends_numbers_follow_the_data(hq):
    page = hq.get("/stores/south/trends?week=2026-W09")
    assert page.status_code == 200
    by_hour = figure(page.text, "by-hour")["data"][0]["y"]
    # One camera covering every hour: mean people = person-seconds / 3600 over the grid cells.
    per_visitor_s = 180 + 450 + 360
    expected_noon = sum(pages_data.visitors("south", d, 12) for d in range(7)) * per_visitor_s / (7 * 3600)
    assert by_hour[12] == pytest.approx(expected_noon)
    assert by_hour[8] == 0 and by_hour[20] == 0
    footfall = re.search(r'data-kpi="footfall"><div class="value">([\d,]+)<', page.text).group(1)
    assert int(footfall.replace(",", "")) == pages_data.week_footfall("south", 9)
    assert 'value="2026-W09"' in page.text
    assert "2026-W10 →" in page.text and "← 2026-W08" in page.text
    flows = figure(page.text, "week-flows")
    transitions = next(t for t in flows["data"] if t["name"] == "transitions")
    assert [c[0] for c in transitions["customdata"]] == ["entrance → aisle", "aisle → tills"]


def test_trends_without_a_week_shows_the_latest_week_with_data(hq):
    page = hq.get("/stores/north/trends")
    assert 'value="2026-W10"' in page.text and "2026-W11 →" not in page.text


def test_store_pickers_redirect(hq):
    response = hq.get("/trends?store=south&week=2026-W09", follow_redirects=False)
    assert response.headers["location"] == "/stores/south/trends?week=2026-W09"
    assert hq.get("/live?store=south", follow_redirects=False).headers["location"] == "/stores/south/live"
    assert hq.get("/live?store=../x", follow_redirects=False).status_code == 422


def test_compare_defaults_to_the_last_week_of_data_and_exports_csv(hq):
    page = hq.get("/compare")
    assert 'value="2026-03-02"' in page.text and 'value="2026-03-08"' in page.text
    rows = re.findall(r'<tr data-store="(\w+)"><td class="num">(\d+)</td>', page.text)
    assert rows == [("north", "1"), ("south", "2")]
    daily = list(
        csv.DictReader(io.StringIO(hq.get("/compare/daily.csv?start=2026-03-02&end=2026-03-03").text))
    )
    assert [(r["store"], r["date"], int(r["footfall"])) for r in daily] == [
        (s, f"2026-03-0{d + 2}", sum(pages_data.visitors(s, 7 + d, h) for h in pages_data.OPEN_HOURS))
        for s in ("north", "south")
        for d in range(2)
    ]
    west = hq.get("/compare?start=2026-03-02&end=2026-03-08&region=west")
    assert re.findall(r'<tr data-store="(\w+)">', west.text) == ["south"]


def test_live_page_is_503_without_a_broker(hq):
    response = hq.get("/stores/north/live", headers=HTML)
    assert response.status_code == 503 and "FOOTFALL_MQTT_URL" in response.text


def test_static_files_and_plotly_come_from_the_server(hq):
    js = hq.get("/static/plotly.min.js")
    assert (
        js.status_code == 200
        and len(js.content) > 1_000_000
        and "text/javascript" in js.headers["content-type"]
    )
    assert hq.get("/static/footfall.js").status_code == 200
    assert hq.get("/static/..%2Fpages.py").status_code == 404
    assert "cdn" not in hq.get("/compare").text.lower()


NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
GEOMETRY = FloorGeometry.from_store(pages_data.PLAN)


def test_live_state_marks_crowded_zones_and_stale_cameras():
    live = LiveMessage(
        store="north",
        sent_at=NOW - timedelta(seconds=1),
        cell_m=1.0,
        people=9,
        zones=[
            LiveZone(zone="tills", occupancy=4),
            LiveZone(zone="aisle", occupancy=5),
            LiveZone(zone="stock-room", occupancy=0),
        ],
        cells=[(3, 3, 9)],
        cameras=["cam1"],
    )
    snapshot = StoreSnapshot(
        "north",
        live,
        {
            "cam1": CameraState("online", NOW - timedelta(seconds=1), "ok"),
            "door": CameraState("online", NOW - timedelta(seconds=STALE_AFTER_S + 5), None),
            "back": CameraState("offline", None, None),
        },
        None,
        3,
    )
    registry = [
        Camera(
            name="old",
            status="unknown",
            status_at=None,
            last_seen=(NOW - timedelta(days=2)).replace(tzinfo=None),
        ),
        Camera(
            name="back",
            status="online",
            status_at=None,
            last_seen=(NOW - timedelta(hours=3)).replace(tzinfo=None),
        ),
    ]
    state = live_state(GEOMETRY, snapshot, registry, NOW)
    zones = {z["zone"]: z for z in state["zones"]}
    assert list(zones) == ["entrance", "aisle", "tills", "stock-room"]
    assert zones["tills"] == dict(zone="tills", occupancy=4, capacity=3, load_pct=133, crowded=True)
    assert zones["aisle"]["crowded"] is False and zones["entrance"]["occupancy"] == 0
    assert zones["stock-room"]["capacity"] is None and zones["stock-room"]["crowded"] is False
    cameras = {c["camera"]: c for c in state["cameras"]}
    assert cameras["cam1"] == dict(camera="cam1", status="online", last_seen="1 s ago", health="ok")
    assert cameras["door"]["status"] == "stale"
    assert cameras["back"] == dict(camera="back", status="offline", last_seen="3 h ago", health=None)
    assert cameras["old"]["last_seen"] == "2 d ago"
    assert state["people"] == 9 and state["version"] == 3 and state["updated"] == "1 s ago"
    json.dumps(state)  # goes to the browser as is


@pytest.mark.parametrize(
    "delta, text",
    [
        (None, "never"),
        (timedelta(seconds=59), "59 s ago"),
        (timedelta(minutes=5, seconds=3), "5 min ago"),
        (timedelta(hours=2, minutes=59), "2 h ago"),
        (timedelta(days=3), "3 d ago"),
        (timedelta(seconds=-4), "0 s ago"),
    ],
)
def test_ago(delta, text):
    assert ago(None if delta is None else NOW - delta, NOW) == text


def test_script_json_cannot_close_its_script_element():
    from dashboard.pages import script_json

    text = script_json({"name": "</script><script>alert(1)</script>"})
    assert "</" not in text and json.loads(text) == {"name": "</script><script>alert(1)</script>"}


def test_trends_show_each_cameras_health_for_the_week(hq):
    """Week 9 of `south`: 70 open hours, one of them half covered and reconnecting."""
    page = hq.get("/stores/south/trends?week=2026-W09").text
    row = re.search(r'<tr data-camera="cam1">(.*?)</tr>', page, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    uptime = 100 * (70 * 3600 - 1800) / (70 * 3600)
    dropped = 100 * 90 / (70 * 18000)
    assert cells[2:] == [f"{uptime:.1f} %", "70.0", f"{dropped:.1f} %", f"{20.0:.1f} / 60", "1"]
    quiet_week = hq.get("/stores/south/trends?week=2026-W10").text
    row = re.search(r'<tr data-camera="cam1">(.*?)</tr>', quiet_week, re.S).group(1)
    assert "99" not in row and "100.0 %" in row and "/ 35" in row


def test_compare_shows_each_stores_uptime(hq):
    page = hq.get("/compare?start=2026-02-23&end=2026-03-01").text
    south = re.search(r'<tr data-store="south">(.*?)</tr>', page, re.S).group(1)
    north = re.search(r'<tr data-store="north">(.*?)</tr>', page, re.S).group(1)
    assert f"{100 * (70 * 3600 - 1800) / (70 * 3600):.1f} %" in south and "100.0 %" in north
