"""`python -m edge run` on a real RTSP camera (GStreamer's server, PETS09 as H.264 at 25 fps):
through Mosquitto into the dashboard's ingest, with the camera killed and restarted mid-stream;
and the camera coming back at other resolutions."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa

from dashboard import tables as t
from dashboard.__main__ import main as dashboard_main
from dashboard.storage import Storage
from edge.pipeline import CameraPipeline
from footfall_core.assets import REPO_ROOT
from footfall_core.contract import parse_aggregate
from footfall_core.store import load_config
from scripts.rtsp_camera import RtspCamera
from tests.rtsp_support import edge_run, store_yaml, wait_until

pytestmark = pytest.mark.slow


def _ingest(broker_url: str, db_url: str, log) -> subprocess.Popen:
    command = [sys.executable, "-m", "dashboard", "--log-level", "WARNING", "ingest", "--mqtt", broker_url]
    command += ["--db", db_url, "--group", "rtsp", "--client-id", "ingest-rtsp"]
    return subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)


class CameraStates:
    """The camera's states in the device health messages (retained, every second), in order."""

    def __init__(self, broker_port: int, store: str, camera: str):
        self.seen: list[str] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-health")

        def on_message(_client, _userdata, message) -> None:
            state = json.loads(message.payload)["cameras"].get(camera)
            if state and (not self.seen or self.seen[-1] != state):
                self.seen.append(state)

        self.client.on_message = on_message
        self.client.on_connect = lambda client, *_: client.subscribe(f"footfall/v1/{store}/health", qos=1)
        self.client.connect("127.0.0.1", broker_port)
        self.client.loop_start()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _health_rows(storage: Storage) -> list:
    with storage.engine.connect() as conn:
        return list(conn.execute(sa.select(t.health_minutes).order_by(t.health_minutes.c.bucket_start)))


def _dead_letters(storage: Storage) -> list:
    with storage.engine.connect() as conn:
        return list(conn.execute(sa.select(t.dead_letters.c.topic, t.dead_letters.c.code)))


def test_rtsp_camera_through_mqtt_into_the_ingest_across_a_camera_restart(broker, rtsp_camera, tmp_path):
    """Aggregates of the live camera reach the database stamped by the wall clock, at most 5
    analysed frames a second of the 25; the camera killed mid-stream is reported
    `reconnecting` and then `ok` again, the gap shows in the health buckets, and no bucket is
    sent twice with other contents (the ingest would dead-letter it as a conflict)."""
    db_url = f"sqlite:///{tmp_path / 'footfall.sqlite3'}"
    config = store_yaml(tmp_path, rtsp_camera.url, mqtt={"health_interval_s": 1}, read_timeout_s=3)
    assert dashboard_main(["--log-level", "WARNING", "migrate", "--db", db_url]) == 0
    assert dashboard_main(["--log-level", "WARNING", "stores", "--db", db_url, "import", str(config)]) == 0
    storage = Storage(db_url)
    started = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    states = CameraStates(broker.port, "pets09", "view001")
    with (tmp_path / "ingest.log").open("w") as ingest_log:
        ingest = _ingest(broker.url, db_url, ingest_log)
        try:
            run_args = ("--mqtt", broker.url, "--state-dir", str(tmp_path))
            with edge_run(config, *run_args, log=tmp_path / "edge.log") as edge:
                wait_until(
                    lambda: len(_health_rows(storage)) >= 2 or edge.poll() is not None,
                    240,
                    "two health buckets stored",
                )
                assert edge.poll() is None, (tmp_path / "edge.log").read_text()[-3000:]
                rtsp_camera.stop()
                wait_until(lambda: "reconnecting" in states.seen, 120, "device health: reconnecting")
                wait_until(
                    lambda: any(row.reconnects > 0 for row in _health_rows(storage)), 120, "the gap stored"
                )
                rtsp_camera.start()
                wait_until(lambda: states.seen[-1] == "ok", 120, "device health: ok again")
                gap_end = max(row.bucket_start for row in _health_rows(storage))
                wait_until(
                    lambda: any(
                        row.bucket_start > gap_end and row.frames_analysed > 0
                        for row in _health_rows(storage)
                    ),
                    120,
                    "frames analysed after the restart, stored",
                )
        finally:
            ingest.terminate()
            ingest.wait(30)
            states.close()
    ended = datetime.now(UTC).replace(tzinfo=None)
    rows = _health_rows(storage)
    assert all(started.replace(second=0) <= row.bucket_start <= ended for row in rows), "wall-clock buckets"
    for row in rows:  # a 5 s bucket: at most 5 frames a second analysed, of about 25 read
        assert row.frames_analysed <= 5 * 5 + 1, row
    assert sum(row.frames_read for row in rows) > 3 * sum(row.frames_analysed for row in rows)
    seen = states.seen  # ok, then reconnecting, then ok again (a slow first open may add one before)
    assert "ok" in seen and "reconnecting" in seen[seen.index("ok") :] and seen[-1] == "ok", seen
    statuses = [row.source_status for row in rows]
    assert "reconnecting" in statuses and statuses[-1] == "ok", statuses
    assert _dead_letters(storage) == [], "no bucket sent twice with other contents"
    log = (tmp_path / "edge.log").read_text()
    assert "reconnecting in" in log and rtsp_camera.url in log


def test_camera_back_at_another_resolution(clips, tmp_path):
    """Restarted at 1024x576 (16:9, the calibration's is 4:3) the camera is in error, logged
    with both sizes, and counts nothing; at 640x480 (4:3) it is scaled and counts again."""
    out = tmp_path / "out"
    with RtspCamera(clips("pets09_short")) as camera:
        config = store_yaml(tmp_path, camera.url)
        healths = out / "view001.agg.jsonl"

        def health() -> list:
            if not healths.exists():
                return []
            lines = healths.read_bytes().splitlines()
            return [a for a in map(parse_aggregate, lines) if a.kind == "health"]

        with edge_run(config, "--out", str(out), log=tmp_path / "edge.log") as edge:
            wait_until(
                lambda: any(h.frames_analysed > 0 for h in health()), 240, "frames analysed at 768x576"
            )
            camera.stop()
            camera.start(clips("pets09_1024x576"))
            wait_until(
                lambda: any(
                    h.source_status == "error" and h.frames_dropped > 0 and h.frames_analysed == 0
                    for h in health()
                ),
                120,
                "a bucket in error, its frames dropped, none analysed",
            )
            assert (
                "frame size 1024x576 (aspect 1.778) does not match the calibration's 768x576"
                in (tmp_path / "edge.log").read_text()
            )
            error_at = len(health())
            camera.stop()
            camera.start(clips("pets09_640x480"))
            wait_until(
                lambda: any(h.source_status == "ok" and h.frames_analysed > 0 for h in health()[error_at:]),
                120,
                "counting again at 640x480",
            )
            assert edge.poll() is None


def test_damaged_frames_show_in_health(clips, tmp_path):
    """The camera's pipeline over a stream with damaged packets: the frames its reader drops
    are counted read and dropped in the health buckets, and the loop goes on analysing."""
    with RtspCamera(clips("pets09_corrupt")) as camera:
        pipeline = CameraPipeline(load_config(store_yaml(tmp_path, camera.url)), "view001")
        healths = []
        for message in pipeline.run():
            if getattr(message, "kind", None) == "health":
                healths.append(message)
            feed = pipeline._feed
            if feed is not None and feed.source.corrupt >= 40 and pipeline.frames_analysed >= 20:
                pipeline.stop()
    source = pipeline._feed.source
    assert sum(h.frames_dropped for h in healths) >= source.corrupt >= 40
    assert sum(h.frames_read for h in healths) >= source.frames_read + source.corrupt
    assert sum(h.frames_analysed for h in healths) == pipeline.frames_analysed >= 20
