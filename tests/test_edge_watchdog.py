"""`python -m edge run` under a fake systemd: READY=1, periodic WATCHDOG=1, and no pings while a
camera loop is stalled (here: its process is frozen with SIGSTOP), so systemd would restart it."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.procfs import children, command

REPO = Path(__file__).resolve().parent.parent


def collect(sock, seconds: float) -> list[str]:
    """Every datagram for `seconds` (0: only those already waiting)."""
    got, deadline = [], time.monotonic() + seconds
    while True:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            if time.monotonic() >= deadline:
                return got


def collect_until(sock, enough, timeout_s: float) -> list[str]:
    """Datagrams until `enough(datagrams)` holds; fails after `timeout_s` without it."""
    got, deadline = [], time.monotonic() + timeout_s
    while not enough(got):
        left_s = deadline - time.monotonic()
        assert left_s > 0, f"after {timeout_s} s only {got}"
        sock.settimeout(left_s)
        got.append(sock.recv(4096).decode())
    return got


def pings(datagrams: list[str]) -> int:
    return sum(m.startswith("WATCHDOG=1") for m in datagrams)


@pytest.mark.slow
def test_keepalives_stop_while_a_camera_loop_is_stalled(tmp_path):
    config = yaml.safe_load((REPO / "examples/pets09.yaml").read_text())
    for camera in config["cameras"]:
        camera.update(realtime=True, loop=True)
    store = tmp_path / "store.yaml"
    store.write_text(yaml.safe_dump(config))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock"), WATCHDOG_USEC="1000000")
    edge = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge",
            "run",
            "--config",
            str(store),
            "--out",
            str(tmp_path / "out"),
            "--stall-after-s",
            "3",
        ],
        cwd=REPO,
        env=env,
        stderr=open(tmp_path / "edge.log", "wb"),
    )
    log = tmp_path / "edge.log"
    try:
        first = collect_until(sock, lambda got: got, 60)
        assert first[0].startswith("READY=1"), first
        collect_until(sock, lambda got: pings(got) >= 4, 30)  # pings every 0.5 s while the loop runs
        # the camera is forked by multiprocessing's fork server, a child of the edge process
        # (beside the resource tracker)
        [camera_pid] = [
            pid
            for server in children(edge.pid)
            if "forkserver" in command(server)
            for pid in children(server)
        ]
        os.kill(camera_pid, signal.SIGSTOP)  # the camera loop hangs
        try:
            deadline_s = time.monotonic() + 30  # noticed after --stall-after-s
            while "camera loop stalled" not in log.read_text():
                assert time.monotonic() < deadline_s, "the stall was never noticed"
                time.sleep(0.1)
            collect(sock, 0)  # the pings sent before the edge logged it
            stalled = collect(sock, 3)  # six ping periods
            assert pings(stalled) == 0, stalled
        finally:
            os.kill(camera_pid, signal.SIGCONT)
        collect_until(sock, pings, 30)  # the pings come back once the camera loop runs again
    finally:
        edge.send_signal(signal.SIGTERM)
        edge.wait(60)
        sock.close()
    assert edge.returncode == 0
    assert "camera=view001" in log.read_text()
