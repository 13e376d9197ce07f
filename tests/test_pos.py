"""Point-of-sale import and conversion on SQLite and PostgreSQL, against hand-computed values
(the footfall of tests/pages_data.py's two stores is known hour by hour): bad rows refused by
line with nothing imported, re-imports replacing, local times, managers kept to their stores,
the command line in a real process."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dashboard import auth, pos, registry, repository
from dashboard import tables as t
from dashboard.app import create_app
from dashboard.settings import Settings
from footfall_core.store import StoreInfo
from tests import pages_data

REPO = Path(__file__).resolve().parent.parent
MONDAY = date(2026, 3, 2)  # day 7 of pages_data: north has 24 people in an hour, 30 at noon
GOOD_CSV = (
    "hour_start,transactions,sales_amount\n"
    "2026-03-02T10:00,5,100.5\n"
    "2026-03-02T11:00,7,200\n"
    "2026-03-02 12:00,9,\n"
    "2026-03-02T20:00,3,50\n"  # shop closed, no footfall that hour: left out of conversion
)


@pytest.fixture(scope="module")
def built(module_db_url):
    """pages_data's chain plus a store in Paris, once per backend for the module; API clients
    for hq and anna (manager of north)."""
    storage = pages_data.build(module_db_url)
    with storage.engine.begin() as conn:
        registry.save(conn, registry.StoreRecord(store=StoreInfo(id="paris", timezone="Europe/Paris")))
        tokens = {name: auth.new_token(conn, name) for name in ("hq", "anna")}
    app = create_app(
        Settings(secure_cookies=False, db_url=module_db_url, secret_key="pos-tests-" + "Zq9x" * 10, mqtt=None)
    )
    yield (
        storage,
        {n: TestClient(app, headers={"authorization": f"Bearer {tok}"}) for n, tok in tokens.items()},
    )
    storage.engine.dispose()


@pytest.fixture
def chain(built):
    """The module's chain with no point-of-sale row yet."""
    storage, _ = built
    with storage.engine.begin() as conn:
        conn.execute(sa.delete(t.pos_hours))
    return built


def post_csv(client, store: str, text: str):
    return client.post(
        f"/api/v1/stores/{store}/transactions", content=text, headers={"content-type": "text/csv"}
    )


def stored(storage, store: str) -> list[tuple]:
    p = t.pos_hours.c
    with storage.engine.connect() as conn:
        return conn.execute(
            sa.select(p.period_start, p.local_hour, p.transactions, p.sales_amount)
            .where(p.store_id == store)
            .order_by(p.period_start)
        ).all()


def test_import_and_conversion_by_hour_day_and_week(chain):
    storage, clients = chain
    response = post_csv(clients["anna"], "north", GOOD_CSV)
    assert response.status_code == 200, response.text
    assert response.json() == dict(
        rows=4,
        replaced=0,
        stores=["north"],
        first_hour="2026-03-02T10:00:00",
        last_hour="2026-03-02T20:00:00",
    )
    assert stored(storage, "north")[2] == (datetime(2026, 3, 2, 12), 12, 9, None)
    day = clients["anna"].get("/api/v1/stores/north/conversion?start=2026-03-02&end=2026-03-08").json()
    # Hand-computed: 24 + 24 + 30 people in at 10, 11 and 12 h; 5 + 7 + 9 transactions.
    assert day["periods"] == [
        dict(
            period="2026-03-02",
            footfall=78,
            transactions=21,
            sales_amount=300.5,
            conversion=pytest.approx(21 / 78),
            simulated=False,
        )
    ]
    hours = clients["anna"].get("/api/v1/stores/north/conversion?start=2026-03-02&end=2026-03-02&grain=hour")
    assert [(p["period"], p["conversion"]) for p in hours.json()["periods"]] == [
        ("2026-03-02 10:00", pytest.approx(5 / 24)),
        ("2026-03-02 11:00", pytest.approx(7 / 24)),
        ("2026-03-02 12:00", pytest.approx(9 / 30)),
    ]
    week = clients["hq"].get("/api/v1/stores/north/conversion?start=2026-02-23&end=2026-03-08&grain=week")
    assert [(p["period"], p["transactions"]) for p in week.json()["periods"]] == [("2026-W10", 21)]
    csv_rows = clients["hq"].get(
        "/api/v1/stores/north/conversion?start=2026-03-02&end=2026-03-02&grain=hour&format=csv"
    )
    assert csv_rows.text.splitlines()[0] == "period,footfall,transactions,sales_amount,conversion,simulated"
    with storage.engine.connect() as conn:
        ranked = {r.store: r.model_dump() for r in repository.compare_stores(conn, MONDAY, MONDAY).stores}
    assert ranked["north"]["conversion"] == pytest.approx(21 / 78) and ranked["north"]["transactions"] == 21
    assert ranked["south"]["conversion"] is None and ranked["south"]["transactions"] is None


def test_bad_rows_are_named_by_line_and_nothing_is_imported(chain):
    storage, clients = chain
    bad = (
        "hour_start,transactions,sales_amount\n"
        "2026-03-02T10:00,5,1\n"  # good, but not imported
        "2026-03-02T11:00,-3,\n"
        "yesterday,4,\n"
        "2026-03-02T10:00,6,\n"
        "2026-03-02T12:30,2,\n"
        "2026-03-02T13:00,1.5,\n"
        "2026-03-02T14:00,2,-10\n"
    )
    response = post_csv(clients["hq"], "north", bad)
    assert response.status_code == 422
    errors = {e["line"]: e["reason"] for e in response.json()["detail"]["errors"]}
    assert sorted(errors) == [3, 4, 5, 6, 7, 8]
    assert "transactions" in errors[3] and "greater than or equal to 0" in errors[3]
    assert "hour_start" in errors[4]
    assert errors[5] == "same store and hour as line 2"
    assert "not the start of an hour" in errors[6]
    assert "transactions" in errors[7] and "sales_amount" in errors[8]
    assert stored(storage, "north") == []
    header = post_csv(clients["hq"], "north", "hour,transactions\n2026-03-02T10:00,5\n")
    assert header.status_code == 422 and header.json()["detail"]["errors"][0]["line"] == 1
    assert "missing column 'hour_start'" in header.json()["detail"]["errors"][0]["reason"]
    other = clients["hq"].post(
        "/api/v1/stores/north/transactions",
        json=[dict(store="south", hour_start="2026-03-02T10:00", transactions=1)],
    )
    assert other.status_code == 422 and "in an import for store 'north'" in other.text
    assert stored(storage, "north") == [] and stored(storage, "south") == []


def test_a_re_import_replaces_the_same_hours(chain):
    storage, clients = chain
    first = clients["hq"].post(
        "/api/v1/stores/north/transactions",
        json=[
            dict(hour_start="2026-03-02T10:00", transactions=5),
            dict(hour_start="2026-03-02T11:00", transactions=7),
        ],
    )
    assert first.json()["replaced"] == 0
    again = post_csv(
        clients["hq"], "north", "hour_start,transactions\n2026-03-02T11:00,8\n2026-03-02T12:00,9\n"
    )
    assert again.json()["rows"] == 2 and again.json()["replaced"] == 1
    assert [(r.local_hour, r.transactions) for r in stored(storage, "north")] == [(10, 5), (11, 8), (12, 9)]
    twice = post_csv(
        clients["hq"], "north", "hour_start,transactions\n2026-03-02T11:00,8\n2026-03-02T12:00,9\n"
    )
    assert twice.json()["replaced"] == 2
    assert [(r.local_hour, r.transactions) for r in stored(storage, "north")] == [(10, 5), (11, 8), (12, 9)]


def test_hours_are_the_stores_local_hours(chain):
    storage, clients = chain
    rows = [
        dict(hour_start="2026-03-02T10:00", transactions=1),  # local (Paris, UTC+1): 09:00 UTC
        dict(hour_start="2026-03-02T10:00Z", transactions=2),  # 11:00 in Paris
        dict(hour_start="2026-07-01T10:00", transactions=3),  # summer time: 08:00 UTC
    ]
    assert clients["hq"].post("/api/v1/stores/paris/transactions", json=rows).status_code == 200
    assert [(r.period_start, r.local_hour, r.transactions) for r in stored(storage, "paris")] == [
        (datetime(2026, 3, 2, 9), 10, 1),
        (datetime(2026, 3, 2, 10), 11, 2),
        (datetime(2026, 7, 1, 8), 10, 3),
    ]
    gap = clients["hq"].post(
        "/api/v1/stores/paris/transactions", json=[dict(hour_start="2026-03-29T02:00", transactions=1)]
    )
    assert gap.status_code == 422 and "does not exist in Europe/Paris" in gap.text


def test_managers_post_and_read_only_their_stores(chain):
    _, clients = chain
    anna = clients["anna"]
    assert post_csv(anna, "south", GOOD_CSV).status_code == 403
    assert anna.get("/api/v1/stores/south/conversion?start=2026-03-02&end=2026-03-02").status_code == 403
    assert anna.get("/api/v1/campaigns").status_code == 403
    assert post_csv(anna, "north", GOOD_CSV).status_code == 200
    ranked = anna.get("/api/v1/compare?start=2026-03-02&end=2026-03-02").json()["stores"]
    assert [r["store"] for r in ranked] == ["north"] and ranked[0]["conversion"] == pytest.approx(21 / 78)


def test_command_line_import_refuses_a_bad_file_whole(chain, tmp_path):
    storage, _ = chain
    good = tmp_path / "sales.csv"
    good.write_text("store,hour_start,transactions\nnorth,2026-03-02T10:00,5\nsouth,2026-03-02T10:00,2\n")
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            [
                dict(store="north", hour_start="2026-03-02T11:00", transactions=1),
                dict(store="nowhere", hour_start="2026-03-02T11:00", transactions=1),
            ]
        )
    )

    def run(path: Path) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "dashboard", "pos", "--db", storage.url, "import", str(path)]
        return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)

    done = run(good)
    assert done.returncode == 0, done.stderr
    assert "2 hours imported for north, south (0 replaced)" in done.stdout
    refused = run(bad)
    assert refused.returncode == 2 and "line 2: unknown store 'nowhere'" in refused.stderr
    assert [r.transactions for r in stored(storage, "north")] == [5]  # line 1 of bad.json was not imported


def test_an_import_over_the_size_or_row_limit_is_refused_whole_with_413(chain, tmp_path, caplog):
    storage, clients = chain
    row = "2026-03-02T10:00,5\n"
    big = "hour_start,transactions\n" + row * (pos.MAX_IMPORT_BYTES // len(row) + 1)
    declared = post_csv(clients["hq"], "north", big)
    assert declared.status_code == 413
    assert f"at most {pos.MAX_IMPORT_BYTES:,} bytes (4 MiB)" in declared.json()["detail"]

    def chunks():  # no Content-Length: the server counts as it reads
        yield b"hour_start,transactions\n"
        for _ in range(pos.MAX_IMPORT_BYTES // 65536 + 1):
            yield row.encode() * (65536 // len(row) + 1)

    streamed = clients["hq"].post(
        "/api/v1/stores/north/transactions", content=chunks(), headers={"content-type": "text/csv"}
    )
    assert streamed.status_code == 413 and "at most 4,194,304 bytes" in streamed.json()["detail"]

    hours = ["2026-03-02T10:00"] * (pos.MAX_IMPORT_ROWS + 1)  # refused before rows are checked
    many_csv = "hour_start,transactions\n" + "".join(f"{h},1\n" for h in hours)
    assert len(many_csv) < pos.MAX_IMPORT_BYTES
    too_many = post_csv(clients["hq"], "north", many_csv)
    assert too_many.status_code == 413
    assert f"at most {pos.MAX_IMPORT_ROWS:,} rows" in too_many.json()["detail"]
    many_json = clients["hq"].post(
        "/api/v1/stores/north/transactions", json=[{"hour_start": h, "transactions": 1} for h in hours]
    )
    assert many_json.status_code == 413 and "JSON: more than 50,000 rows" in many_json.json()["detail"]

    file = tmp_path / "big.csv"
    file.write_text(big)
    args = argparse.Namespace(db=storage.url, file=file, store="north")
    assert pos.main(args) == 2
    assert f"big.csv: {len(big):,} bytes, at most 4,194,304 bytes" in caplog.text
    assert stored(storage, "north") == []


def test_a_manager_imports_the_tills_export_from_the_trends_page(chain):
    """The trends page's form: the same checks as the API, the result or each bad row shown,
    another store's page refused, the size refused before the form is read."""
    from tests.test_pages import HTML, client_for

    storage, clients = chain
    anna = client_for(clients["hq"].app, "anna")
    page = anna.get("/stores/north/trends?week=2026-W10", headers=HTML).text
    assert "/stores/north/transactions" in page and "at most 4 MiB and 50,000 rows" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    origin = {"Origin": "http://testserver", **HTML}

    def upload(store: str, name: str, text: str, csrf: str = token):
        return anna.post(
            f"/stores/{store}/transactions",
            data=dict(csrf_token=csrf),
            files=dict(file=(name, text.encode(), "text/csv")),
            headers=origin,
        )

    bad = upload("north", "tills.csv", "hour_start,transactions\n2026-03-02T10:00,5\n2026-03-02T11:00,-1\n")
    assert bad.status_code == 422 and "1 bad row(s), nothing imported" in bad.text
    assert re.search(
        r"<td class=\"num\">3</td><td>transactions: Input should be greater than or equal to 0", bad.text
    )
    assert stored(storage, "north") == []
    done = upload("north", "tills.csv", GOOD_CSV)
    assert done.status_code == 200 and "tills.csv: 4 hour(s) imported (0 replaced)" in done.text
    assert [r.transactions for r in stored(storage, "north")] == [5, 7, 9, 3]
    as_json = json.dumps([dict(hour_start="2026-03-02T10:00", transactions=6)])
    again = upload("north", "tills.json", as_json)
    assert again.status_code == 200 and "1 hour(s) imported (1 replaced)" in again.text
    assert [r.transactions for r in stored(storage, "north")] == [6, 7, 9, 3]

    assert upload("south", "tills.csv", GOOD_CSV).status_code == 403
    assert upload("north", "tills.csv", GOOD_CSV, csrf="forged").status_code == 403
    row = "2026-03-02T10:00,5\n"
    big = "hour_start,transactions\n" + row * (pos.MAX_IMPORT_BYTES // len(row) + 1)
    refused = upload("north", "year.csv", big)
    assert refused.status_code == 413 and "at most 4,194,304 bytes (4 MiB) and 50,000 rows" in refused.text
    assert [r.transactions for r in stored(storage, "north")] == [6, 7, 9, 3]
    assert stored(storage, "south") == []
