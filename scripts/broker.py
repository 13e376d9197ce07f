"""A private Mosquitto on a free port with its own config and directory: for `make demo` and the tests."""

from __future__ import annotations

import getpass
import glob
import shutil
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
DYNSEC_PLUGIN = next(iter(glob.glob("/usr/lib/*/mosquitto_dynamic_security.so")), "")


def dynsec_config(config_file: Path) -> str:
    """Config lines handing users, client ids and ACLs to the dynamic-security plugin
    (the file `python -m dashboard broker-acl` writes)."""
    return f"plugin {DYNSEC_PLUGIN}\nplugin_opt_config_file {config_file}\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s} s")


class Mosquitto:
    """A private broker. `extra_config` lines are appended (dynsec_config, TLS, queue bounds, ...).

    Persistence is on, so a stop/start keeps sessions and queued QoS 1 messages, as a real
    deployment would.
    """

    def __init__(self, workdir: Path, extra_config: str = "", port: int | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra_config = extra_config
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        secured = "password_file" in self.extra_config or "plugin" in self.extra_config
        allow = "" if secured else "allow_anonymous true\n"
        # Run as whoever runs the tests: as root, Mosquitto would otherwise switch to the
        # `mosquitto` user, which cannot write persistence or logs into a private tmp dir.
        allow += f"user {getpass.getuser()}\n"
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n{allow}persistence true\n"
            f"persistence_location {self.workdir}/\nautosave_interval 1\n"
            f"log_dest file {self.workdir}/mosquitto.log\nlog_type error\nlog_type warning\n"
            f"max_queued_messages 0\n{self.extra_config}\n"
        )
        return conf

    def start(self) -> Mosquitto:
        conf = self.write_config()
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for_port(self.port)
        except TimeoutError as timeout:
            log = self.workdir / "mosquitto.log"
            raise RuntimeError(
                f"mosquitto did not start: {log.read_text() if log.exists() else ''}"
            ) from timeout
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
