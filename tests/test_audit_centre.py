"""An on-site audit's figures reach the centre: the edge device tells them with its online
status (from the store config's `audits`), the ingest keeps each camera's latest, and the compare
page shows each store's audited line accuracy beside its footfall."""

from __future__ import annotations

import copy
import re

import pytest
import sqlalchemy as sa

from dashboard import tables
from dashboard.app import create_app
from dashboard.settings import Settings
from edge.publisher import build_publisher
from footfall_core.audit import line_accuracy
from footfall_core.contract import CameraAudit, ContractError, DeviceStatus, LineAuditFigures, parse_message
from footfall_core.store import LineAudit, parse_config
from tests import pages_data
from tests.test_config import MINIMAL
from tests.test_pages import client_for
from tests.transport_support import IngestThread, wait_until

DOOR = {"line": "door", "marked_in": 40, "marked_out": 38, "counted_in": 39, "counted_out": 40}
TILL = {"line": "till", "marked_in": 10, "marked_out": 0, "counted_in": 10, "counted_out": 1}


def audit(day: str, camera: str = "cam1", lines=(DOOR,)) -> dict:
    return {"date": day, "camera": camera, "clip_s": 300.0, "lines": list(lines)}


def test_the_device_tells_each_cameras_latest_audit_and_the_ingest_keeps_it(broker, tmp_path):
    data = copy.deepcopy(MINIMAL)
    data["cameras"].append({**data["cameras"][0], "name": "cam2"})
    data["mqtt"] = {"url": broker.url}
    older = audit("2026-01-10", lines=[{**DOOR, "counted_in": 0}])
    data["audits"] = [older, audit("2026-02-01"), audit("2026-01-20", "cam2", [TILL])]
    config = parse_config(data)
    ingest = IngestThread(broker.url, f"sqlite:///{tmp_path / 'centre.sqlite3'}").start()

    def kept() -> list[tuple]:
        with ingest.storage.engine.connect() as conn:
            query = sa.select(tables.line_audits).order_by(tables.line_audits.c.camera)
            return [tuple(row) for row in conn.execute(query)]

    publisher = build_publisher(config, str(tmp_path)).start()
    try:
        assert wait_until(lambda: len(kept()) == 2, 10), kept()
    finally:
        publisher.close()
    rows = kept()
    assert [(r[0], r[1], r[2], str(r[3]), r[4]) for r in rows] == [
        ("s1", "cam1", "door", "2026-02-01", 300.0),
        ("s1", "cam2", "till", "2026-01-20", 300.0),
    ]
    assert rows[0][5:] == (40, 38, 39, 40) and rows[1][5:] == (10, 0, 10, 1)

    stale = CameraAudit(camera="cam1", date="2026-01-10", clip_s=60, lines=[LineAuditFigures(**DOOR)])
    ingest.storage.camera_audits("s1", [stale])  # an older audit arriving late changes nothing
    assert kept() == rows
    ingest.close()


@pytest.mark.parametrize(
    "audits, problem",
    [
        ([{"camera": "cam9", "date": "2026-01-01", "clip_s": 60, "lines": []}], "audits.0.camera: 'cam9'"),
        ([{"camera": "cam1", "date": "2026-01-01", "clip_s": 0.5, "lines": [DOOR]}], "exceeds 25"),
        ([{"camera": "cam1", "date": "2026-01-01", "clip_s": 60, "lines": [DOOR], "clip": "AAAA"}], "clip"),
    ],
)
def test_audits_that_break_the_contract_are_refused(audits, problem):
    import json

    payload = json.dumps(
        {"schema_version": 1, "store": "s1", "status": "online", "cameras": ["cam1"], "audits": audits}
    )
    with pytest.raises(ContractError, match=problem):
        parse_message(DeviceStatus, payload)


def test_compare_shows_each_stores_audited_line_accuracy_beside_its_footfall(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'pages.sqlite3'}"
    storage = pages_data.build(db_url)
    figures = [LineAuditFigures(**DOOR), LineAuditFigures(**TILL)]
    storage.camera_audits(
        "north", [CameraAudit(camera="north-cam", date="2026-03-04", clip_s=300, lines=figures)]
    )
    app = create_app(
        Settings(secure_cookies=False, db_url=db_url, secret_key="audit-tests-" + "Zq9x" * 10, mqtt=None)
    )
    hq = client_for(app, "hq")

    expected = line_accuracy([LineAudit(**DOOR), LineAudit(**TILL)])
    assert expected.marked == 88 and expected.abs_error == 4  # 1 − 4 / 88
    page = hq.get("/compare?start=2026-03-02&end=2026-03-08").text
    cells = dict(re.findall(r'<tr data-store="(\w+)">.*?<td class="num audited"[^>]*>(.*?)</td>', page, re.S))
    assert cells["north"] == (
        f'{100 * expected.accuracy:.1f} % <span class="muted">'
        f"({100 * expected.low:.0f}–{100 * expected.high:.0f} %, 2026-03-04)</span>"
    )
    assert cells["south"] == "–"  # never audited
    footfall = re.search(r'<tr data-store="north">.*?data-value="(\d+)".*?class="num audited"', page, re.S)
    assert footfall and int(footfall.group(1)) > 0  # right beside the footfall

    ranking = hq.get("/api/v1/compare?start=2026-03-02&end=2026-03-08").json()["stores"]
    north = next(s for s in ranking if s["store"] == "north")
    assert north["audited_line_accuracy"] == pytest.approx(expected.accuracy)
    assert (north["audited_low"], north["audited_high"]) == pytest.approx((expected.low, expected.high))
    assert (north["audited_on"], north["audited_crossings"]) == ("2026-03-04", 88)
    south = next(s for s in ranking if s["store"] == "south")
    assert south["audited_line_accuracy"] is None and south["audited_on"] is None
