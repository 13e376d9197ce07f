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
    got, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
    return got


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
    try:
        first = collect(sock, 20)
        assert first and first[0].startswith("READY=1"), first
        healthy = collect(sock, 3)  # pings every 0.5 s while the camera loop runs
        assert sum(m.startswith("WATCHDOG=1") for m in healthy) >= 4, healthy
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
            collect(sock, 4)  # the stall is noticed after --stall-after-s
            stalled = collect(sock, 3)
            assert not any(m.startswith("WATCHDOG=1") for m in stalled), stalled
        finally:
            os.kill(camera_pid, signal.SIGCONT)
        recovered = collect(sock, 4)
        assert any(m.startswith("WATCHDOG=1") for m in recovered), recovered
    finally:
        edge.send_signal(signal.SIGTERM)
        edge.wait(60)
        sock.close()
    assert edge.returncode == 0
    log = (tmp_path / "edge.log").read_text()
    assert "camera=view001" in log and "camera loop stalled" in log
