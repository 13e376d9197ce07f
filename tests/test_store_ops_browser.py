"""The store's own floor plan and its alerts in a real browser: HQ uploads the PETS09 walkway's
plan (made by `python -m calibration plan` from the camera's people-free background), Chromium
draws it under the live map and the week's heat and flows; an alert raised by the evaluator
(running against a real Mosquitto) shows as the live page's banner, and on the alerts page,
where the manager acknowledges it. Screenshots: docs/img/live-plan-alert.png, docs/img/alerts.png.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import cv2
import httpx
import paho.mqtt.client as mqtt
import pytest

from calibration.plan import background, plan_picture
from dashboard import auth, registry
from dashboard.alerts import service
from dashboard.app import create_app
from dashboard.settings import Settings
from dashboard.storage import Storage
from footfall_core.contract import LiveMessage, LiveZone, live_topic
from footfall_core.store import Mqtt, load_config
from tests import pages_data
from tests.browser_support import Server

pytestmark = [pytest.mark.slow, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[1]
DOCS_IMG = ROOT / "docs" / "img"


@pytest.fixture(scope="module")
def plan_png(tmp_path_factory, assets) -> bytes:
    config = load_config(ROOT / "examples/pets09.yaml")
    picture = plan_picture(
        config, {"view001": background(config.resolve(config.cameras[0].source), 20)}, 20.0
    )
    ok, data = cv2.imencode(".png", picture)
    assert ok and picture.shape[:2] == (500, 540)  # 25 × 27 m at 20 px a metre
    return data.tobytes()


def test_the_uploaded_plan_lies_under_the_maps_and_an_alert_shows_on_it(browser, broker, tmp_path, plan_png):
    url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    storage = Storage(url)
    storage.migrate()
    config = load_config(ROOT / "examples/pets09.yaml")
    with storage.engine.begin() as conn:
        registry.save(conn, registry.StoreRecord.from_config(config))
        auth.add_user(conn, "hq", "hq", pages_data.PASSWORD)
        auth.add_user(conn, "anna", "manager", pages_data.PASSWORD, ["pets09"])
    settings = Settings(
        secure_cookies=False,
        db_url=url,
        secret_key="ops-browser-" + "Zq9x" * 10,
        mqtt=Mqtt(url=broker.url),
        data_dir=tmp_path / "data",
    )
    stop = threading.Event()
    evaluator = threading.Thread(target=service.run, args=(url, Mqtt(url=broker.url), stop, 0.1), daemon=True)
    edge = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="ops-edge")
    edge.connect("127.0.0.1", broker.port)
    edge.loop_start()
    with Server(create_app(settings)) as server:
        hq = httpx.Client(base_url=server.url, headers={"Origin": server.url}, timeout=20)
        assert (
            hq.post("/api/v1/session", json=dict(name="hq", password=pages_data.PASSWORD)).status_code == 200
        )
        uploaded = hq.put(
            "/api/v1/stores/pets09/plan",
            files={"file": ("walkway.png", plan_png, "image/png")},
            data={"m_per_px": "0.05", "origin_m": "-21,-17"},
        )
        assert uploaded.status_code == 200, uploaded.text
        rules = dict(
            rules=[
                dict(name="crossroad-crowded", kind="zone_occupancy", zone="crossroad", hold_s=0, clear_s=2)
            ]
        )
        assert hq.put("/api/v1/stores/pets09/alert-rules", json=rules).status_code == 200
        evaluator.start()
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/login")
        page.fill("input[name=username]", "anna")
        page.fill("input[name=password]", pages_data.PASSWORD)
        page.click("button[type=submit]")
        page.goto(server.url + "/stores/pets09/live")
        page.wait_for_function("document.getElementById('live-connection').textContent === 'live'")
        # the plan is drawn where it lies: 540 × 500 px at 5 cm from (-21, -17) m
        image = page.evaluate("() => document.getElementById('live-map').layout.images[0]")
        assert (image["x"], image["y"], image["sizex"], image["sizey"]) == (-21, -17, 27, 25)
        page.wait_for_function("document.querySelectorAll('#live-map .imagelayer image').length === 1")
        drawn = page.evaluate(
            """() => new Promise(done => { const img = new Image();
                 img.onload = () => done([img.naturalWidth, img.naturalHeight]);
                 img.onerror = () => done(null);
                 img.src = document.getElementById('live-map').layout.images[0].source; })"""
        )
        assert drawn == [540, 500]

        def send(crossroad: int) -> None:
            message = LiveMessage(
                store="pets09",
                sent_at=datetime.now(UTC),
                cell_m=1.0,
                people=crossroad + 3,
                zones=[LiveZone(zone="crossroad", occupancy=crossroad), LiveZone(zone="path", occupancy=3)],
                cells=[(8, 5, 3), (10, 6, 3), (13, 8, max(0, crossroad - 6)), (9, 18, 2), (10, 20, 1)],
                cameras=["view001"],
            )
            edge.publish(live_topic("pets09"), message.to_json(), qos=0).wait_for_publish(5)

        send(8)  # over the crossroad's capacity of 6: the banner comes, and goes 2 s after it is back under
        page.locator("#alert-banner").wait_for(state="visible", timeout=20_000)
        send(5)
        page.locator("#alert-banner").wait_for(state="hidden", timeout=20_000)
        send(8)
        page.locator("#alert-banner").wait_for(state="visible", timeout=20_000)
        assert "crossroad-crowded" in page.inner_text("#alert-banner")
        page.wait_for_function("document.getElementById('live-people').textContent === '11'")
        page.screenshot(path=str(DOCS_IMG / "live-plan-alert.png"), full_page=True)
        for chart in ("week-heat", "week-flows"):
            page.goto(server.url + "/stores/pets09/trends")
            page.wait_for_function(f"document.getElementById('{chart}').layout !== undefined")
            assert page.evaluate(f"() => document.getElementById('{chart}').layout.images[0].sizex") == 27
        page.goto(server.url + "/alerts")
        row = page.locator("#alerts tr[data-state=active]")
        assert row.count() == 1 and "crossroad-crowded" in row.inner_text()
        assert page.locator("#alerts tr[data-state=cleared]").count() == 1
        row.locator("button").click()
        page.wait_for_selector("#alerts tr[data-state=active] >> text=anna")
        page.screenshot(path=str(DOCS_IMG / "alerts.png"), full_page=True)
        assert not errors, errors
        context.close()
    stop.set()
    evaluator.join(20)
    edge.disconnect()
    edge.loop_stop()
