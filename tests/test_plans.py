"""Floor plan uploads: sniffed, bounded, content-addressed, placed, drawn; never a path."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from dashboard import auth, registry
from dashboard.app import create_app
from dashboard.plans import MAX_BYTES, Placement, PlanError, sniff
from dashboard.settings import Settings
from dashboard.storage import Storage
from footfall_core.store import FloorPlan, StoreInfo
from tests import pages_data
from tests.test_pages import client_for, figure

ORIGIN = {"Origin": "http://testserver"}


def png(width: int = 200, height: int = 120) -> bytes:
    ok, data = cv2.imencode(".png", np.full((height, width, 3), 235, np.uint8))
    assert ok
    return data.tobytes()


SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"><rect width="400" height="300"/></svg>'
)


@pytest.fixture
def site(tmp_path):
    url = f"sqlite:///{tmp_path / 'plans.sqlite3'}"
    storage = Storage(url)
    storage.migrate()
    with storage.engine.begin() as conn:
        registry.save(
            conn,
            registry.StoreRecord(
                store=StoreInfo(id="east"), floor_plan=FloorPlan(origin_m=(-2, -1), width_m=20, height_m=12)
            ),
        )
        auth.add_user(conn, "hq", "hq", pages_data.PASSWORD)
        auth.add_user(conn, "mia", "manager", pages_data.PASSWORD, ["east"])
    app = create_app(
        Settings(
            secure_cookies=False,
            db_url=url,
            secret_key="plan-tests-" + "Zq9x" * 10,
            data_dir=tmp_path / "data",
        )
    )
    return app, tmp_path / "data"


def upload(client, data: bytes | str | None, **fields):
    files = {"file": ("plan.png", data, "image/png")} if isinstance(data, bytes) else None
    form = dict(fields, **({"file": data} if isinstance(data, str) else {}))
    return client.put("/api/v1/stores/east/plan", files=files, data=form, headers=ORIGIN)


def test_a_png_is_stored_content_addressed_served_and_drawn_under_the_floor_charts(site):
    app, data_dir = site
    hq = client_for(app, "hq")
    image = png()
    response = upload(hq, image, m_per_px="0.1")  # 200 × 120 px at 10 cm: 20 × 12 m from the plan's origin
    assert response.status_code == 200, response.text
    digest = hashlib.sha256(image).hexdigest()
    assert response.json() | {} == dict(
        sha256=digest,
        media_type="image/png",
        width_px=200,
        height_px=120,
        origin_m=[-2.0, -1.0],
        m_per_px=0.1,
    )
    assert (data_dir / "plans" / f"{digest}.png").read_bytes() == image
    served = hq.get(f"/stores/east/plan-image?v={digest[:16]}")
    assert served.status_code == 200 and served.content == image
    assert (
        served.headers["content-type"] == "image/png"
        and served.headers["x-content-type-options"] == "nosniff"
    )
    layout_image = figure(hq.get("/stores/east/trends?week=2026-W10").text, "week-heat")["layout"]["images"][
        0
    ]
    assert layout_image["source"] == f"/stores/east/plan-image?v={digest[:16]}"
    assert (layout_image["x"], layout_image["y"], layout_image["sizex"], layout_image["sizey"]) == (
        -2,
        -1,
        20,
        12,
    )
    assert hq.get("/api/v1/stores/east").json()["floor_plan"]["image"]["sha256"] == digest


def test_two_reference_points_place_an_svg(site):
    app, _ = site
    hq = client_for(app, "hq")
    # pixel (0, 0) is floor (1, 2) and pixel (400, 300) is floor (21, 17): 5 cm a pixel
    response = upload(hq, SVG, image_px="0,0,400,300", floor_m="1,2,21,17")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["media_type"] == "image/svg+xml" and (body["width_px"], body["height_px"]) == (400, 300)
    assert body["origin_m"] == pytest.approx([1, 2]) and body["m_per_px"] == pytest.approx(0.05)
    served = hq.get("/stores/east/plan-image")
    assert "sandbox" in served.headers["content-security-policy"]


@pytest.mark.parametrize(
    "data, fields, problem",
    [
        (b"GIF89a" + b"\0" * 100, dict(m_per_px="0.1"), "not a PNG, JPEG or SVG"),
        (b"%PDF-1.4 not an image", dict(m_per_px="0.1"), "not a PNG, JPEG or SVG"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_BYTES + 10), dict(m_per_px="0.1"), "file too large"),
        ("/etc/passwd", dict(m_per_px="0.1"), "never reads a path"),
        (None, dict(m_per_px="0.1"), "file: missing"),
        (png(), dict(), "placement"),
        (png(), dict(m_per_px="0.1,0.2"), "m_per_px: expected 1"),
        (png(), dict(image_px="0,0,100,0", floor_m="0,0,0,5"), "turned 90.0°"),
        (SVG.replace(b"<rect", b"<script>alert(1)</script><rect"), dict(m_per_px="0.1"), "<script>"),
        (SVG.replace(b"<rect", b'<rect onclick="x()"'), dict(m_per_px="0.1"), "event handler"),
        (
            SVG.replace(b"<rect", b'<image href="file:///etc/passwd"/><rect'),
            dict(m_per_px="0.1"),
            "refers to",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aa">]>' + SVG,
            dict(m_per_px="0.1"),
            "not plain XML",
        ),
        (png(20_000, 2), dict(m_per_px="0.1"), "each side must be 1 to 10000 px"),
    ],
)
def test_uploads_that_cannot_be_a_plan_are_refused_naming_the_problem(site, data, fields, problem):
    app, data_dir = site
    response = upload(client_for(app, "hq"), data, **fields)
    assert response.status_code == 422 and problem in response.json()["detail"], response.text
    assert not (data_dir / "plans").exists() or not any((data_dir / "plans").iterdir())


def test_a_path_in_the_store_body_is_refused_and_managers_cannot_upload(site):
    app, _ = site
    hq = client_for(app, "hq")
    body = dict(store=dict(id="east"), floor_plan=dict(image="/etc/shadow", width_m=20, height_m=12))
    response = hq.put("/api/v1/stores/east", json=body, headers=ORIGIN)
    assert response.status_code == 422 and "never reads or serves a path" in response.text
    assert upload(client_for(app, "mia"), png(), m_per_px="0.1").status_code == 403
    assert hq.get("/stores/east/plan-image").status_code == 404  # nothing was stored


def test_sniffing_reads_the_bytes_not_the_name():
    assert sniff(png(30, 20)).media_type == "image/png"
    ok, jpeg = cv2.imencode(".jpg", np.zeros((20, 30, 3), np.uint8))
    assert (sniff(jpeg.tobytes()).media_type, sniff(jpeg.tobytes()).width_px) == ("image/jpeg", 30)
    with pytest.raises(PlanError, match="unreadable image"):
        sniff(png()[:60])  # a PNG cut short
    with pytest.raises(PlanError, match="no size"):
        sniff(b'<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    assert Placement.from_points(((10, 10), (110, 10)), ((0, 0), (5, 0))) == Placement((-0.5, -0.5), 0.05)
