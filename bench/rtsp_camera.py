"""What an IP camera costs the edge: PETS09 encoded as a camera encodes it (H.264 main profile,
768×576, 25 frames/s, a key frame every 2 s, no B-frames) and served by a real RTSP server
(GStreamer's, scripts/rtsp_camera.py) on loopback.

1. The reader alone, for `--seconds` of the stream, analysed at `--fps` frames/s: CPU ms per
   second of video (one core = 1000) of the edge's RTSP reader converting every frame, and
   converting only the frames the rate gate admits (the edge's way); and OpenCV's FFmpeg
   backend doing the same with `grab()`/`retrieve()`, to show what `grab()` costs.
2. With `--run`: `python -m edge run` on that camera (detector, tracker, analytics, outbox,
   MQTT to a private Mosquitto) for `--seconds`: the CPU of the whole edge (supervisor, fork
   server and camera process, from /proc), and the delay from a frame's capture (its
   timestamp: the wall clock when the edge grabbed it) to the live message reaching a
   subscriber of the broker, and to the live page's event (the dashboard's app in this
   process, its live page open as a browser holds it: the SSE stream). The live map is built
   from `analysis.live_interval_s` (1 s here) of frames, which the edge reads in bursts of
   `analysis.burst_s` (1 s): a capture is up to about two seconds old when it is shown.

    .venv/bin/python bench/rtsp_camera.py [--seconds 20] [--fps 5] [--run]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import httpx
import paho.mqtt.client as mqtt
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dashboard_pages import PASSWORD, log_in
from dashboard import auth
from dashboard.__main__ import main as dashboard_main
from dashboard.app import create_app
from dashboard.settings import Settings
from dashboard.storage import Storage
from edge.rtsp_reader import RtspReader
from edge.source import FrameSource, RateGate
from footfall_core.assets import REPO_ROOT, assets_dir
from footfall_core.contract import LiveMessage
from footfall_core.store import Mqtt
from scripts.broker import Mosquitto
from scripts.rtsp_camera import RtspCamera, encode_clip
from tests.browser_support import Server
from tests.live_stream import LiveStream

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def reader_cpu_ms_per_s(url: str, seconds: float, fps: float | None) -> tuple[float, int, int]:
    """(CPU ms per second of video, frames read, frames converted) of the edge's RTSP reader
    for `seconds` of stream; `fps` None converts every frame."""
    gate = RateGate(fps) if fps else None
    source = FrameSource("bench", url, RtspReader(url), live=True, admit=gate.admit if gate else None)
    converted = 0
    started, cpu = time.monotonic(), time.process_time()
    for _ in source:
        converted += 1
        if time.monotonic() - started >= seconds:
            break
    cpu_s, wall_s = time.process_time() - cpu, time.monotonic() - started
    source.close()
    return cpu_s * 1000 / wall_s, source.frames_read, converted


def opencv_cpu_ms_per_s(url: str, seconds: float, every: int) -> tuple[float, int]:
    """(CPU ms per second, frames grabbed) of OpenCV grabbing every frame and retrieving
    every `every`-th (0: none)."""
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    grabbed = 0
    started, cpu = time.monotonic(), time.process_time()
    while time.monotonic() - started < seconds and capture.grab():
        if every and grabbed % every == 0:
            capture.retrieve()
        grabbed += 1
    cpu_s, wall_s = time.process_time() - cpu, time.monotonic() - started
    capture.release()
    return cpu_s * 1000 / wall_s, grabbed


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of `pid` and its living descendants (Linux: /proc)."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                todo.extend(int(child) for child in children)
        except OSError:
            continue
    return total


class QuietLiveStream(LiveStream):
    """The live page's stream, ending quietly when the server goes away at the end."""

    def run(self) -> None:
        with contextlib.suppress(httpx.HTTPError):
            super().run()


def run_edge(url: str, seconds: float, fps: float, workdir: Path) -> None:
    """`python -m edge run` on the camera, through a private Mosquitto to the dashboard (the real
    app in this process, its live page open as a browser keeps it: an SSE stream)."""
    data = yaml.safe_load((REPO_ROOT / "examples/pets09.yaml").read_text())
    data["analysis"].update(fps=fps, bucket_s=10, live_interval_s=1)
    camera = data["cameras"][0]
    camera["source"] = url
    camera.pop("fps", None)
    config = workdir / "store.yaml"
    config.write_text(yaml.safe_dump(data))
    db_url = f"sqlite:///{workdir / 'dashboard.sqlite3'}"
    dashboard_main(["--log-level", "WARNING", "migrate", "--db", db_url])
    dashboard_main(["--log-level", "WARNING", "stores", "--db", db_url, "import", str(config)])
    with Storage(db_url).engine.begin() as conn:
        auth.add_user(conn, "hq", "hq", PASSWORD)
    sent: list[tuple[float, float]] = []  # (arrival at a broker subscriber, capture), wall clock s
    with Mosquitto(workdir / "broker") as broker:
        listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-live")

        def on_message(_client, _userdata, message) -> None:
            live = LiveMessage.model_validate(json.loads(message.payload))
            sent.append((time.time(), live.sent_at.timestamp()))

        listener.on_message = on_message
        listener.on_connect = lambda client, *_: client.subscribe("footfall/v1/+/live", qos=0)
        listener.connect("127.0.0.1", broker.port)
        listener.loop_start()
        app = create_app(
            Settings(
                db_url=db_url,
                secret_key="bench-" + "Zq9x" * 10,
                mqtt=Mqtt(url=broker.url),
                secure_cookies=False,
            )
        )
        with (
            Server(app, timeout_graceful_shutdown_s=2) as server,
            httpx.Client(base_url=server.url) as client,
        ):
            log_in(client)
            page = QuietLiveStream(server.url, client.cookies, "pets09")
            page.start()
            wall_minus_perf = time.time() - time.perf_counter()
            command = [sys.executable, "-m", "edge", "--log-level", "WARNING", "run", "--config", str(config)]
            command += ["--mqtt", broker.url, "--state-dir", str(workdir)]
            log = (workdir / "edge.log").open("w")
            edge = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 300
                while not sent and time.monotonic() < deadline and edge.poll() is None:
                    time.sleep(0.2)  # the model loaded and the first live message out
                if not sent:
                    raise SystemExit(
                        f"no live message; edge log: {(workdir / 'edge.log').read_text()[-2000:]}"
                    )
                first_sent, first_event = len(sent), max(page.arrived, default=-1)
                cpu, started = tree_cpu_s(edge.pid), time.monotonic()
                time.sleep(seconds)
                cpu_s, wall_s = tree_cpu_s(edge.pid) - cpu, time.monotonic() - started
                window_end = time.time()
            finally:
                logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)  # the open page is cut
                edge.terminate()
                edge.wait(60)
                listener.loop_stop()
                page.stop.set()
                log.close()
    to_broker = [arrived - captured for arrived, captured in sent[first_sent:]]
    to_page = []  # an event: the delay since the capture of the newest live message before it
    for version, perf in sorted(page.arrived.items()):
        arrived = perf + wall_minus_perf
        before = [captured for at, captured in sent if at <= arrived]
        if version > first_event and before and arrived <= window_end:
            to_page.append(arrived - before[-1])
    print(
        f"edge run, one 25 fps H.264 768x576 RTSP camera analysed at {fps:g} frames/s: "
        f"{cpu_s * 1000 / wall_s:.0f} CPU ms per s ({cpu_s / wall_s:.1%} of a core) over {wall_s:.0f} s, "
        f"every process of the edge"
    )
    for name, delays in (("live message at a broker subscriber", to_broker), ("live page event", to_page)):
        if delays:
            print(
                f"capture -> {name}: median {statistics.median(delays):.2f} s, "
                f"p95 {statistics.quantiles(delays, n=20, method='inclusive')[18]:.2f} s, "
                f"max {max(delays):.2f} s ({len(delays)} messages)"
                if len(delays) > 1
                else f"capture -> {name}: {delays[0]:.2f} s (1 message)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="stream time per measurement (default 20)"
    )
    parser.add_argument("--fps", type=float, default=5.0, help="analysed frames per second (default 5)")
    parser.add_argument("--run", action="store_true", help="also run python -m edge run on the camera")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rtsp-bench-") as tmp:
        workdir = Path(tmp)
        clip = encode_clip(assets_dir() / "datasets/pets09_s2l1/vtest.avi", workdir / "pets09.mp4", passes=3)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
        with RtspCamera(clip) as camera:
            print(
                f"reader of one 25 fps H.264 768x576 RTSP camera, CPU ms per second ({args.seconds:g} s each)"
            )
            for name, fps in (("convert every frame", None), (f"rate gate {args.fps:g}/s first", args.fps)):
                ms, read, converted = reader_cpu_ms_per_s(camera.url, args.seconds, fps)
                print(f"  edge reader, {name:22s} {ms:6.1f} ms/s  ({read} read, {converted} converted)")
            every = round(25 / args.fps)
            for name, nth in (
                ("grab() only", 0),
                (f"grab(), retrieve() 1 in {every}", every),
                ("grab()+retrieve()", 1),
            ):
                ms, grabbed = opencv_cpu_ms_per_s(camera.url, args.seconds, nth)
                print(f"  OpenCV, {name:27s} {ms:6.1f} ms/s  ({grabbed} grabbed)")
            if args.run:
                run_edge(camera.url, args.seconds, args.fps, workdir)
        print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
