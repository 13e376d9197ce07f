"""systemd's notify protocol (sd_notify), without a dependency: READY, STATUS, STOPPING and
watchdog keep-alives. The keep-alive is sent only while the caller says the work is healthy,
so that a hung camera loop gets the service restarted, not just a dead process."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping


class Notifier:
    """Talks to `$NOTIFY_SOCKET`; does nothing when the process is not run by systemd."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        environ = os.environ if environ is None else environ
        path = environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + path[1:] if path.startswith("@") else path
        usec = environ.get("WATCHDOG_USEC", "")
        # systemd asks for a keep-alive within WATCHDOG_USEC; ping at half of it, as
        # sd_watchdog_enabled advises.
        self.interval_s = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else None
        self._clock = clock
        self._last_ping = float("-inf")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) if self._address else None

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def notify(self, *fields: str) -> None:
        if self._socket is not None:
            try:
                self._socket.sendto("\n".join(fields).encode(), self._address)
            except OSError:
                pass  # systemd gone (shutting down): nothing to tell

    def ready(self, status: str = "running") -> None:
        self.notify("READY=1", f"STATUS={status}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def keepalive(self, healthy: bool, status: str | None = None) -> bool:
        """Call from the main loop as often as you like; pings at most every interval_s, and only
        when `healthy`. Returns whether a ping was sent."""
        if not healthy or self.interval_s is None:
            return False
        now = self._clock()
        if now - self._last_ping < self.interval_s:
            return False
        self._last_ping = now
        self.notify("WATCHDOG=1", *([f"STATUS={status}"] if status else []))
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
