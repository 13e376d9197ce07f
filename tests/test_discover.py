"""`python -m calibration discover` against an ONVIF camera on loopback (tests/onvif_camera.py):
found by WS-Discovery, its RTSP stream asked from its media service, with and without the
user it wants."""

from __future__ import annotations

import subprocess
import sys

from footfall_core.assets import REPO_ROOT
from tests.onvif_camera import OnvifCamera


def _discover(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "calibration", "discover", "--timeout-s", "3", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_discover_lists_the_camera_and_its_rtsp_stream(rtsp_camera):
    with OnvifCamera(rtsp_camera.url) as camera:
        listed = _discover()
    assert f"Shop Entrance  TC-1  {camera.device_url}" in listed
    assert f"  mainStream       H264     768x576  {rtsp_camera.url}" in listed


def test_a_camera_that_wants_a_user(rtsp_camera, tmp_path):
    (tmp_path / "right").write_text("s3cret\n")
    (tmp_path / "wrong").write_text("guess\n")
    with OnvifCamera(rtsp_camera.url, user="admin", password="s3cret") as camera:
        anonymous = _discover()
        right = _discover("--user", "admin", "--password-file", str(tmp_path / "right"))
        wrong = _discover("--user", "admin", "--password-file", str(tmp_path / "wrong"))
    assert f"Shop Entrance  TC-1  {camera.device_url}" in anonymous
    refused = f"  no stream address: {camera.device_url}: not authorised (give --user and --password-file)"
    assert refused in anonymous and refused in wrong and rtsp_camera.url not in anonymous + wrong
    assert f"  mainStream       H264     768x576  {rtsp_camera.url}" in right
    assert "s3cret" not in anonymous + right + wrong
