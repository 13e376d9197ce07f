"""Benchmark: web page latency and live-map delay, on a seeded SQLite chain.

Seeds `--stores` generated stores × `--weeks` weeks with `python -m dashboard seed`, starts the
real app under uvicorn with a private Mosquitto, logs in, then prints:
- p50/p95 server time of the trends page (one store-week, 7 charts), the compare page (every
  store) and the live page, over `--repeat` requests each;
- the live delay: time from publishing a LiveMessage to the broker until the SSE event carrying
  it arrives at a client of the page's stream, p50/p95 over `--messages` messages (the browser
  then only redraws).

    .venv/bin/python bench/dashboard_pages.py --stores 10 --weeks 4
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard import auth
from dashboard.__main__ import main as dashboard_main
from dashboard.app import create_app
from dashboard.settings import Settings
from dashboard.storage import Storage
from footfall_core.contract import LiveMessage, LiveZone, live_topic
from footfall_core.store import Mqtt
from tests.brokers import Mosquitto
from tests.browser_support import Server

PASSWORD = "bench password 1"


def percentiles(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return f"p50 {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   (n={len(ms)})"


def log_in(client: httpx.Client) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post(
        "/login",
        data=dict(username="hq", password=PASSWORD, csrf_token=token),
        headers={"Origin": str(client.base_url).rstrip("/")},
    )
    if response.status_code != 303:
        raise SystemExit(f"log in failed: {response.status_code} {response.text[:200]}")


def live_delay(base_url: str, cookies, broker_port: int, store: str, messages: int) -> list[float]:
    """Publish LiveMessages one by one; measure until each one's SSE event is read."""
    received: dict[int, float] = {}
    ready = threading.Event()

    def listen() -> None:
        with httpx.Client(base_url=base_url, cookies=cookies, timeout=30) as client:
            with client.stream("GET", f"/stores/{store}/live/events") as stream:
                ready.set()
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        people = json.loads(line[6:])["people"]
                        received.setdefault(people, time.perf_counter())
                        if len(received) > messages:
                            return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    ready.wait(10)
    time.sleep(0.5)
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    publisher.connect("127.0.0.1", broker_port)
    publisher.loop_start()
    sent: dict[int, float] = {}
    for k in range(1, messages + 1):
        message = LiveMessage(
            store=store,
            sent_at=datetime.now(UTC),
            cell_m=1.0,
            people=k,
            zones=[LiveZone(zone="entrance", occupancy=k)],
            cells=[(3, 3, k)],
            cameras=["cam1"],
        )
        sent[k] = time.perf_counter()
        publisher.publish(live_topic(store), message.to_json(), qos=1).wait_for_publish(5)
        time.sleep(0.2)
    thread.join(10)
    publisher.disconnect()
    publisher.loop_stop()
    return [received[k] - sent[k] for k in sent if k in received]


@contextmanager
def seeded_server(stores: int, weeks: int) -> Iterator[tuple[str, Mosquitto]]:
    """`stores` × `weeks` seeded into a scratch SQLite, user `hq`, a private Mosquitto and the
    real app under uvicorn in a thread: yields the base URL and the broker."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        started = time.perf_counter()
        dashboard_main(
            [
                "--log-level",
                "WARNING",
                "seed",
                "--db",
                url,
                "--stores",
                str(stores),
                "--weeks",
                str(weeks),
                "--end",
                date(2026, 3, 9).isoformat(),
            ]
        )
        print(f"seeded {stores} stores × {weeks} weeks in {time.perf_counter() - started:.1f} s")
        with Storage(url).engine.begin() as conn:
            auth.add_user(conn, "hq", "hq", PASSWORD)
        with Mosquitto(Path(tmp) / "broker") as broker:
            app = create_app(
                Settings(
                    db_url=url,
                    secret_key="bench-" + "Zq9x" * 10,
                    mqtt=Mqtt(url=broker.url),
                    secure_cookies=False,
                )
            )
            with Server(app, timeout_graceful_shutdown_s=2) as server:
                yield server.url, broker


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--messages", type=int, default=30)
    args = parser.parse_args()
    with (
        seeded_server(args.stores, args.weeks) as (base, broker),
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        log_in(client)
        pages = {
            "trends (1 store-week)": "/stores/store-001/trends?week=2026-W10",
            f"compare ({args.stores} stores, 1 week)": "/compare?start=2026-03-02&end=2026-03-08",
            "live page": "/stores/store-001/live",
        }
        for name, path in pages.items():
            client.get(path).raise_for_status()  # warm up
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                client.get(path).raise_for_status()
                times.append(time.perf_counter() - t0)
            print(f"{name:32s} {percentiles(times)}")
        delays = live_delay(base, client.cookies, broker.port, "store-001", args.messages)
        print(f"{'live: broker → SSE event':32s} {percentiles(delays)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
