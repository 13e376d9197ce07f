"""Campaign lift: the estimator on panels with a known answer, and the whole path (seeded chain
→ day rollups → GET /api/v1/campaigns/{id}/lift) with the seed's own noise, on SQLite and
PostgreSQL; over 50 seeded chains, how often the interval covers the true lift."""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from bench.campaign_lift import coverage, report
from dashboard import auth, lift, seed
from dashboard.app import create_app
from dashboard.seed_o2o import SimulatedCampaign
from dashboard.settings import Settings
from dashboard.storage import Storage

END = date(2026, 3, 2)  # first day not seeded
WEEKS = 6
STORES = 15  # 5 treated, 10 controls sharing a region or a tag with them
TRUE_LIFT = 0.12
CAMPAIGN = (END - timedelta(days=14), END - timedelta(days=1))  # the last 14 days


def synthetic(
    lifts: dict[str, float], stores: int = 10, days: int = 42, start_day: int = 28, seed_: int = 0, trend=None
) -> pd.DataFrame:
    """A panel: store sizes, a shared weekday pattern, 2 % daily noise; store s multiplied by
    1 + lifts[s] from day `start_day`; `trend(store, k)` adds a store's own drift."""
    rng = np.random.default_rng(seed_)
    first = date(2026, 1, 5)
    rows = []
    for i in range(stores):
        store, size = f"s{i}", rng.uniform(200, 2000)
        for k in range(days):
            value = size * (1 + 0.3 * np.sin(k * 2 * np.pi / 7)) * rng.lognormal(0, 0.02)
            value *= (1 + lifts.get(store, 0.0)) if k >= start_day else 1.0
            value *= trend(store, k) if trend else 1.0
            rows.append((store, first + timedelta(days=k), value))
    return pd.DataFrame(rows, columns=["store", "day", "value"])


def panel_of(frame: pd.DataFrame, treated: set[str], start_day: int = 28, days: int = 42) -> pd.DataFrame:
    first = date(2026, 1, 5)
    controls = set(frame.store) - treated
    return lift.prepare(
        frame, treated, controls, first + timedelta(days=start_day), first + timedelta(days=days - 1)
    )


def test_lift_is_exp_of_the_coefficient_minus_one_in_percent():
    treated = {"s0", "s1", "s2"}
    fit = lift.estimate(panel_of(synthetic(dict.fromkeys(treated, 0.25)), treated))
    pct, low, high = fit.effect.pct
    assert pct == pytest.approx(25, abs=1.0)  # log(1.25) would read 22.3
    assert low < pct < high and low > 22 and high < 28
    assert np.log1p(pct / 100) == pytest.approx(fit.effect.log_effect)
    extra, extra_low, extra_high = fit.extra()
    assert extra == pytest.approx(fit.counterfactual() * pct / 100)
    assert extra_low < extra < extra_high
    assert fit.observed() == pytest.approx(fit.counterfactual() + extra, rel=0.01)


def test_each_treated_store_gets_its_own_lift():
    assert [lift.hac_lags(days) for days in (14, 42, 100, 400)] == [2, 3, 4, 5]  # Newey-West's rule
    lifts = {"s0": 0.30, "s1": 0.0, "s2": 0.10}
    per_store = lift.per_store(panel_of(synthetic(lifts), set(lifts)))
    for store, true in lifts.items():
        effect, observed, expected = per_store[store]
        assert effect.pct[0] == pytest.approx(100 * true, abs=2.5)
        assert effect.pct[1] < 100 * true < effect.pct[2]
        assert observed / expected - 1 == pytest.approx(true, abs=0.03)


def test_a_pre_existing_drift_fails_the_placebo():
    treated = {"s0", "s1", "s2"}
    drifting = synthetic({}, trend=lambda s, k: 1.01**k if s in treated else 1.0)  # +1 % a day
    placebo = lift.placebo(panel_of(drifting, treated))
    assert not placebo.contains_zero and placebo.pct[1] > 0
    steady = lift.placebo(panel_of(synthetic(dict.fromkeys(treated, 0.2)), treated))
    assert steady.contains_zero


@pytest.mark.parametrize(
    "drop, message",
    [
        (lambda f: f[f.store.isin(["s0", "s3", "s4", "s5", "s6"])], "1 treated store(s) with data"),
        (lambda f: f[f.store.isin(["s0", "s1", "s3", "s4"])], "2 control store(s) with data"),
        (lambda f: f[f.day >= date(2026, 1, 5) + timedelta(days=25)], "3 day(s) of data before the campaign"),
        (
            lambda f: f[f.day < date(2026, 1, 5) + timedelta(days=28)],
            "no data from the treated stores during",
        ),
    ],
)
def test_too_little_data_says_what_is_missing(drop, message):
    frame = drop(synthetic({"s0": 0.1, "s1": 0.1}))
    with pytest.raises(lift.TooLittleData, match=re.escape(message)):
        panel_of(frame, {"s0", "s1"})


def test_a_treated_store_without_a_baseline_or_campaign_days_gets_no_number():
    """A store that opened during the campaign has no baseline (its own lift would be its size);
    one that went dark during it has no campaign term (the design would be singular)."""
    first = date(2026, 1, 5)
    frame = synthetic({"s0": 0.1, "s1": 0.1, "s2": 0.1, "s3": 0.1})
    opened = (frame.store == "s2") & (frame.day < first + timedelta(days=25))  # 3 days before
    dark = (frame.store == "s3") & (frame.day >= first + timedelta(days=28))
    panel = panel_of(frame[~opened & ~dark], {"s0", "s1", "s2", "s3"})
    assert "s2" not in set(panel.store)  # dropped: 3 days before the campaign
    own = lift.per_store(panel)
    assert sorted(own) == ["s0", "s1"]
    assert all(np.isfinite(effect.pct).all() for effect, _, _ in own.values())
    assert lift.pre_days_by_store(frame[~opened], {"s2", "s3"}, first + timedelta(days=28)) == {
        "s2": 3,
        "s3": 28,
    }


# ---- the whole path: seeded chain, rollups, API ------------------------------------------------


def chain(seed_: int) -> tuple[list[seed.SeedStore], tuple[str, ...], np.random.Generator]:
    rng = np.random.default_rng(seed_)
    stores = [seed.generated_store(i, rng) for i in range(STORES)]
    return stores, tuple(s.record.store.id for s in stores[:5]), rng


@pytest.fixture
def seeded(db_url):
    """The chain of seed 1 (the only one tried for this test), +12 % footfall on its first 5
    stores over the last 14 days, written through the ingest path; an hq API client."""
    stores, treated, rng = chain(1)
    storage = Storage(db_url)
    storage.migrate()
    simulated = SimulatedCampaign("SNS coupon", treated, *CAMPAIGN, TRUE_LIFT)
    seed.seed(storage, stores, WEEKS, END, rng, [simulated], footfall_only=True)
    with storage.engine.begin() as conn:
        auth.add_user(conn, "hq", "hq", "correct horse battery")
        token = auth.new_token(conn, "hq")
    app = create_app(
        Settings(secure_cookies=False, db_url=db_url, secret_key="lift-tests-" + "Zq9x" * 10, mqtt=None)
    )
    return storage, treated, TestClient(app, headers={"authorization": f"Bearer {token}"})


def test_seeded_lift_is_found_and_a_placebo_campaign_finds_none(seeded):
    storage, treated, client = seeded
    campaign = client.get("/api/v1/campaigns").json()[0]
    assert campaign["treated"] == list(treated) and campaign["simulated"]
    assert len(campaign["control"]) == STORES - 5 and campaign["control_source"] == "default"
    result = client.get(f"/api/v1/campaigns/{campaign['id']}/lift").json()
    keys = {"lift_pct", "ci_low_pct", "ci_high_pct", "extra_visitors", "pre_trend_ok", "per_store", "daily"}
    assert keys <= set(result)
    # seed 1: lift 11.6 %, interval 9.7 to 13.6 % (both backends: the same rows)
    assert result["enough_data"] and result["ci_low_pct"] < 100 * TRUE_LIFT < result["ci_high_pct"]
    assert result["ci_low_pct"] > 0 and result["pre_trend_ok"] is True
    in_campaign = [d for d in result["daily"] if d["in_campaign"]]
    assert (
        len(in_campaign) == 14 and len(result["daily"]) == 42 and all(d["simulated"] for d in result["daily"])
    )
    assert sum(d["treated_visitors"] for d in in_campaign) == result["observed_visitors"]
    assert result["extra_visitors"] == pytest.approx(
        result["counterfactual_visitors"] * result["lift_pct"] / 100
    )
    assert [s["store"] for s in result["per_store"]] == list(treated)
    assert sum(s["extra_visitors"] for s in result["per_store"]) == pytest.approx(
        result["extra_visitors"], rel=0.05
    )  # seed 1: 10,675 against 10,547
    # The same stores over 14 earlier days, when nothing was simulated.
    placebo = client.post(
        "/api/v1/campaigns",
        json=dict(
            name="placebo",
            channel="other",
            start=str(CAMPAIGN[0] - timedelta(days=14)),
            end=str(CAMPAIGN[0] - timedelta(days=1)),
            treated=list(treated),
            control=campaign["control"],
            pre_days=14,
        ),
    )
    assert placebo.status_code == 201, placebo.text
    none = client.get(f"/api/v1/campaigns/{placebo.json()['id']}/lift").json()
    assert (
        none["enough_data"] and none["ci_low_pct"] < 0 < none["ci_high_pct"]
    )  # seed 1: -0.3 %, -2.7 to +2.1 %


def test_too_few_controls_or_days_give_a_message_not_a_number(seeded):
    storage, treated, client = seeded
    few = dict(name="few", channel="app", start=str(CAMPAIGN[0]), end=str(CAMPAIGN[1]))
    body = client.post(
        "/api/v1/campaigns", json=few | dict(treated=list(treated), control=["store-006"])
    ).json()
    result = client.get(f"/api/v1/campaigns/{body['id']}/lift").json()
    assert not result["enough_data"] and "1 control store(s) with data" in result["message"]
    assert result["lift_pct"] is None and result["extra_visitors"] is None and result["per_store"] == []
    future = few | dict(
        start=str(END + timedelta(days=30)), end=str(END + timedelta(days=40)), treated=list(treated)
    )
    body = client.post("/api/v1/campaigns", json=future).json()
    result = client.get(f"/api/v1/campaigns/{body['id']}/lift").json()
    assert not result["enough_data"] and "day(s) of data before the campaign" in result["message"]
    csv_text = client.get("/api/v1/campaigns/1/lift?format=csv&table=per_store").text
    assert csv_text.splitlines()[0].startswith("store,name,lift_pct") and len(csv_text.splitlines()) == 6


@pytest.mark.slow
def test_interval_covers_the_true_lift_over_50_seeded_chains():
    """bench/campaign_lift.py's chains (the seed's hourly model and noise, no database), seeds 0-49,
    the pooled fit only. Measured: 47 of 50 covered (seeds 2, 3 and 22 missed), mean 11.96 %,
    sd 1.20 points; with no lift, 47 of 50 covered 0 (seeds 2, 5 and 22 missed)."""
    lifted = coverage(range(50), TRUE_LIFT)
    assert lifted.covered >= 45, report(lifted)  # measured 47
    assert np.mean(lifted.estimates_pct) == pytest.approx(100 * TRUE_LIFT, abs=0.5), report(lifted)
    none = coverage(range(50), 0.0)
    assert none.covered >= 45, report(none)  # measured 47


def test_a_one_store_campaign_gets_a_message_on_every_path(seeded, capsys):
    """One treated store (with every control it needs): the API, its CSV, the page and the
    command line say why there is no lift; and a store with no data during the campaign is
    listed with the reason, not a number."""
    from dashboard import tables as t
    from dashboard.__main__ import main as cli

    storage, treated, client = seeded
    few = dict(name="one store", channel="coupon", start=str(CAMPAIGN[0]), end=str(CAMPAIGN[1]))
    body = client.post("/api/v1/campaigns", json=few | dict(treated=[treated[0]])).json()
    assert len(body["control"]) >= lift.MIN_CONTROL_STORES  # the default controls: enough of them
    result = client.get(f"/api/v1/campaigns/{body['id']}/lift").json()
    message = "1 treated store(s) with data (7 days or more before the campaign); at least 2 are needed"
    assert not result["enough_data"] and message in result["message"]
    assert result["lift_pct"] is None and result["ci_low_pct"] is None and result["extra_visitors"] is None
    assert result["per_store"] == [] and len(result["daily"]) == 42
    per_store_csv = client.get(f"/api/v1/campaigns/{body['id']}/lift?format=csv&table=per_store").text
    assert per_store_csv.splitlines()[1:] == []
    page = client.get(f"/campaigns/{body['id']}", headers={"accept": "text/html"})
    assert page.status_code == 200 and f"No lift yet: {message}" in page.text
    assert 'data-kpi="lift"' not in page.text
    capsys.readouterr()
    assert cli(["campaigns", "--db", storage.url, "lift", str(body["id"])]) == 0
    assert f"footfall: no estimate: {message}" in capsys.readouterr().out

    with storage.engine.begin() as conn:  # the fifth treated store goes dark for the campaign
        ld = t.line_days.c
        conn.execute(
            sa.delete(t.line_days).where((ld.store_id == treated[4]) & (ld.local_date >= CAMPAIGN[0]))
        )
    campaign = client.get("/api/v1/campaigns").json()[-1]
    assert campaign["name"] == "SNS coupon"
    result = client.get(f"/api/v1/campaigns/{campaign['id']}/lift").json()
    assert result["enough_data"] and [s["store"] for s in result["per_store"]] == list(treated)
    dark = result["per_store"][4]
    assert dark["message"] == "no data during the campaign yet" and dark["lift_pct"] is None
    assert all(s["message"] is None and s["lift_pct"] is not None for s in result["per_store"][:4])
    page = client.get(f"/campaigns/{campaign['id']}", headers={"accept": "text/html"}).text
    assert "no estimate: no data during the campaign yet" in page
    assert cli(["campaigns", "--db", storage.url, "lift", str(campaign["id"])]) == 0
    assert f"{treated[4]}: no estimate: no data during the campaign yet" in capsys.readouterr().out
