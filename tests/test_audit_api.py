"""The audit API without a browser: an uploaded clip (kept only while open), refusals naming the
file or the key, and a short replay whose figures are appended to the store YAML."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from calibration.web import create_app
from footfall_core.store import load_config
from tests.test_calibration_web import EXAMPLE


def write_clip(path: Path, size: tuple[int, int], frames: int = 14) -> bytes:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 7, size)
    for k in range(frames):
        writer.write(np.full((size[1], size[0], 3), 40 + k, np.uint8))
    writer.release()
    return path.read_bytes()


@pytest.fixture
def client(tmp_path, assets):
    store = tmp_path / "pets09.yaml"
    store.write_text(EXAMPLE.read_text())
    with TestClient(create_app(store)) as client:
        client.store = store
        yield client


def uploads() -> set[Path]:
    import tempfile

    return set(Path(tempfile.gettempdir()).glob("footfall-audit-*"))


def test_an_uploaded_clip_of_another_resolution_is_refused_by_its_name(client, tmp_path):
    before = uploads()
    data = write_clip(tmp_path / "local.avi", (320, 240))
    response = client.put("/api/audit/clip", params={"camera": "view001", "name": "phone.avi"}, content=data)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(
        "phone.avi: the clip is 320x240 px, camera view001 is 768x576 px"
    )
    assert uploads() == before  # nothing left behind
    response = client.post("/api/audit/clip", json={"camera": "view001", "path": str(tmp_path / "none.avi")})
    assert (
        response.status_code == 422 and response.json()["detail"] == f"{tmp_path / 'none.avi'}: no such file"
    )
    (tmp_path / "notes.avi").write_text("not a video")
    response = client.post("/api/audit/clip", json={"camera": "view001", "path": str(tmp_path / "notes.avi")})
    assert response.status_code == 422 and str(tmp_path / "notes.avi") in response.json()["detail"]
    response = client.post("/api/audit/run", json={"camera": "view001", "crossings": [], "zone_counts": []})
    assert response.status_code == 409 and "open its audit clip first" in response.json()["detail"]


def test_an_uploaded_clip_is_replayed_and_its_figures_saved(client, tmp_path):
    before = uploads()
    data = write_clip(tmp_path / "local.avi", (768, 576))
    response = client.put("/api/audit/clip", params={"camera": "view001", "name": "empty.avi"}, content=data)
    assert response.status_code == 200, response.text
    clip = response.json()
    assert (clip["frames"], clip["fps"], clip["clip_s"], clip["name"]) == (14, 7.0, 2.0, "empty.avi")
    assert len(uploads() - before) == 1
    frame = client.get("/api/audit/frames/13.jpg")
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
    assert client.get("/api/audit/frames/14.jpg").status_code == 404

    bad = [
        (
            {"crossings": [{"line": "door", "direction": "in", "time_s": 1.0}]},
            "crossings.0.line: no line named 'door'",
        ),
        (
            {"crossings": [{"line": "walkway", "direction": "in", "time_s": 2.5}]},
            "crossings.0.time_s: 2.5 s is past",
        ),
        (
            {"zone_counts": [{"time_s": 1.0, "people": {"till": 2}}]},
            "zone_counts.0.people: no zone named 'till'",
        ),
    ]
    for marks, message in bad:
        body = {"camera": "view001", "crossings": [], "zone_counts": [], **marks}
        response = client.post("/api/audit/run", json=body)
        assert response.status_code == 422 and response.json()["detail"].startswith(message), response.text

    body = {
        "camera": "view001",
        "crossings": [{"line": "walkway", "direction": "in", "time_s": 0.5}],
        "zone_counts": [{"time_s": 1.2, "people": {"path": 2}}],
    }
    report = client.post("/api/audit/run", json=body).json()
    [walkway] = report["lines"]  # nobody in a grey clip: the one marked crossing was missed
    assert (walkway["marked_in"], walkway["counted_in"], walkway["accuracy"], walkway["low"]) == (
        1,
        0,
        0.0,
        0.0,
    )
    assert report["zones"] == [
        {
            "zone": "path",
            "moments": 1,
            "marked_mean_people": 2.0,
            "mean_abs_error_people": 2.0,
            "bias_people": -2.0,
        }
    ]
    [saved] = load_config(client.store).audits
    assert saved.clip_s == 2.0 and saved.lines[0].marked_in == 1 and saved.zones[0].bias_people == -2.0
    assert "# Counting line:" in client.store.read_text()  # the file's comments stay
    client.post("/api/audit/run", json=body)
    assert len(load_config(client.store).audits) == 2  # each audit is kept, the last one counts
