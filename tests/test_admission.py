"""What storage refuses, with which code, on SQLite and PostgreSQL: conflicts, cells off the
plan, names past the registry cap; dead letters kept as digests; last-seen never in the future."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.__main__ import main as dashboard_main
from dashboard.storage import Storage, now_utc
from footfall_core.contract import FlowsAggregate
from tests.messages import T0, grid_msg, lines_msg, zones_msg
from tests.test_storage import rows


def storage_for(db_url: str, names_cap: int = 64) -> Storage:
    storage = Storage(db_url, names_cap=names_cap)
    storage.migrate()
    return storage


def add_store(db_url: str, store: str, width_m: float, height_m: float) -> None:
    plan = ["--width-m", str(width_m), "--height-m", str(height_m)]
    assert dashboard_main(["stores", "--db", db_url, "add", store, *plan]) == 0


def letters(storage: Storage) -> list[tuple[str, str]]:
    return sorted((d["code"], d["topic"]) for d in storage.dead_letters())


def test_same_id_with_other_content_is_a_conflict_and_the_first_one_stays(db_url):
    storage = storage_for(db_url)
    first, other = zones_msg(0, 120, 3, 4, [12]), zones_msg(0, 60, 1, 1, [])
    assert first.id == other.id
    assert storage.write_aggregates([first]).stored == (first.id,)
    written = storage.write_aggregates([other, first])
    assert written.duplicates == (first.id,)
    ((refusal),) = written.refused
    assert (refusal.id, refusal.code) == (first.id, "conflict")
    (letter,) = storage.dead_letters()
    assert (letter["code"], letter["topic"]) == ("conflict", "footfall/v1/s1/c1/agg")
    assert letter["payload"] == other.to_json()
    (hour,) = rows(storage, t.zone_hours)
    assert hour["person_seconds"] == 120, "the first content stays"


def test_a_batch_decides_as_its_messages_one_at_a_time_in_order(db_url):
    """Repeats inside one batch: the first arrival wins, a later one with the same content is a
    duplicate and one with other content a conflict."""
    storage = storage_for(db_url)
    a, b = zones_msg(0, 120, 3, 4, [12]), zones_msg(0, 60, 1, 1, [])
    written = storage.write_aggregates([a, a, b, grid_msg(0, [(1, 1, 2.0)])])
    assert len(written.stored) == 2
    assert written.duplicates == (a.id,)
    assert [r.code for r in written.refused] == ["conflict"]


def test_cells_off_the_plan_are_refused_within_a_margin(db_url):
    storage = storage_for(db_url)
    add_store(db_url, "s1", 20, 10)  # 40 × 20 cells of 0.5 m, +2 cells of margin
    inside = grid_msg(0, [(41, 21, 3.0)])
    off_x, off_y = grid_msg(1, [(0, 0, 1.0), (42, 0, 1.0)]), grid_msg(2, [(0, 22, 1.0)])
    flows_off = FlowsAggregate(
        store="s1",
        camera="c1",
        bucket_start=T0,
        bucket_s=60,
        covered_s=60,
        flow_cell_m=1.0,
        transitions=[],
        directions=[(22, 0, [1] * 8)],  # 20 cells of 1 m + 2
    )
    written = storage.write_aggregates([inside, off_x, off_y, flows_off])
    assert written.stored == (inside.id,)
    assert sorted(r.id for r in written.refused if r.code == "plan") == sorted(
        [off_x.id, off_y.id, flows_off.id]
    )
    assert "(42, 0) of 0.5 m is off store 's1'" in next(r.reason for r in written.refused if r.id == off_x.id)
    assert [code for code, _ in letters(storage)] == ["plan"] * 3
    assert rows(storage, t.grid_days)[0]["person_seconds"] == 3.0


def test_a_store_without_a_plan_counts_as_a_100_m_square(db_url):
    storage = storage_for(db_url)
    far = grid_msg(0, [(20_000, 1, 1.0)], store="new-shop")
    near = grid_msg(1, [(201, 201, 1.0)], store="new-shop")  # 200 cells of 0.5 m + 2
    written = storage.write_aggregates([far, near])
    assert written.stored == (near.id,)
    assert [r.code for r in written.refused] == ["plan"]


def test_registration_is_capped_per_store_and_kind(db_url):
    storage = storage_for(db_url, names_cap=2)
    written = storage.write_aggregates(
        [
            lines_msg(0, ["door"]),
            lines_msg(1, ["door", "back"]),
            lines_msg(2, ["side", "door"]),  # a third line: refused whole
            lines_msg(3, ["back"], camera="c2"),
            lines_msg(4, ["back"], camera="c3"),  # a third camera
            zones_msg(5, 60, 1, 1, [], zone="a"),
            zones_msg(6, 60, 1, 1, [], zone="b"),
            zones_msg(7, 60, 1, 1, [], zone="c"),
        ]
    )
    assert len(written.stored) == 5
    refused = {r.id: r for r in written.refused}
    assert [refused[m.id].code for m in (lines_msg(2, []), lines_msg(4, [], "c3"))] == ["registry"] * 2
    assert (
        "line side would give store 's1' more than 2 lines (it has 2)" in refused[lines_msg(2, []).id].reason
    )
    assert len(refused) == 3
    with storage.engine.connect() as conn:
        names = {table.name: sorted(conn.scalars(sa.select(table.c.name))) for table in (t.lines, t.zones)}
        cameras = sorted(conn.scalars(sa.select(t.cameras.c.name)))
    assert names == {"lines": ["back", "door"], "zones": ["a", "b"]}
    assert cameras == ["c1", "c2"]
    assert storage.write_aggregates([lines_msg(2, ["side", "door"])]).refused[0].code == "registry"
    assert storage.write_aggregates([lines_msg(9, ["door"])]).stored, "known names still come in"
    refusal = storage.camera_status("s1", "c9", "online")
    assert refusal is not None and refusal.code == "registry"
    assert storage.camera_status("s1", "c2", "online") is None


def test_registration_cap_counts_retired_names_and_leaves_imported_ones_alone(db_url):
    storage = storage_for(db_url, names_cap=2)
    with storage.engine.begin() as conn:
        conn.execute(
            sa.insert(t.stores),
            dict(id="s1", name="s1", tags=[], auto_registered=False, created_at=now_utc()),
        )
        conn.execute(
            sa.insert(t.lines),
            [
                dict(store_id="s1", name=n, retired_at=now_utc() if n == "old" else None)
                for n in ("a", "b", "old")
            ],
        )
    written = storage.write_aggregates([lines_msg(0, ["a", "b", "old"]), lines_msg(1, ["new"])])
    assert len(written.stored) == 1
    assert [r.code for r in written.refused] == ["registry"]


def test_last_seen_and_status_time_never_run_ahead_of_the_centre(db_url):
    storage = storage_for(db_url)
    soon = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)
    assert storage.write_aggregates([zones_msg(0, 60, 1, 1, [], start=soon)]).stored
    storage.camera_status("s1", "c1", "online", datetime(9999, 12, 31, tzinfo=UTC))
    after = now_utc()
    (camera,) = rows(storage, t.cameras)
    assert camera["last_seen"] <= after
    assert camera["status_at"] <= after


def test_dead_letters_keep_4_kb_the_length_and_the_sha256(db_url):
    storage = storage_for(db_url)
    payload = bytes(range(256)) * 4096  # 1 MiB
    storage.dead_letter("footfall/v1/s1/c1/agg", payload, "not JSON", code="contract")
    (letter,) = storage.dead_letters()
    assert letter["payload"] == payload[:4096]
    assert letter["payload_bytes"] == len(payload)
    assert letter["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    assert (letter["code"], letter["reason"]) == ("contract", "not JSON")


def test_upgrade_cuts_old_dead_letters_to_their_digest(db_url):
    from alembic import command
    from alembic.config import Config

    from dashboard.storage import MIGRATIONS

    storage = Storage(db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with storage.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        big = b"x" * 10_000
        conn.execute(
            sa.text(
                "insert into dead_letters (received_at, topic, payload, reason) values (:at, 't', :p, 'r')"
            ),
            dict(at=now_utc(), p=big),
        )
    storage.migrate()
    (letter,) = storage.dead_letters()
    assert (len(letter["payload"]), letter["payload_bytes"]) == (4096, 10_000)
    assert letter["payload_sha256"] == hashlib.sha256(b"x" * 10_000).hexdigest()
    assert letter["code"] == "contract"


def test_a_reason_quoting_nul_or_lone_surrogates_is_still_kept(db_url):
    """A contract error may quote a hostile key: PostgreSQL refuses NUL in text, and neither
    backend takes a lone surrogate; the dead letter keeps them escaped."""
    storage = storage_for(db_url)
    storage.dead_letter("footfall/v1/s1/c1/agg", b"{}", "key 'a\x00b\ud800': Extra inputs are not permitted")
    (letter,) = storage.dead_letters()
    assert letter["reason"] == "key 'a\\x00b\\ud800': Extra inputs are not permitted"
