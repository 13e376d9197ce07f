"""A store whose camera clock ran ahead must not move the pages' default dates or break them:
compare and trends stay on real dates, and a far date asked for is a 422, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.app import create_app
from dashboard.settings import Settings
from footfall_core.contract import LineCount, LinesAggregate
from tests import pages_data
from tests.test_pages import client_for

FAR = datetime(9999, 12, 31, tzinfo=UTC)


def test_a_bucket_in_9999_moves_no_default_and_breaks_no_page(tmp_path):
    url = f"sqlite:///{tmp_path / 'dashboard.sqlite3'}"
    storage = pages_data.build(url)
    # Written past the ingest (whose clock window refuses it), with the last-seen an older
    # centre kept for it: what a database can hold from before.
    far = LinesAggregate(
        store="north",
        camera="cam1",
        bucket_start=FAR,
        bucket_s=60,
        covered_s=60,
        lines=[LineCount(line="door", in_count=1, out_count=0)],
    )
    assert storage.write_aggregates([far]).stored
    with storage.engine.begin() as conn:
        conn.execute(sa.update(t.cameras).values(last_seen=FAR.replace(tzinfo=None)))
    hq = client_for(
        create_app(
            Settings(secure_cookies=False, db_url=url, secret_key="far-dates-" + "Zq9x" * 10, mqtt=None)
        ),
        "hq",
    )
    today = datetime.now(UTC).date()

    compare = hq.get("/compare")
    assert compare.status_code == 200
    assert f'value="{today}"' in compare.text and 'value="9999' not in compare.text
    trends = hq.get("/stores/north/trends")
    assert trends.status_code == 200
    assert f'value="{today.isocalendar().year}-W{today.isocalendar().week:02d}"' in trends.text
    for path in (
        "/stores/north/trends?week=9999-W52",
        "/compare?start=9999-12-25&end=9999-12-31",
        "/api/v1/stores/north/trends?year=9999&week=52",
        "/api/v1/compare?start=9999-12-25&end=9999-12-31",
        "/api/v1/stores/north/heat?start=9999-12-25&end=9999-12-31",
    ):
        response = hq.get(path)
        assert response.status_code == 422, (path, response.status_code)
