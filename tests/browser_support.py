"""Headless Chromium and a dashboard served in-process, for the browser tests."""

from __future__ import annotations

import threading
from pathlib import Path

import uvicorn

from tests.brokers import free_port, wait_for_port
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
    """uvicorn in a thread on a free port; stopped by setting should_exit."""

    def __init__(self, app):
        self.app = app
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=5
            )
        )
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)
