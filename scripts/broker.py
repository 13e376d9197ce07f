"""A private Mosquitto on a free port with its own config and directory: for `make demo` and the tests."""

from __future__ import annotations

import getpass
import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
BIND_ATTEMPTS = 5
DYNSEC_PLUGIN = next(iter(glob.glob("/usr/lib/*/mosquitto_dynamic_security.so")), "")


def dynsec_config(config_file: Path) -> str:
    """Config lines handing users, client ids and ACLs to the dynamic-security plugin
    (the file `python -m dashboard broker-acl` writes)."""
    return f"plugin {DYNSEC_PLUGIN}\nplugin_opt_config_file {config_file}\n"


def free_port() -> int:
    """A port nothing listens on now. Another process may take it before ours binds it: check a
    process started on it with `wait_for_listener` (and start it again elsewhere if it could not
    bind)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listens(pid: int, port: int) -> bool:
    """Process `pid` itself holds a TCP socket listening on `port` (Linux: /proc)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            return False
        for row in rows:  # sl, local address:port (hex), remote, state (0A: LISTEN), ..., inode
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return False
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in descriptors:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
        except OSError:  # closed meanwhile
            continue
    return False


class ExitedError(RuntimeError):
    """The process ended before it listened."""


def wait_for_listener(process: subprocess.Popen, port: int, timeout_s: float = 10.0) -> None:
    """Wait until `process` itself listens on `port`. Another process listening there does not
    count; `process` exiting first (it could not bind the port, say) raises ExitedError at once."""
    deadline = time.monotonic() + timeout_s
    while not listens(process.pid, port):
        if process.poll() is not None:
            raise ExitedError(f"process {process.pid} exited with {process.returncode} before listening")
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {process.pid} not listening on port {port} after {timeout_s} s")
        time.sleep(0.02)


class Mosquitto:
    """A private broker. `extra_config` lines are appended (dynsec_config, TLS, queue bounds, ...).

    Persistence is on, so a stop/start keeps sessions and queued QoS 1 messages, as a real
    deployment would.
    """

    def __init__(self, workdir: Path, extra_config: str = "", port: int | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self._may_move = port is None  # a port it picked itself, until a start has bound it
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
        """Start on `port` and wait until this Mosquitto listens there. A port it picked itself and
        another process took meanwhile is given up for another one; once bound, a port is kept
        (a restart comes back on it, where the clients reconnect)."""
        log = self.workdir / "mosquitto.log"
        attempt = 1
        while True:
            logged = log.stat().st_size if log.exists() else 0
            self.process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.write_config())],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_for_listener(self.process, self.port)
                self._may_move = False
                return self
            except (ExitedError, TimeoutError) as failed:
                self.stop()
                said = log.read_bytes()[logged:].decode(errors="replace") if log.exists() else ""
                if not (self._may_move and "Address already in use" in said and attempt < BIND_ATTEMPTS):
                    raise RuntimeError(
                        f"mosquitto did not start on port {self.port}: {failed}; {said}"
                    ) from None
                self.port, attempt = free_port(), attempt + 1

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
