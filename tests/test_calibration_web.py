"""The calibration page in headless Chromium: click PETS09 ground-truth point pairs, draw a zone
and a line, save, and check what landed in the store YAML."""

from pathlib import Path

import numpy as np
import pytest

from calibration.web import create_app
from footfall_core.geometry import CameraGeometry
from footfall_core.store import load_config
from tests.browser_support import SCREENSHOTS, Server
from tests.test_calibration_geometry import median_error_m, pets09_ground_truth

pytestmark = [pytest.mark.browser, pytest.mark.slow]
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "pets09.yaml"
# Where on the image to take ground-truth feet from: spread over the walkway and the grass.
TARGETS_PX = [(100, 240), (420, 210), (690, 200), (150, 340), (600, 420), (350, 520)]


def ground_truth_pairs(assets):
    feet_px, world_m = pets09_ground_truth(assets)
    rows = [int(np.argmin(np.linalg.norm(feet_px - target, axis=1))) for target in TARGETS_PX]
    return feet_px[rows], world_m[rows]


class CalibrationPage:
    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready='1']")

    def click(self, svg_id: str, x: float, y: float) -> None:
        """Click at (x, y) in the SVG's own units: frame px or floor m."""
        client = self.page.evaluate(
            """([id, x, y]) => {
            const m = document.getElementById(id).getScreenCTM();
            return [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]; }""",
            [svg_id, float(x), float(y)],
        )
        self.page.mouse.click(*client)

    def status_after(self, button: str) -> tuple[str, str]:
        self.page.evaluate("document.getElementById('status').textContent = ''")
        self.page.click(button)
        self.page.wait_for_function("document.getElementById('status').textContent !== ''")
        return self.page.text_content("#status"), self.page.get_attribute("#status", "class")


def test_point_pairs_zones_and_lines_clicked_in_the_page_land_in_the_yaml(browser, tmp_path, assets):
    store = tmp_path / "pets09.yaml"
    store.write_text(EXAMPLE.read_text())
    image_px, floor_m = ground_truth_pairs(assets)
    with Server(create_app(store, token="browser-test-token")) as server:
        ui = CalibrationPage(browser, server.url + "/?token=browser-test-token")  # as serve prints it
        ui.page.click("#clear")
        for (u, v), (x, y) in zip(image_px, floor_m):
            ui.click("image-view", u, v)
            ui.click("plan-view", x, y)
        assert ui.page.locator("#pairs tbody tr").count() == len(TARGETS_PX)
        text, css = ui.status_after("#save-points")
        assert text.startswith(f"saved {len(TARGETS_PX)} point pairs") and css == "", text

        config = load_config(store)
        cal = config.camera("view001").calibration
        np.testing.assert_allclose(cal.image_points_px, image_px, atol=1.5)  # one screen pixel
        np.testing.assert_allclose(cal.floor_points_m, floor_m, atol=0.06)
        assert cal.image_size_px == (768, 576), "the frame size the points are pixels of"
        geometry = CameraGeometry.from_config(config.camera("view001"))
        np.testing.assert_allclose(geometry.homography, cal.homography)
        median = median_error_m(geometry, *pets09_ground_truth(assets))
        print(f"calibrated by clicking {len(TARGETS_PX)} pairs: median PETS09 foot error {median:.3f} m")
        assert median < 0.11  # measured 0.096 m (clicks land within a screen pixel of the targets)
        saved = store.read_text()
        assert "# Zones: the walkway splits the scene in two." in saved and "# Counting line:" in saved

        ui.page.fill("#shapes li[data-zone=path] input", "12")  # an existing zone's capacity
        ui.page.dispatch_event("#shapes li[data-zone=path] input", "change")
        ui.page.click("[data-mode=zone]")
        ui.page.fill("#name", "bench")
        ui.page.fill("#capacity", "4")
        bench_m = [(-12.0, -4.0), (-10.0, -4.0), (-10.0, -2.0), (-12.0, -2.0)]
        for x, y in bench_m:
            ui.click("plan-view", x, y)
        ui.page.click("#finish")
        ui.page.click("[data-mode=line]")
        ui.page.fill("#name", "gate")
        ui.click("plan-view", -14.0, 0.0)
        ui.click("plan-view", -4.0, 0.0)
        # beside each line, how well the camera can count it as drawn (edge/line_doubt.py)
        gate_doubt = "#shapes li[data-line=gate] .doubt"
        ui.page.wait_for_function(f"document.querySelector('{gate_doubt}').textContent !== ''")
        gate = ui.page.text_content(gate_doubt)  # its left end is out of the frame
        assert gate.startswith("view001: feet doubt across 0.39-0.4") and "; the camera sees 9" in gate, gate
        assert ui.page.text_content("#shapes li[data-line=walkway] .doubt").startswith(
            "view001: feet doubt across 0.24-0.25 m"
        )
        text, css = ui.status_after("#save-layout")
        assert text == "saved 3 zones and 2 lines" and css == "", text
        config = load_config(store)
        assert [z.name for z in config.zones] == ["path", "crossroad", "bench"]
        assert [z.capacity for z in config.zones] == [12, 6, 4]
        np.testing.assert_allclose(config.zones[2].polygon_m, bench_m, atol=0.06)
        assert [line.name for line in config.lines] == ["walkway", "gate"]
        np.testing.assert_allclose(
            [config.lines[1].start_m, config.lines[1].end_m], [[-14, 0], [-4, 0]], atol=0.06
        )

        assert ui.errors == []
        before = store.read_text()
        ui.page.click("[data-mode=points]")
        ui.page.click("#clear")
        for (u, v), (x, y) in list(zip(image_px, floor_m))[:3]:
            ui.click("image-view", u, v)
            ui.click("plan-view", x, y)
        text, css = ui.status_after("#save-points")
        assert css == "error" and "camera view001: need at least 4 point pairs, got 3" in text
        assert store.read_text() == before
        assert len(ui.errors) == 1 and "status of 422" in ui.errors.pop()  # the refused save, as expected

        ui.page.check("#check")
        check = ui.page.request.get(server.url + "/api/cameras/view001/check.jpg")
        assert check.status == 200 and check.headers["content-type"] == "image/jpeg"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        ui.page.screenshot(path=str(SCREENSHOTS / "calibration.png"), full_page=True)
        assert ui.errors == []
        ui.context.close()
