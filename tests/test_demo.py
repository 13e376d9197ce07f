"""`make demo` as a newcomer runs it: the live page shows people from the video, and Ctrl-C
leaves no process behind."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.brokers import free_port
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, need_chromium

REPO = Path(__file__).resolve().parent.parent


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.mark.slow
@pytest.mark.browser
def test_demo_shows_live_people_and_stops_cleanly(tmp_path):
    need_chromium()
    from playwright.sync_api import sync_playwright

    port = free_port()
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.demo",
            "--port",
            str(port),
            "--workdir",
            str(tmp_path / "demo"),
            "--weeks",
            "1",
            "--stores",
            "2",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={k: v for k, v in os.environ.items() if k != "FOOTFALL_MQTT_URL"},
    )
    output: list[str] = []
    try:
        password = None
        deadline = time.monotonic() + 240
        while password is None and time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line and demo.poll() is not None:
                pytest.fail("demo exited early:\n" + "".join(output))
            output.append(line)
            match = re.search(r"login: demo / (\S+)", line)
            password = match.group(1) if match else None
        assert password, "demo never said it was running:\n" + "".join(output)

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{port}/")
            page.fill("input[name=username]", "demo")
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            page.goto(f"http://127.0.0.1:{port}/stores/pets09/live")
            # the edge has to load the model and reach the first people: allow it time
            page.wait_for_function(
                "parseInt(document.getElementById('live-people').textContent) > 0", timeout=120_000
            )
            people = int(page.inner_text("#live-people"))
            # the walkway's own floor (calibration plan) lies under the live map, drawn by the browser
            plan = page.evaluate(
                "() => (document.getElementById('live-map').layout.images || []).map(i => i.source)"
            )
            assert len(plan) == 1 and "/stores/pets09/plan-image" in plan[0]
            page.wait_for_function("document.querySelectorAll('#live-map .imagelayer image').length === 1")
            served = page.request.get(f"http://127.0.0.1:{port}{plan[0]}")
            assert served.status == 200 and served.headers["content-type"] == "image/png"
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "demo-live.png"), full_page=True)
            browser.close()
        assert people > 0 and not errors
    finally:
        pids = (
            [int(p) for p in (tmp_path / "demo/pids").read_text().split()]
            if (tmp_path / "demo/pids").exists()
            else []
        )
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C in the terminal
        demo.wait(60)
    assert len(pids) == 5  # mosquitto, ingest, alerts, dashboard, edge
    deadline_s = time.monotonic() + 30
    while any(map(alive, pids)) and time.monotonic() < deadline_s:
        time.sleep(0.1)
    assert [pid for pid in pids if alive(pid)] == []
    said = demo.stdout.read()  # "demo: <process> exited with ..." names the one that died
    logs = sorted((tmp_path / "demo/logs").glob("*.log"))
    tails = "".join(f"\n--- {log.name}\n" + log.read_text(errors="replace")[-3000:] for log in logs)
    assert demo.returncode == 0, said + tails
