"""Acceptance in a real browser: Debian's headless Chromium drives a real uvicorn server over a
SQLite database filled through the ingest path (tests/pages_data.py), with a real Mosquitto
for the live page. Screenshots of each page go to artifacts/screenshots/.
"""

from __future__ import annotations

import time
from datetime import UTC

import paho.mqtt.client as mqtt
import pytest

from dashboard.app import create_app
from dashboard.settings import Settings
from footfall_core.contract import LiveMessage, LiveZone, StatusMessage, live_topic, status_topic
from footfall_core.store import Mqtt
from tests import pages_data
from tests.browser_support import SCREENSHOTS, Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'dashboard.sqlite3'}"
    pages_data.build(url)
    return url


@pytest.fixture
def server(database, broker):
    settings = Settings(
        secure_cookies=False,
        db_url=database,
        secret_key="browser-tests-" + "Zq9x" * 10,
        mqtt=Mqtt(url=broker.url),
    )
    with Server(create_app(settings)) as running:
        yield running


class Page:
    """A logged-in browser tab that records console errors and failed requests."""

    def __init__(self, browser, server: Server, user: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.server = server
        self.page.goto(server.url + "/")
        assert "/login" in self.page.url
        self.page.fill("input[name=username]", user)
        self.page.fill("input[name=password]", pages_data.PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def open(self, path: str):
        response = self.page.goto(self.server.url + path)
        return response

    def traces(self, div_id: str) -> list[dict]:
        """Per trace Plotly drew in the div: type, name, data points (non-empty heatmap cells),
        non-zero points and the sum of the values."""
        self.page.wait_for_function(f"document.getElementById('{div_id}').data !== undefined")
        return self.page.evaluate(f"""() => document.getElementById('{div_id}').data.map(t => {{
            const values = t.type === 'heatmap' ? t.z.flatMap(row => Array.from(row))
                         : Array.from((t.orientation === 'h' ? t.x : t.y || t.x) || []);
            const numbers = values.filter(v => typeof v === 'number' && !Number.isNaN(v));
            return {{type: t.type, name: t.name,
                     points: t.type === 'heatmap' ? numbers.length : values.length,
                     nonzero: numbers.filter(v => v !== 0).length,
                     total: numbers.reduce((a, b) => a + b, 0)}};
        }})""")

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


def publish(url_port: int, topic: str, payload: bytes, retain: bool = False) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"browser-test-{time.monotonic_ns()}")
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def live_message(occupancy: dict[str, int]) -> bytes:
    from datetime import datetime

    return LiveMessage(
        store="north",
        sent_at=datetime.now(UTC),
        cell_m=1.0,
        people=sum(occupancy.values()),
        zones=[LiveZone(zone=z, occupancy=n) for z, n in occupancy.items()],
        cells=[
            (2, 2, occupancy.get("entrance", 0)),
            (9, 6, occupancy.get("aisle", 0)),
            (16, 8, occupancy.get("tills", 0)),
        ],
        cameras=["cam1"],
    ).to_json()


def test_trends_page_draws_every_chart_with_data(browser, server):
    tab = Page(browser, server, "hq")
    try:
        assert tab.open("/stores/north/trends?week=2026-W10").status == 200
        tab.page.wait_for_load_state("networkidle")
        by_hour = tab.traces("by-hour")
        assert by_hour[0]["type"] == "bar" and by_hour[0]["points"] == 24
        assert by_hour[0]["nonzero"] == len(pages_data.OPEN_HOURS)
        assert tab.traces("by-weekday")[0]["points"] == 7
        assert tab.traces("hour-weekday")[0]["nonzero"] == 7 * len(pages_data.OPEN_HOURS)
        heat = tab.traces("week-heat")[0]
        assert heat["type"] == "heatmap" and heat["points"] == 3
        flows = tab.traces("week-flows")
        assert {"walks", "transitions"} <= {t["name"] for t in flows}
        # Week 10 is busier, and the till queue moved one cell down: 3 cells up, 1 down.
        diff = tab.page.evaluate(
            "document.getElementById('week-difference').data[0].z.flat().filter(v => v !== null)"
        )
        assert sum(v > 0 for v in diff) == 3 and sum(v < 0 for v in diff) == 1
        dwell = tab.traces("dwell")
        assert {t["name"] for t in dwell} == set(pages_data.ZONES)
        footfall = tab.page.inner_text("[data-kpi=footfall] .value").replace(",", "")
        assert int(footfall) == pages_data.week_footfall("north", 10)
        change = tab.page.inner_text("[data-kpi=footfall] .label")
        expected = pages_data.week_footfall("north", 10) / pages_data.week_footfall("north", 9) - 1
        assert f"{expected:+.0%}" in change
        tab.shot("trends")
        assert tab.errors == []
    finally:
        tab.close()


def test_compare_page_ranks_and_exports(browser, server):
    tab = Page(browser, server, "hq")
    try:
        assert tab.open("/compare?start=2026-02-23&end=2026-03-08").status == 200
        tab.page.wait_for_load_state("networkidle")
        stores = tab.page.eval_on_selector_all("#ranking tbody tr", "rows => rows.map(r => r.dataset.store)")
        assert stores == ["north", "south"]  # north has twice the visitors
        footfall = tab.page.eval_on_selector_all(
            "#ranking tbody tr td:nth-child(4)", "cells => cells.map(c => +c.dataset.value)"
        )
        assert footfall == [pages_data.week_footfall(s, 9) + pages_data.week_footfall(s, 10) for s in stores]
        daily = tab.traces("daily")
        assert [t["points"] for t in daily] == [pages_data.DAYS, pages_data.DAYS]
        assert len(tab.traces("multiples")) == 2
        assert tab.traces("density")[0]["points"] == 2
        tab.page.click("#ranking th:nth-child(4)")  # sort by footfall, ascending
        stores = tab.page.eval_on_selector_all("#ranking tbody tr", "rows => rows.map(r => r.dataset.store)")
        assert stores == ["south", "north"]
        tab.page.select_option("select[name=region]", "west")
        tab.page.click("form.filters button")
        tab.page.wait_for_load_state("networkidle")
        assert tab.page.eval_on_selector_all(
            "#ranking tbody tr", "rows => rows.map(r => r.dataset.store)"
        ) == ["south"]
        links = tab.page.locator("a.csv")
        ranking_csv = tab.page.request.get(links.nth(0).evaluate("a => a.href"))
        assert ranking_csv.status == 200 and ranking_csv.text().splitlines()[1].startswith("south,")
        csv = tab.page.request.get(links.nth(1).evaluate("a => a.href"))
        assert csv.status == 200
        lines = csv.text().strip().splitlines()
        assert lines[0] == "store,date,footfall" and len(lines) == 1 + pages_data.DAYS
        tab.open("/compare?start=2026-02-23&end=2026-03-08")
        tab.page.wait_for_load_state("networkidle")
        tab.shot("compare")
        assert tab.errors == []
    finally:
        tab.close()


def test_live_page_follows_the_broker(browser, server, broker):
    publish(
        broker.port,
        status_topic("north", "cam1"),
        StatusMessage(store="north", camera="cam1", status="online").to_json(),
        retain=True,
    )
    tab = Page(browser, server, "anna")
    try:
        assert "/stores/north/live" in tab.page.url  # a manager lands on their store
        tab.page.wait_for_selector("#live-connection.online")
        publish(broker.port, live_topic("north"), live_message({"entrance": 1, "aisle": 2, "tills": 1}))
        tab.page.wait_for_function(
            "document.querySelector('#live-zones tr[data-zone=aisle] .occupancy')?.textContent === '2'",
            timeout=5000,
        )
        assert tab.page.inner_text("#live-people") == "4"
        assert tab.page.get_attribute("#live-zones tr[data-zone=tills]", "class") in (None, "")
        started = time.monotonic()
        publish(broker.port, live_topic("north"), live_message({"entrance": 1, "aisle": 2, "tills": 5}))
        tab.page.wait_for_function(
            "document.querySelector('#live-zones tr[data-zone=tills] .occupancy')?.textContent === '5'",
            timeout=5000,
        )
        print(f"live update reached the page {time.monotonic() - started:.3f} s after publishing")
        assert tab.page.get_attribute("#live-zones tr[data-zone=tills]", "class") == "crowded"
        bubbles = next(t for t in tab.traces("live-map") if t["name"] == "zone occupancy")
        assert bubbles["points"] == 3
        heat = next(t for t in tab.traces("live-map") if t["type"] == "heatmap")
        assert heat["total"] == 8
        assert tab.page.inner_text("#live-cameras tr[data-camera=cam1] .badge") == "online"
        tab.shot("live")
        publish(
            broker.port,
            status_topic("north", "cam1"),
            StatusMessage(store="north", camera="cam1", status="offline").to_json(),
            retain=True,
        )
        tab.page.wait_for_selector("#live-cameras tr[data-camera=cam1] .badge.offline", timeout=5000)
        assert tab.errors == []
        hub = server.app.state.live_hub
        assert hub.listener_count("north") == 1
    finally:
        tab.close()
    deadline = time.monotonic() + 15  # a closed tab must not leave its stream behind (24/7 process)
    while hub.listener_count("north") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert hub.listener_count("north") == 0


def test_manager_gets_403_and_no_data_for_another_store(browser, server):
    tab = Page(browser, server, "anna")
    try:
        for path in (
            "/stores/south/live",
            "/stores/south/trends?week=2026-W10",
            "/stores/south/live/events",
            "/api/v1/stores/south/trends?iso_year=2026&iso_week=10",
            "/api/v1/stores/south/live",
        ):
            response = tab.page.request.get(server.url + path)
            assert response.status == 403, path
            body = response.text()
            assert "South Square" not in body and "aisle" not in body, path
        response = tab.open("/stores/south/trends?week=2026-W10")
        assert response.status == 403
        assert "may not see store 'south'" in tab.page.inner_text("main")
        assert tab.page.locator("div.chart").count() == 0
        tab.shot("forbidden")
        compare = tab.page.request.get(server.url + "/compare/daily.csv?start=2026-02-23&end=2026-03-08")
        assert {line.split(",")[0] for line in compare.text().strip().splitlines()[1:]} == {"north"}
        tab.open("/compare?start=2026-02-23&end=2026-03-08")
        stores = tab.page.eval_on_selector_all("#ranking tbody tr", "rows => rows.map(r => r.dataset.store)")
        assert stores == ["north"]
    finally:
        tab.close()


def test_login_page_refuses_bad_password_and_cross_site_posts(browser, server):
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(server.url + "/login")
        page.screenshot(path=str(SCREENSHOTS / "login.png"))
        page.fill("input[name=username]", "hq")
        page.fill("input[name=password]", "wrong password")
        page.click("button[type=submit]")
        assert "Wrong user name or password" in page.inner_text(".error")
        token = page.get_attribute("input[name=csrf_token]", "value")
        forged = page.request.post(
            server.url + "/login",
            form=dict(username="hq", password=pages_data.PASSWORD, csrf_token="forged", next="/"),
            headers={"Origin": server.url},
            max_redirects=0,
        )
        assert forged.status == 403
        other_site = page.request.post(
            server.url + "/login",
            form=dict(username="hq", password=pages_data.PASSWORD, csrf_token=token, next="/"),
            headers={"Origin": "http://evil.example"},
            max_redirects=0,
        )
        assert other_site.status == 403
        assert page.request.get(server.url + "/compare", max_redirects=0).status == 303  # still logged out
    finally:
        context.close()


@pytest.fixture(scope="module")
def seeded_url(tmp_path_factory) -> str:
    """`python -m dashboard seed` for 3 generated stores × 2 weeks (ending Sunday 2026-03-08)."""
    from dashboard import auth
    from dashboard.__main__ import main as dashboard_main
    from dashboard.storage import Storage

    url = f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'chain.sqlite3'}"
    assert (
        dashboard_main(
            [
                "--log-level",
                "WARNING",
                "seed",
                "--db",
                url,
                "--stores",
                "3",
                "--weeks",
                "2",
                "--end",
                "2026-03-09",
            ]
        )
        == 0
    )
    with Storage(url).engine.begin() as conn:
        auth.add_user(conn, "hq", "hq", pages_data.PASSWORD)
    return url


def test_every_page_of_a_seeded_chain_draws_data(browser, seeded_url, broker):
    settings = Settings(
        secure_cookies=False,
        db_url=seeded_url,
        secret_key="browser-tests-" + "Zq9x" * 10,
        mqtt=Mqtt(url=broker.url),
    )
    with Server(create_app(settings)) as running:
        tab = Page(browser, running, "hq")
        try:
            assert tab.open("/compare?start=2026-02-23&end=2026-03-08").status == 200
            stores = tab.page.eval_on_selector_all(
                "#ranking tbody tr", "rows => rows.map(r => r.dataset.store)"
            )
            assert sorted(stores) == ["store-001", "store-002", "store-003"]
            for chart in ("daily", "density", "dwell-ranking", "multiples"):
                assert all(t["nonzero"] > 0 for t in tab.traces(chart)), chart
            tab.shot("seeded-compare")
            for store in stores:
                assert tab.open(f"/stores/{store}/trends?week=2026-W10").status == 200
                for chart in (
                    "by-hour",
                    "by-weekday",
                    "hour-weekday",
                    "week-heat",
                    "week-difference",
                    "dwell",
                ):
                    assert any(t["nonzero"] > 0 for t in tab.traces(chart)), (store, chart)
                assert any(t["name"] == "walks" and t["points"] > 0 for t in tab.traces("week-flows")), store
                assert tab.open(f"/stores/{store}/live").status == 200
                assert any(t["name"] == "zone occupancy" for t in tab.traces("live-map"))
            tab.open(f"/stores/{stores[0]}/trends?week=2026-W10")
            tab.shot("seeded-trends")
            assert tab.errors == []
        finally:
            tab.close()
