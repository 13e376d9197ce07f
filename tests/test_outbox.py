"""The durable outbox: order, persistence across a reopen, confirmations, bounds, ages on a
clock that does not step, and a full disk."""

from __future__ import annotations

import sqlite3
import time

from edge.outbox import Outbox
from footfall_core.contract import payload_digest


def _payload(i: int, size: int = 200) -> bytes:
    return f"{i:08d}".encode() + b"x" * (size - 8)


def test_messages_survive_a_reopen_in_order(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    for i in range(50):
        assert outbox.put(f"t/{i}", _payload(i))
    first = outbox.peek(10)
    assert outbox.confirm(m.digest for m in first[:5]) == 5
    outbox.close()  # no clean shutdown needed: every put was committed

    reopened = Outbox(tmp_path / "o.sqlite3")
    left = reopened.peek(1000)
    assert [m.topic for m in left] == [f"t/{i}" for i in range(5, 50)]
    assert reopened.depth == 45
    assert [m.seq for m in reopened.peek(3, after_seq=left[0].seq)] == [m.seq for m in left[1:4]]
    reopened.put("t/new", b"new")
    assert reopened.peek(1000)[-1].topic == "t/new"
    assert reopened.peek(1000)[-1].seq > left[-1].seq


def test_full_outbox_drops_the_oldest_and_remembers_the_count(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3", max_messages=10)
    for i in range(25):
        assert outbox.put("t", _payload(i))
    assert outbox.depth == 10
    assert outbox.dropped == 15
    assert [m.payload[:8] for m in outbox.peek(100)] == [f"{i:08d}".encode() for i in range(15, 25)]
    outbox.close()
    assert Outbox(tmp_path / "o.sqlite3", max_messages=10).dropped == 15


def test_confirmations_delete_by_payload_digest(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    for payload in (b"a", b"b", b"a", b"c"):
        outbox.put("t", payload)
    assert [m.digest for m in outbox.peek(10)] == [payload_digest(p) for p in (b"a", b"b", b"a", b"c")]
    assert outbox.confirm([payload_digest(b"a"), payload_digest(b"never put")]) == 2, "both copies of a"
    assert [m.payload for m in outbox.peek(10)] == [b"b", b"c"]
    assert outbox.depth == 2
    assert outbox.confirm([payload_digest(b"a")]) == 0, "a second confirmation changes nothing"
    assert [m.payload for m in outbox.get([1, 2, 4])] == [b"b", b"c"], "seq 1 is gone"


def test_messages_older_than_max_age_are_dropped(tmp_path):
    now_s = [1_000_000.0]
    outbox = Outbox(tmp_path / "o.sqlite3", max_age_s=3600, clock=lambda: now_s[0])
    for i in range(5):
        outbox.put("old", _payload(i))
    now_s[0] += 3601
    outbox.put("fresh", b"fresh")
    assert [m.topic for m in outbox.peek(100)] == ["fresh"]
    assert outbox.dropped == 5


def test_ages_go_on_across_a_restart_and_ignore_the_wall_clock(tmp_path, monkeypatch):
    """The outbox clock is monotonic time kept across runs: a reboot (monotonic time starts
    again near 0) neither rejuvenates nor ages the backlog, and a wall clock stepped 14 days
    forward (NTP after a dead RTC battery) drops nothing."""
    now_s = [5_000.0]
    outbox = Outbox(tmp_path / "o.sqlite3", max_age_s=3600, clock=lambda: now_s[0])
    outbox.put("first", b"1")
    now_s[0] += 3000
    outbox.put("second", b"2")
    outbox.close()
    now_s[0] = 10.0  # after a reboot
    real_time = time.time()
    monkeypatch.setattr(time, "time", lambda: real_time + 14 * 86400)
    outbox = Outbox(tmp_path / "o.sqlite3", max_age_s=3600, clock=lambda: now_s[0])
    outbox.put("third", b"3")
    assert [m.topic for m in outbox.peek(10)] == ["first", "second", "third"]
    now_s[0] += 601  # 'first' is now 3,601 s old on the outbox clock
    outbox.put("fourth", b"4")
    assert [m.topic for m in outbox.peek(10)] == ["second", "third", "fourth"]
    assert outbox.dropped == 1


def test_an_outbox_of_the_earlier_layout_is_upgraded_in_place(tmp_path):
    """Wall-clock creation times and no digests: kept, digested, aged as before."""
    path = tmp_path / "o.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
            " payload BLOB NOT NULL, created_s REAL NOT NULL);"
            "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
            "INSERT INTO counters VALUES ('dropped', 7);"
        )
        db.executemany(
            "INSERT INTO outbox (topic, payload, created_s) VALUES (?, ?, ?)",
            [("old", b"x", time.time() - 3500), ("new", b"y", time.time() - 10)],
        )
    now_s = [100.0]
    outbox = Outbox(path, max_age_s=3600, clock=lambda: now_s[0])
    assert [(m.topic, m.digest) for m in outbox.peek(10)] == [
        ("old", payload_digest(b"x")),
        ("new", payload_digest(b"y")),
    ]
    assert outbox.dropped == 7
    now_s[0] += 200  # 'old' is 3,700 s old
    outbox.put("newest", b"z")
    assert [m.topic for m in outbox.peek(10)] == ["new", "newest"]
    outbox.close()
    assert [m.topic for m in Outbox(path).peek(10)] == ["new", "newest"], "upgraded once"


def _full_disk(outbox: Outbox, spare_pages: int) -> None:
    """Simulate a full disk: SQLite refuses to grow the file past a few more pages."""
    pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
    outbox._db.execute(f"PRAGMA max_page_count = {pages + spare_pages}")


def test_disk_full_drops_the_oldest_and_keeps_going(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    _full_disk(outbox, spare_pages=10)
    stored = 0
    for i in range(400):  # 400 × 1 kB is far more than 12 pages of 4 kB
        stored += outbox.put("t", _payload(i, 1000))
    assert stored == 400, "with old messages to drop, every new one fits"
    assert outbox.dropped > 0
    assert outbox.depth + outbox.dropped == 400
    newest = outbox.peek(1000)
    assert newest[-1].payload[:8] == b"00000399"
    assert [int(m.payload[:8]) for m in newest] == list(range(400 - len(newest), 400))


def test_disk_full_with_nothing_to_drop_counts_the_message(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    _full_disk(outbox, spare_pages=2)
    assert outbox.put("t", b"small")
    assert not outbox.put("t", b"y" * 100_000)  # larger than the whole capped database
    assert outbox.dropped >= 1
    assert outbox.put("t", b"small again"), "the outbox still works after refusing one"
