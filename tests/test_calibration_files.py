"""The calibration page's files: the plan picture is served only from the store YAML's own
directory, and a save replaces the YAML whole, keeping its mode, with nothing left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from calibration.store_yaml import replace_durably
from calibration.web import TOKEN_COOKIE, create_app

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "pets09.yaml"
TOKEN = "token-for-this-test"


def _client(store: Path) -> TestClient:
    client = TestClient(create_app(store, TOKEN))
    client.cookies.set(TOKEN_COOKIE, TOKEN)
    return client


def _store(directory: Path, image: str | None) -> Path:
    config = yaml.safe_load(EXAMPLE.read_text())
    config["floor_plan"]["image"] = image
    directory.mkdir(parents=True, exist_ok=True)
    store = directory / "store.yaml"
    store.write_text(yaml.safe_dump(config, sort_keys=False))
    return store


def test_the_plan_picture_beside_the_store_yaml_is_served(tmp_path, assets):
    store = _store(tmp_path / "store", "plans/floor.png")
    (tmp_path / "store/plans").mkdir()
    picture = np.full((20, 30, 3), 200, np.uint8)
    cv2.imwrite(str(tmp_path / "store/plans/floor.png"), picture)
    response = _client(store).get("/api/plan-image")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.content == (tmp_path / "store/plans/floor.png").read_bytes()
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "image, make",
    [
        ("../session.png", "outside.png"),  # a picture, but outside the YAML's directory
        ("/etc/passwd", None),
        ("secret.key", "inside.key"),  # inside, but not a picture
        ("link.png", "symlink"),  # a picture's name that leads outside
    ],
)
def test_a_path_outside_the_store_directory_is_refused(tmp_path, assets, image, make):
    store = _store(tmp_path / "store", image)
    secret = tmp_path / "session.png"
    secret.write_bytes(b"the session key")
    if make == "inside.key":
        (tmp_path / "store/secret.key").write_bytes(b"the session key")
    if make == "symlink":
        (tmp_path / "store/link.png").symlink_to(secret)
    response = _client(store).get("/api/plan-image")
    assert response.status_code == 403
    assert b"session key" not in response.content and b"root:" not in response.content
    detail = response.json()["detail"]
    assert f"{store}: floor_plan.image: only a picture" in detail and str(tmp_path / "store") in detail


def test_a_missing_plan_picture_is_a_404_naming_the_key(tmp_path, assets):
    assert _client(_store(tmp_path, None)).get("/api/plan-image").status_code == 404
    response = _client(_store(tmp_path / "b", "gone.png")).get("/api/plan-image")
    assert response.status_code == 404 and "floor_plan.image: no such file" in response.json()["detail"]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644])
def test_a_save_keeps_the_files_mode_and_leaves_no_temporary_file(tmp_path, assets, mode):
    store = _store(tmp_path, None)
    store.chmod(mode)
    response = _client(store).put(
        "/api/layout",
        json={"zones": [{"name": "door", "polygon_m": [[0, 0], [2, 0], [2, 2]]}], "lines": []},
    )
    assert response.status_code == 200, response.text
    assert stat.S_IMODE(store.stat().st_mode) == mode
    assert yaml.safe_load(store.read_text())["zones"][0]["name"] == "door"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.yaml"]


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "store.yaml"
    path.write_text("old: 1\n")

    def fail(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="No space left"):
        replace_durably(path, b"new: 2\n")
    assert path.read_text() == "old: 1\n" and sorted(p.name for p in tmp_path.iterdir()) == ["store.yaml"]


def _clip(path: Path) -> Path:
    """A 768x576 clip (PETS09's camera size), 14 frames."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 7, (768, 576))
    for index in range(14):
        writer.write(np.full((576, 768, 3), index * 10, np.uint8))
    writer.release()
    return path


def test_an_audit_clip_is_opened_only_from_the_allowed_directories(tmp_path, assets):
    store = _store(tmp_path / "store", None)
    elsewhere = _clip(tmp_path / "elsewhere/clip.avi")
    client = _client(store)
    for path in (elsewhere, tmp_path / "elsewhere/none.avi", Path("/etc/shadow")):
        response = client.post("/api/audit/clip", json={"camera": "view001", "path": str(path)})
        assert response.status_code == 403, response.text  # the same answer whether it exists or not
        assert f"{path}: clips are opened only from {tmp_path / 'store'}" in response.json()["detail"]
    (tmp_path / "store/link.avi").symlink_to(elsewhere)
    response = client.post(
        "/api/audit/clip", json={"camera": "view001", "path": str(tmp_path / "store/link.avi")}
    )
    assert response.status_code == 403, "a link out of an allowed directory leads outside"

    beside = _clip(tmp_path / "store/clips/door.avi")
    response = client.post("/api/audit/clip", json={"camera": "view001", "path": str(beside)})
    assert response.status_code == 200 and response.json()["frames"] == 14, response.text
    added = TestClient(create_app(store, TOKEN, clip_dirs=[tmp_path / "elsewhere"]))
    added.cookies.set(TOKEN_COOKIE, TOKEN)
    response = added.post("/api/audit/clip", json={"camera": "view001", "path": str(elsewhere)})
    assert response.status_code == 200, "--clips-dir adds a directory"
