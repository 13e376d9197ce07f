"""Headless Chromium and a dashboard served in-process, for the browser tests."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn

from tests.needs import need

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def need_chromium() -> None:
    """Skip the calling test without Debian's Chromium; fail it under CI."""
    need(CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)")


class Server:
    """uvicorn in a thread, serving on a socket bound here to a free port (no other process can
    take the port between choosing and binding it); stopped by setting should_exit."""

    def __init__(self, app, timeout_graceful_shutdown_s: int = 5):
        self.app = app
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=timeout_graceful_shutdown_s)
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs=dict(sockets=[self.socket]), name="uvicorn", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline_s = time.monotonic() + 30
        while not self.server.started:  # uvicorn's own flag: the app started, the socket listens
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn stopped before it served (see the log above)")
            if time.monotonic() > deadline_s:
                raise TimeoutError("uvicorn did not start serving within 30 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.socket.close()
