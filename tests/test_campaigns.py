"""Recording campaigns: validation that names the field, default control stores, hq only, the
command line in a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dashboard import auth, registry
from dashboard import tables as t
from dashboard.__main__ import main as cli
from dashboard.app import create_app
from dashboard.settings import Settings
from dashboard.storage import Storage
from footfall_core.store import StoreInfo

REPO = Path(__file__).resolve().parent.parent
STORES = {  # id: (region, tags)
    "a": ("north", ["mall"]),
    "b": ("north", ["street"]),
    "c": ("south", ["mall"]),
    "d": ("south", ["street"]),
    "e": ("east", ["outlet"]),
}
SPRING = dict(name="spring", channel="sns", start="2026-03-02", end="2026-03-15")


@pytest.fixture(scope="module")
def built(module_db_url):
    """Five stores in four regions, once per backend for the module; API clients for hq and
    bob (manager of a)."""
    storage = Storage(module_db_url)
    storage.migrate()
    with storage.engine.begin() as conn:
        for store, (region, tags) in STORES.items():
            registry.save(conn, registry.StoreRecord(store=StoreInfo(id=store, region=region, tags=tags)))
        auth.add_user(conn, "hq", "hq", "correct horse battery")
        auth.add_user(conn, "bob", "manager", "correct horse battery", ["a"])
        tokens = {name: auth.new_token(conn, name) for name in ("hq", "bob")}
    app = create_app(
        Settings(
            secure_cookies=False, db_url=module_db_url, secret_key="campaign-tests-" + "Zq9x" * 10, mqtt=None
        )
    )
    yield (
        storage,
        {n: TestClient(app, headers={"authorization": f"Bearer {tok}"}) for n, tok in tokens.items()},
    )
    storage.engine.dispose()


@pytest.fixture
def api(built):
    """The module's stores with no campaign recorded yet."""
    storage, _ = built
    with storage.engine.begin() as conn:
        conn.execute(sa.delete(t.campaign_stores))
        conn.execute(sa.delete(t.campaigns))
    return built


@pytest.mark.parametrize(
    "change, field, words",
    [
        (dict(end="2026-03-01"), "end", "end 2026-03-01 is before start 2026-03-02"),
        (dict(treated=["a", "zz"]), "treated", "unknown store(s) zz"),
        (dict(control=["c", "yy"]), "control", "unknown store(s) yy"),
        (dict(control=["b", "a"]), "control", "also treated: a"),
        (dict(channel="billboard"), "channel", "'sns', 'app', 'coupon', 'web' or 'other'"),
        (dict(treated=[]), "treated", "at least 1 item"),
        (dict(pre_days=3), "pre_days", "greater than or equal to 7"),
    ],
)
def test_a_bad_campaign_is_refused_naming_the_field(api, change, field, words):
    _, clients = api
    response = clients["hq"].post("/api/v1/campaigns", json=dict(SPRING, treated=["a"]) | change)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["loc"][-1] for d in detail] == [field] and words in detail[0]["msg"]
    assert clients["hq"].get("/api/v1/campaigns").json() == []


def test_a_value_json_cannot_carry_is_refused_naming_the_field(api):
    """Python's JSON parser takes NaN and Infinity; the answer names the field and echoes nothing
    (echoing them back cannot be written as JSON: that was a 500)."""
    _, clients = api
    body = json.dumps(dict(SPRING, treated=["a"], pre_days=float("inf")))
    response = clients["hq"].post(
        "/api/v1/campaigns", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert [d["loc"] for d in response.json()["detail"]] == [["body", "pre_days"]]
    assert "Infinity" not in response.text and "inf" not in response.json()["detail"][0]["msg"]
    assert clients["hq"].get("/api/v1/campaigns").json() == []


def test_default_controls_share_a_region_or_tag_and_skip_overlapping_campaigns(api):
    _, clients = api
    hq = clients["hq"]
    first = hq.post("/api/v1/campaigns", json=dict(SPRING, treated=["a"])).json()
    assert first["control"] == ["b", "c"] and first["control_source"] == "default"  # north, and mall
    # b is treated by a campaign within a's pre-period (28 days before 2 March): no longer a control.
    hq.post(
        "/api/v1/campaigns",
        json=dict(SPRING, name="app", start="2026-02-10", end="2026-02-12", treated=["b"]),
    )
    assert hq.get(f"/api/v1/campaigns/{first['id']}").json()["control"] == ["c"]
    later = hq.post(
        "/api/v1/campaigns",
        json=dict(SPRING, name="later", start="2026-06-01", end="2026-06-05", treated=["d"]),
    )
    assert later.json()["control"] == ["b", "c"]  # south and street; nothing else runs in June
    given = hq.post(
        "/api/v1/campaigns", json=dict(SPRING, name="given", treated=["a"], control=["e", "d"])
    ).json()
    assert given["control"] == ["d", "e"] and given["control_source"] == "given"
    assert [c["name"] for c in hq.get("/api/v1/campaigns").json()] == ["later", "given", "spring", "app"]
    assert hq.delete(f"/api/v1/campaigns/{given['id']}").status_code == 204
    assert hq.get(f"/api/v1/campaigns/{given['id']}").status_code == 404


def test_campaigns_are_for_hq_only(api):
    _, clients = api
    bob = clients["bob"]
    assert bob.get("/api/v1/campaigns").status_code == 403
    assert bob.post("/api/v1/campaigns", json=dict(SPRING, treated=["a"])).status_code == 403
    campaign = clients["hq"].post("/api/v1/campaigns", json=dict(SPRING, treated=["a"])).json()
    assert bob.get(f"/api/v1/campaigns/{campaign['id']}/lift").status_code == 403


def test_command_line_records_and_refuses_naming_the_field(api, capsys, caplog):
    storage, clients = api
    command = [sys.executable, "-m", "dashboard", "campaigns", "--db", storage.url, "add", "x"]
    common = ["--channel", "coupon", "--start", "2026-03-02"]
    refused = subprocess.run(
        command + [*common, "--end", "2026-03-20", "--treated", "a", "--control", "a,c"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "control: Value error, also treated: a" in refused.stderr

    def run(*args: str) -> int:
        return cli(["campaigns", "--db", storage.url, *args])

    assert run("add", "x", *common, "--end", "2026-03-20", "--treated", "a,nowhere") == 2
    assert "treated: unknown store(s) nowhere" in caplog.text
    capsys.readouterr()
    assert (
        run("add", "Coupon week", *common, "--end", "2026-03-08", "--treated", "a,c", "--zones", "entrance")
        == 0
    )
    assert capsys.readouterr().out.endswith(": Coupon week, controls (default): b, d\n")
    listed = clients["hq"].get("/api/v1/campaigns").json()
    assert [(c["name"], c["promoted_zones"], c["simulated"]) for c in listed] == [
        ("Coupon week", ["entrance"], False)
    ]
    assert run("lift", str(listed[0]["id"])) == 0
    assert "footfall: no estimate: 0 day(s) of data before the campaign" in capsys.readouterr().out


def test_a_campaign_is_ended_early_or_deleted_by_hq_only(api, capsys, caplog):
    storage, clients = api
    hq, bob = clients["hq"], clients["bob"]
    campaign = hq.post("/api/v1/campaigns", json=dict(SPRING, treated=["a"])).json()
    url = f"/api/v1/campaigns/{campaign['id']}"
    assert bob.patch(url, json=dict(end="2026-03-08")).status_code == 403
    assert bob.delete(url).status_code == 403
    early = hq.patch(url, json=dict(end="2026-03-08"))
    assert early.status_code == 200 and early.json()["end"] == "2026-03-08"
    assert hq.get(url).json()["end"] == "2026-03-08"
    before = hq.patch(url, json=dict(end="2026-03-01"))
    assert before.status_code == 422 and before.json()["detail"][0]["loc"] == ["body", "end"]
    assert "end 2026-03-01 is before start 2026-03-02" in before.json()["detail"][0]["msg"]
    assert hq.patch(url, json=dict(end="soon")).json()["detail"][0]["loc"] == ["body", "end"]
    assert hq.patch("/api/v1/campaigns/999999", json=dict(end="2026-03-08")).status_code == 404
    assert hq.get(url).json()["end"] == "2026-03-08"

    capsys.readouterr()
    assert cli(["campaigns", "--db", storage.url, "end", str(campaign["id"]), "--end", "2026-03-05"]) == 0
    assert capsys.readouterr().out == f"{campaign['id']}: spring now ends on 2026-03-05\n"
    assert cli(["campaigns", "--db", storage.url, "end", str(campaign["id"]), "--end", "2026-02-01"]) == 2
    assert "end: end 2026-02-01 is before start 2026-03-02" in caplog.text
    assert hq.get(url).json()["end"] == "2026-03-05"

    assert hq.delete(url).status_code == 204
    assert hq.get(url).status_code == 404 and hq.delete(url).status_code == 404
    assert hq.get("/api/v1/campaigns").json() == []
    with storage.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(t.campaign_stores)) == 0
