"""`python -m calibration discover` against an ONVIF camera on loopback (tests/onvif_camera.py):
found by WS-Discovery, its RTSP stream asked from its media service, with and without the
user it wants."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from calibration.__main__ import discover
from calibration.web import create_app
from footfall_core.assets import REPO_ROOT
from tests.browser_support import Server
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


def test_an_empty_password_file_is_refused_before_searching(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert discover(3.0, "admin", empty) == 2
    refused = f"error: --password-file {empty}: the first line is empty; expected the password on it\n"
    assert capsys.readouterr().err == refused


def test_the_calibration_page_offers_the_cameras_found(rtsp_camera):
    app = create_app(REPO_ROOT / "examples/pets09.yaml")
    with OnvifCamera(rtsp_camera.url) as camera, TestClient(app) as client:
        response = client.get("/api/discover")
        page = client.get("/").text
    assert response.status_code == 200
    (found,) = [c for c in response.json()["cameras"] if c["device_url"] == camera.device_url]
    assert found["name"] == "Shop Entrance" and found["error"] is None
    assert found["streams"] == [
        {
            "profile": "mainStream",
            "width_px": 768,
            "height_px": 576,
            "codec": "H264",
            "rtsp_uri": rtsp_camera.url,
        }
    ]
    assert 'id="discover"' in page


@pytest.mark.slow
def test_find_cameras_in_the_page(browser, rtsp_camera, tmp_path):
    """The page's Find cameras button lists the camera and its stream."""
    store = tmp_path / "pets09.yaml"
    store.write_text((REPO_ROOT / "examples/pets09.yaml").read_text())
    with (
        OnvifCamera(rtsp_camera.url),
        Server(create_app(store, token="discover-test-token")) as server,
        browser.new_context() as context,
    ):
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/?token=discover-test-token")
        page.wait_for_selector("body[data-ready='1']")
        page.click("#discover")
        page.wait_for_selector(f"#found code:has-text('{rtsp_camera.url}')", timeout=30_000)
        listed = page.text_content("#found")
    assert "Shop Entrance TC-1" in listed and "mainStream H264 768x576" in listed
    assert errors == []
