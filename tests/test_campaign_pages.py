"""The campaign pages and the conversion on trends and compare: over HTTP on pages_data's
chain with point-of-sale rows of known values, and in headless Chromium on a seeded chain with
a simulated +12 % campaign (screenshot: docs/img/campaign.png)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from dashboard import auth, campaigns, pos, seed
from dashboard.app import create_app
from dashboard.seed_o2o import SimulatedCampaign
from dashboard.settings import Settings
from dashboard.storage import Storage
from tests import pages_data
from tests.test_pages import HTML, client_for, figure

DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
SALES = [  # north, Monday of 2026-W10: 24, 24 and 30 people in (pages_data.visitors)
    (2, dict(store="north", hour_start="2026-03-02T10:00", transactions=5)),
    (3, dict(store="north", hour_start="2026-03-02T11:00", transactions=7)),
    (4, dict(store="north", hour_start="2026-03-02T12:00", transactions=9)),
    (5, dict(store="north", hour_start="2026-02-23T12:00", transactions=6)),  # W09: 26 people in
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('campaign-pages') / 'dashboard.sqlite3'}"
    storage = pages_data.build(url)
    with storage.engine.begin() as conn:
        pos.import_rows(conn, SALES)
    return create_app(
        Settings(secure_cookies=False, db_url=url, secret_key="campaign-pages-" + "Zq9x" * 10, mqtt=None)
    )


def test_conversion_on_trends_and_compare(app):
    hq = client_for(app, "hq")
    trends = hq.get("/stores/north/trends?week=2026-W10", headers=HTML).text
    kpi = re.search(
        r'data-kpi="conversion"><div class="value">([^<]+)</div>\s*<div class="label">(.*?)</div>',
        trends,
        re.S,
    )
    assert kpi.group(1) == f"{21 / 78:.1%}"  # 26.9 %
    assert f"{(21 / 78) / (6 / 26) - 1:+.0%}" in kpi.group(2)  # against W09's 6 of 26
    by_day = figure(trends, "footfall-conversion")["data"]
    assert by_day[0]["y"] == [
        sum(pages_data.visitors("north", 7 + d, h) for h in pages_data.OPEN_HOURS) for d in range(7)
    ]
    assert by_day[1]["y"][0] == pytest.approx(100 * 21 / 78) and by_day[1]["y"][1:] == [None] * 6
    by_hour = figure(trends, "conversion-by-hour")["data"][0]["y"]
    assert (
        by_hour[10] == pytest.approx(100 * 5 / 24)
        and by_hour[12] == pytest.approx(100 * 9 / 30)
        and by_hour[9] is None
    )
    compare = hq.get("/compare?start=2026-03-02&end=2026-03-08", headers=HTML).text
    cells = dict(
        re.findall(
            r'<tr data-store="(\w+)">.*?<td class="num conversion" data-value="([^"]+)"', compare, re.S
        )
    )
    assert float(cells["north"]) == pytest.approx(21 / 78) and cells["south"] == "-1"
    assert figure(compare, "conversion-ranking")["data"][0]["y"] == ["north"]


def test_campaign_pages_are_for_hq_and_the_form_names_the_field(app):
    anna = client_for(app, "anna")
    refused = anna.get("/campaigns", headers=HTML)
    assert refused.status_code == 403 and "campaigns are for the hq role" in refused.text
    assert "Campaigns</a>" not in anna.get("/stores/north/trends", headers=HTML).text
    hq = client_for(app, "hq")
    page = hq.get("/campaigns", headers=HTML).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = dict(
        csrf_token=token,
        name="W10 push",
        channel="app",
        start="2026-03-02",
        end="2026-03-01",
        treated=["north"],
    )
    origin = {"Origin": "http://testserver"}
    bad = hq.post("/campaigns", data=form, headers=origin)
    assert (
        bad.status_code == 422 and "end: Value error, end 2026-03-01 is before start 2026-03-02" in bad.text
    )
    assert (
        hq.post(
            "/campaigns", data=form | dict(end="2026-03-08", csrf_token="forged"), headers=origin
        ).status_code
        == 403
    )
    done = hq.post("/campaigns", data=form | dict(end="2026-03-08"), headers=origin, follow_redirects=False)
    assert done.status_code == 303
    campaign = hq.get(done.headers["location"], headers=HTML)
    # one treated store and one control: a message, not a number
    assert campaign.status_code == 200 and "No lift yet: 1 treated store(s) with data" in campaign.text
    assert (
        "W10 push (2026-03-02 – 2026-03-08)"
        in hq.get("/compare?start=2026-03-02&end=2026-03-08", headers=HTML).text
    )


def test_campaign_page_ends_a_campaign_early_and_deletes_it_hq_only(app):
    hq, anna = client_for(app, "hq"), client_for(app, "anna")
    with app.state.engine.begin() as conn:
        created = campaigns.create(
            conn,
            campaigns.CampaignIn(
                name="to end", channel="web", start="2026-03-02", end="2026-03-15", treated=["north"]
            ),
        )
    page = hq.get(f"/campaigns/{created.id}", headers=HTML).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert f'/campaigns/{created.id}/delete"' in page and 'name="end"' in page
    origin = {"Origin": "http://testserver"}
    end_url, delete_url = f"/campaigns/{created.id}/end", f"/campaigns/{created.id}/delete"
    assert (
        anna.post(end_url, data=dict(csrf_token=token, end="2026-03-08"), headers=origin).status_code == 403
    )
    assert anna.post(delete_url, data=dict(csrf_token=token), headers=origin).status_code == 403
    forged = hq.post(end_url, data=dict(csrf_token="forged", end="2026-03-08"), headers=origin)
    assert forged.status_code == 403
    assert hq.post(delete_url, data=dict(csrf_token="forged"), headers=origin).status_code == 403
    before = hq.post(end_url, data=dict(csrf_token=token, end="2026-03-01"), headers=origin)
    assert before.status_code == 422 and "end: end 2026-03-01 is before start 2026-03-02" in before.text
    ended = hq.post(
        end_url, data=dict(csrf_token=token, end="2026-03-08"), headers=origin, follow_redirects=False
    )
    assert ended.status_code == 303 and ended.headers["location"] == f"/campaigns/{created.id}"
    with app.state.engine.connect() as conn:
        assert campaigns.get(conn, created.id).end == date(2026, 3, 8)
    gone = hq.post(delete_url, data=dict(csrf_token=token), headers=origin, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/campaigns"
    assert hq.get(f"/campaigns/{created.id}", headers=HTML).status_code == 404
    assert hq.post(delete_url, data=dict(csrf_token=token), headers=origin).status_code == 404


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory):
    """12 seeded stores (seed 1), six weeks of footfall, point-of-sale data, and a +12 %
    campaign on the first five over the last 14 days, served by uvicorn."""
    from tests.browser_support import Server

    url = f"sqlite:///{tmp_path_factory.mktemp('campaign-browser') / 'dashboard.sqlite3'}"
    storage = Storage(url)
    storage.migrate()
    rng = np.random.default_rng(1)
    stores = [seed.generated_store(i, rng) for i in range(12)]
    end = date(2026, 3, 2)
    treated = tuple(s.record.store.id for s in stores[:5])
    simulated = SimulatedCampaign(
        "Spring SNS coupon", treated, end - timedelta(days=14), end - timedelta(days=1), 0.12
    )
    seed.seed(storage, stores, 6, end, rng, [simulated], sales=True, footfall_only=True)
    with storage.engine.begin() as conn:
        auth.add_user(conn, "hq", "hq", pages_data.PASSWORD)
    with Server(
        create_app(
            Settings(
                secure_cookies=False, db_url=url, secret_key="campaign-browser-" + "Zq9x" * 10, mqtt=None
            )
        )
    ) as running:
        yield running


@pytest.mark.browser
@pytest.mark.slow
def test_campaign_page_in_a_browser(browser, seeded_server):
    from tests.test_browser import Page

    tab = Page(browser, seeded_server, "hq")
    try:
        tab.page.click("nav.top a:has-text('Campaigns')")
        tab.page.wait_for_load_state("networkidle")
        assert tab.page.eval_on_selector_all("#campaigns tbody tr", "rows => rows.length") == 1
        tab.page.click("#campaigns a")
        tab.page.wait_for_load_state("networkidle")
        lift = tab.page.inner_text("[data-kpi=lift] .value")
        low, high = re.findall(r"([+-][\d.]+) %", tab.page.inner_text("[data-kpi=lift] .label"))
        assert float(low) < 12 < float(high) and float(low) > 0, (lift, low, high)
        traces = tab.traces("counterfactual")
        assert [t["points"] for t in traces] == [42, 42]
        assert tab.page.evaluate("document.getElementById('counterfactual').layout.shapes.length") == 1
        assert tab.page.eval_on_selector_all("#per-store tbody tr", "rows => rows.length") == 5
        assert tab.page.inner_text("#outcomes tr[data-outcome=conversion] td:nth-child(2)").endswith("%")
        assert "Simulated data on 42 of the 42 days" in tab.page.inner_text("#simulated-days")
        DOCS_IMG.mkdir(exist_ok=True)
        tab.page.screenshot(path=str(DOCS_IMG / "campaign.png"), full_page=True)
        assert tab.errors == []
    finally:
        tab.close()


@pytest.mark.browser
def test_ending_and_deleting_a_campaign_in_a_browser(browser, seeded_server):
    """After the page test above (same server): a campaign of its own, ended early, then
    deleted once the confirmation is accepted (dismissed, nothing happens)."""
    from tests.test_browser import Page

    with seeded_server.app.state.engine.begin() as conn:
        created = campaigns.create(
            conn,
            campaigns.CampaignIn(
                name="Withdrawn push",
                channel="app",
                start="2026-02-16",
                end="2026-03-01",
                treated=["store-006"],
            ),
        )
    tab = Page(browser, seeded_server, "hq")
    try:
        tab.open(f"/campaigns/{created.id}")
        tab.page.fill("#campaign-manage input[name=end]", "2026-02-22")
        tab.page.click("#campaign-manage button:has-text('End on this day')")
        tab.page.wait_for_load_state("networkidle")
        assert "2026-02-16 – 2026-02-22 (7 days)" in tab.page.inner_text("h1")
        asked: list[str] = []

        def answer(dialog, accept: bool) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        tab.page.once("dialog", lambda d: answer(d, False))
        tab.page.click("#campaign-manage button:has-text('Delete this campaign')")
        assert asked == ["Delete the campaign Withdrawn push? Its record goes; no store data is touched."]
        assert tab.page.url.endswith(f"/campaigns/{created.id}")
        tab.page.once("dialog", lambda d: answer(d, True))
        with tab.page.expect_navigation():
            tab.page.click("#campaign-manage button:has-text('Delete this campaign')")
        assert tab.page.url.endswith("/campaigns") and len(asked) == 2
        names = tab.page.eval_on_selector_all(
            "#campaigns tbody tr a", "links => links.map(a => a.textContent)"
        )
        assert names == ["Spring SNS coupon"]
        assert tab.errors == []
    finally:
        tab.close()
