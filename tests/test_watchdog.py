import logging
import socket
import time

import pytest

from edge.logs import setup_logging
from footfall_core.watchdog import Notifier


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.5)
    yield str(path), sock
    sock.close()


def received(sock) -> list[str]:
    out = []
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except (TimeoutError, BlockingIOError):
        return out


def received_until(sock, enough, timeout_s: float = 30.0) -> list[str]:
    """Datagrams until `enough(datagrams)` holds; fails after `timeout_s` without it."""
    out, deadline = [], time.monotonic() + timeout_s
    while not enough(out):
        left_s = deadline - time.monotonic()
        assert left_s > 0, f"after {timeout_s} s only {out}"
        sock.settimeout(left_s)
        out.append(sock.recv(4096).decode())
    return out


def test_ready_then_periodic_keepalives_only_while_healthy(notify_socket):
    path, sock = notify_socket
    now = [0.0]
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}, clock=lambda: now[0])
    assert notifier.interval_s == 1.0
    notifier.ready()
    assert received(sock) == ["READY=1\nSTATUS=running"]
    pings = []
    for step in range(10):  # 5 s of a healthy loop ticking every 0.5 s
        now[0] = step * 0.5
        pings.append(notifier.keepalive(healthy=True))
    assert sum(pings) == 5
    assert received(sock) == ["WATCHDOG=1"] * 5
    for step in range(10, 20):  # the frame loop stalls: no more pings, so systemd restarts us
        now[0] = step * 0.5
        assert not notifier.keepalive(healthy=False)
    assert received(sock) == []


def test_abstract_socket_and_no_systemd():
    assert Notifier({"NOTIFY_SOCKET": "@footfall"})._address == "\0footfall"
    silent = Notifier({})
    assert not silent.enabled and not silent.keepalive(True)
    silent.ready()  # harmless outside systemd


def test_log_lines_carry_store_and_camera(capsys):
    setup_logging("INFO", store="pets09", camera="view001")
    logging.getLogger("edge.test").info("source reconnected")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "store=pets09 camera=view001" in line and 'msg="source reconnected"' in line
    with pytest.raises(ValueError, match="--log-level"):
        setup_logging("LOUD")


def test_dashboard_app_tells_systemd_it_is_ready_and_alive(notify_socket, monkeypatch, tmp_path):
    from fastapi.testclient import TestClient

    from dashboard.app import create_app
    from dashboard.settings import Settings

    path, sock = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # a ping every 0.2 s
    settings = Settings(
        secure_cookies=False, db_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", secret_key="watchdog-" + "k" * 40
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/stores").status_code in (401, 403)  # up and answering
        alive = received_until(sock, lambda got: got.count("WATCHDOG=1") >= 2)
        assert alive[0].startswith("READY=1")
    assert received_until(sock, lambda got: got and got[-1] == "STOPPING=1", timeout_s=10)
