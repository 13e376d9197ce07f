"""Fixtures for tests against a real RTSP camera (scripts/rtsp_camera.py): PETS09 encoded as an
IP camera encodes it (H.264 at 25 frames/s), served by GStreamer's RTSP server on a free port,
and a store config whose camera reads it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from footfall_core.assets import REPO_ROOT, assets_dir
from scripts.rtsp_camera import RtspCamera, encode_clip, server_available
from tests import edge_process
from tests.needs import need

PETS09 = "datasets/pets09_s2l1/vtest.avi"
CLIPS: dict[str, dict] = {  # name: encode_clip keywords
    "pets09": {},  # 795 frames, 768x576: 32 s at 25 fps
    "pets09_short": {"frames": 250},
    "pets09_640x480": {"frames": 250, "size_px": (640, 480)},  # the same aspect, scaled
    "pets09_1024x576": {"frames": 250, "size_px": (1024, 576)},  # 16:9: another view
    "pets09_corrupt": {"frames": 400, "corrupt_every": 4},
}


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> Callable[[str], Path]:
    """clips(name) → the MP4 of CLIPS[name], encoded once a session."""
    reason = server_available()
    need(reason is None, reason or "")
    folder = tmp_path_factory.mktemp("rtsp-clips")

    def clip(name: str) -> Path:
        path = folder / f"{name}.mp4"
        if not path.exists():
            encode_clip(assets_dir() / PETS09, path, **CLIPS[name])
        return path

    return clip


@pytest.fixture
def rtsp_camera(clips) -> Iterator[RtspCamera]:
    """PETS09 at 25 fps served over RTSP; the test may stop, restart, freeze it."""
    with RtspCamera(clips("pets09")) as camera:
        yield camera


def store_yaml(tmp_path: Path, url: str, mqtt: dict | None = None, **camera) -> Path:
    """examples/pets09.yaml with its camera reading `url` live at 25 fps, analysed at 5 fps in
    5 s buckets; `camera` keys are added to the camera, `mqtt` keys to the mqtt section."""
    data = yaml.safe_load((REPO_ROOT / "examples/pets09.yaml").read_text())
    data["analysis"].update(fps=5, bucket_s=5, live_interval_s=1)
    data.setdefault("mqtt", {}).update(mqtt or {})
    cam = data["cameras"][0]
    cam["source"] = url
    cam.pop("fps", None)
    cam.update(camera)
    path = tmp_path / "store.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_probe(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m edge probe ARGS` from the repository, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "edge", "probe", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def edge_run(config: Path, *args: str, log: Path) -> Iterator[subprocess.Popen]:
    """`python -m edge run --config CONFIG ARGS` (tests/edge_process.py), its log in `log`."""
    with (
        log.open("w") as out,
        edge_process.edge_run(config, *args, stdout=out, stderr=subprocess.STDOUT) as process,
    ):
        yield process


def wait_until(condition: Callable[[], bool], timeout_s: float = 120.0, what: str = "") -> None:
    """Poll `condition` every 0.2 s; fail naming `what` after `timeout_s` (a bound for a hung
    test on a loaded machine, not a measurement)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.2)
