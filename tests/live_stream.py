"""One open live page, for tests and bench/dashboard_live.py: a thread reading a store's SSE
stream (`/stores/{store}/live/events`) that keeps, per event id (the snapshot version), the
event's data and when it arrived."""

from __future__ import annotations

import threading
import time

import httpx


class LiveStream(threading.Thread):
    def __init__(self, url: str, cookies: httpx.Cookies, store: str, timeout_s: float = 60):
        super().__init__(daemon=True)
        self.url, self.cookies, self.store, self.timeout_s = url, cookies, store, timeout_s
        self.events: dict[int, str] = {}  # version -> data line (JSON)
        self.arrived: dict[int, float] = {}  # version -> time.perf_counter() when its id came
        self.stop = threading.Event()

    def run(self) -> None:
        version = None
        with (
            httpx.Client(base_url=self.url, cookies=self.cookies, timeout=self.timeout_s) as client,
            client.stream("GET", f"/stores/{self.store}/live/events") as stream,
        ):
            for line in stream.iter_lines():
                if line.startswith("id: "):
                    version = int(line[4:])
                    self.arrived.setdefault(version, time.perf_counter())
                elif line.startswith("data: ") and version is not None:
                    self.events[version] = line[6:]
                if self.stop.is_set():
                    return

    def wait_for(self, version: int, timeout_s: float = 10) -> str:
        """The data of event `version`, once it has come."""
        deadline = time.monotonic() + timeout_s
        while version not in self.events:
            assert time.monotonic() < deadline, f"{self.store}: no event for version {version}"
            time.sleep(0.01)
        return self.events[version]
