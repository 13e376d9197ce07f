"""Benchmark: server CPU spent building the live page's state per store update, with 1 and with
many open browsers of the same store (the 30 managers / HQ screens case).

Runs the real app under uvicorn with a private Mosquitto on a seeded store (bench/dashboard_pages.py's
`seeded_server`), opens `--listeners` SSE streams of `/stores/store-001/live/events`, publishes
`--messages` LiveMessages (40 people spread over the plan) and prints per update: live figure
builds, CPU ms spent in `live_state` summed over all listeners (thread CPU, so the listeners'
own client work is not counted) and the delay from publishing to the last listener's event.

    flock /tmp/footfall-bench.lock .venv/bin/python bench/dashboard_live.py --listeners 1 50
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dashboard_pages import log_in, percentiles, seeded_server
from dashboard import charts, pages
from footfall_core.contract import LiveMessage, LiveZone, live_topic
from tests.live_stream import LiveStream

STORE = "store-001"


class Meter:
    """Wraps the page's `live_state` and the figure builder to count builds and CPU time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cpu_s = 0.0
        self.builds = 0
        live_state, build = pages.live_state, charts.live_floor_figure

        def timed_state(*args, **kwargs):
            started = time.thread_time()
            try:
                return live_state(*args, **kwargs)
            finally:
                with self.lock:
                    self.cpu_s += time.thread_time() - started

        def counted_build(*args, **kwargs):
            with self.lock:
                self.builds += 1
            return build(*args, **kwargs)

        pages.live_state = timed_state
        charts.live_floor_figure = counted_build

    def take(self) -> tuple[float, int]:
        with self.lock:
            taken = self.cpu_s, self.builds
            self.cpu_s, self.builds = 0.0, 0
        return taken


def message(store: dict, people: int, rng: random.Random) -> LiveMessage:
    plan = store["floor_plan"]
    cells = [
        (rng.randrange(int(plan["width_m"] / 0.5)), rng.randrange(int(plan["height_m"] / 0.5)), 1)
        for _ in range(people)
    ]
    zones = [LiveZone(zone=z["name"], occupancy=rng.randrange(0, 8)) for z in store["zones"]]
    return LiveMessage(
        store=STORE,
        sent_at=datetime.now(UTC),
        cell_m=0.5,
        people=people,
        zones=zones,
        cells=cells,
        cameras=[c["name"] for c in store["cameras"]][:4] or ["cam1"],
    )


def run(
    base: str,
    cookies: httpx.Cookies,
    broker_port: int,
    store: dict,
    listeners: int,
    messages: int,
    meter: Meter,
) -> None:
    open_pages = [LiveStream(base, cookies, STORE) for _ in range(listeners)]
    for page in open_pages:
        page.start()
    wait(lambda: all(page.arrived for page in open_pages))
    version = max(max(page.arrived) for page in open_pages)
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-live-{listeners}")
    publisher.connect("127.0.0.1", broker_port)
    publisher.loop_start()
    rng = random.Random(listeners)
    meter.take()
    delays, cpu_ms, builds = [], [], []
    try:
        for k in range(messages):
            sent = time.perf_counter()
            publisher.publish(
                live_topic(STORE), message(store, 40 + k, rng).to_json(), qos=1
            ).wait_for_publish(5)
            version += 1
            wait(lambda v=version: all(v in page.arrived for page in open_pages))
            delays.append(max(page.arrived[version] for page in open_pages) - sent)
            time.sleep(0.3)  # let every listener finish this update before taking the meter
            cpu_s, built = meter.take()
            cpu_ms.append(cpu_s * 1000)
            builds.append(built)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        for page in open_pages:
            page.stop.set()
        for page in open_pages:
            page.join(10)  # it leaves at its next event: the 5 s heartbeat at the latest
    print(
        f"{listeners:3d} listeners: figure builds/update {statistics.mean(builds):5.1f}   "
        f"live_state CPU/update p50 {statistics.median(cpu_ms):7.1f} ms   "
        f"publish → last listener {percentiles(delays)}"
    )


def wait(predicate, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the listeners")
        time.sleep(0.005)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listeners", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    meter = Meter()
    with seeded_server(1, 1) as (base, broker), httpx.Client(base_url=base, timeout=60) as client:
        log_in(client)
        store = client.get(f"/api/v1/stores/{STORE}").raise_for_status().json()
        print(
            f"store {STORE}: plan {store['floor_plan']['width_m']} × {store['floor_plan']['height_m']} m, "
            f"{len(store['zones'])} zones"
        )
        for listeners in args.listeners:
            run(base, client.cookies, broker.port, store, listeners, args.messages, meter)
    return 0


if __name__ == "__main__":
    sys.exit(main())
