"""No URL's credentials in a log line or a response: footfall_core.redact on its own, then the
edge, the ingest and the calibration page as real processes and apps, each given a camera or
broker URL with a password."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from calibration.web import TOKEN_COOKIE, create_app
from footfall_core.redact import RedactFilter, redact_url
from tests.brokers import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-pw"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("rtsp://admin:s3cret@10.0.0.7:554/stream1", "rtsp://10.0.0.7:554/stream1"),
        ("rtsp://admin@10.0.0.7/stream1", "rtsp://10.0.0.7/stream1"),
        ("rtsp://admin:p@ss@10.0.0.7/s", "rtsp://10.0.0.7/s"),  # an unencoded @ in the password
        ("mqtt://ingest:pw@127.0.0.1:1883", "mqtt://127.0.0.1:1883"),
        ("mqtts://u%40x:p%2Fw@broker.example.com", "mqtts://broker.example.com"),
        (
            "http://cam/snapshot.cgi?user=admin&pwd=x1&res=hd",
            "http://cam/snapshot.cgi?user=***&pwd=***&res=hd",
        ),
        ("http://cam/a?Password=x&token=t", "http://cam/a?Password=***&token=***"),
        (
            "camera c1: source rtsp://a:b@h/1 failed; mqtt://u:v@m:1883 down",
            "camera c1: source rtsp://h/1 failed; mqtt://m:1883 down",
        ),
        ("'rtsp://a:b@h/1'", "'rtsp://h/1'"),
        # nothing to redact: returned as it is
        ("rtsp://10.0.0.7/stream1", "rtsp://10.0.0.7/stream1"),
        ("/data/videos/a@b.avi", "/data/videos/a@b.avi"),
        ("user@example.com wrote key=value", "user@example.com wrote key=value"),
        ("http://h/?size=2&page=1", "http://h/?size=2&page=1"),
        ("", ""),
    ],
)
def test_redact_url(text, expected):
    assert redact_url(text) == expected


def test_the_filter_cleans_messages_arguments_and_tracebacks():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactFilter())
    logger = logging.getLogger("tests.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("source %s gone", f"rtsp://admin:{SECRET}@10.0.0.7/s")
        try:
            raise OSError(f"cannot open http://cam/snap?pwd={SECRET}")
        except OSError:
            logger.exception("camera c1 failed")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert SECRET not in text
    assert "source rtsp://10.0.0.7/s gone" in text
    assert "OSError: cannot open http://cam/snap?pwd=***" in text  # the traceback is kept


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def _stderr_until(proc: subprocess.Popen, marker: str, timeout_s: float = 60) -> str:
    """The process's stderr up to the first line holding `marker` (then the process is stopped)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if marker in line:
                break
    finally:
        proc.terminate()
        proc.wait(10)
    return "".join(lines)


def test_the_edge_logs_a_camera_url_without_its_password(assets, tmp_path):
    port = free_port()  # nothing listens: the edge keeps reconnecting and says so
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "edge", "replay", f"rtsp://admin:{SECRET}@127.0.0.1:{port}/live",
            "--config", str(ROOT / "examples" / "pets09.yaml"), "--camera", "view001",
            "--out", str(tmp_path / "out.jsonl"),
        ],
        cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    text = _stderr_until(proc, "reconnecting in")
    assert f"source rtsp://127.0.0.1:{port}/live" in text
    assert SECRET not in text and "admin" not in text


def test_the_ingest_logs_the_broker_url_without_its_password(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "dashboard", "ingest", "--mqtt", f"mqtt://ingest:{SECRET}@127.0.0.1:{port}",
            "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}",
        ],
        cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    text = _stderr_until(proc, " → ")
    assert f"mqtt://127.0.0.1:{port}" in text
    assert SECRET not in text


def test_the_calibration_page_answers_a_dead_camera_without_its_password(tmp_path, assets):
    config = yaml.safe_load((ROOT / "examples" / "pets09.yaml").read_text())
    config["cameras"][0]["source"] = f"rtsp://admin:{SECRET}@127.0.0.1:{free_port()}/live"
    store = tmp_path / "store.yaml"
    store.write_text(yaml.safe_dump(config))
    client = TestClient(create_app(store, "token-for-this-test"))
    client.cookies.set(TOKEN_COOKIE, "token-for-this-test")
    response = client.get("/api/cameras/view001/snapshot.jpg")
    assert response.status_code == 502
    assert "rtsp://127.0.0.1:" in response.json()["detail"] and SECRET not in response.text
