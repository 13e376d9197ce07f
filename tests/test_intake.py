"""The ingest's intake on SQLite and PostgreSQL: a batch the database refuses for its data is
split around the culprits and the rest stored; only a lost connection is retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy.exc as sa_exc

from dashboard import intake
from dashboard.storage import Storage
from footfall_core.contract import ContractError, ZonesAggregate, ZoneStats, agg_topic
from tests.transport_support import make_aggregates, stored_ids


def unchecked_zones(minute: int, entries: int) -> ZonesAggregate:
    """A zones message built past the contract's checks, as a bug or another client could."""
    stats = ZoneStats.model_construct(
        zone="a", mean_occupancy=1.0, max_occupancy=1, person_seconds=60.0, entries=entries, dwells_s=[]
    )
    return ZonesAggregate.model_construct(
        schema_version=1,
        kind="zones",
        store="shop-1",
        camera="cam9",
        bucket_start=datetime(2026, 3, 2, 9, minute, tzinfo=UTC),
        bucket_s=60,
        covered_s=60.0,
        simulated=False,
        zones=[stats],
    )


def test_the_database_refusing_a_message_costs_only_that_message(db_url):
    storage = Storage(db_url)
    storage.migrate()
    valid = make_aggregates("shop-1", ["cam1"], 4)  # 20 messages
    bad = [unchecked_zones(0, 2**70), unchecked_zones(1, 2**70)]
    batch = valid[:3] + [bad[0]] + valid[3:15] + [bad[1]] + valid[15:]
    result = intake.write(storage, batch)
    assert [position for position, _ in result.refused] == [3, 16]
    assert all("database refused it" in reason for _, reason in result.refused)
    assert result.stored == len(valid)
    assert sorted(stored_ids(storage)) == sorted(m.id for m in valid)


def test_only_a_lost_connection_is_retried():
    lost = sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    assert intake.is_connection_error(lost)
    assert intake.is_connection_error(sa_exc.InterfaceError("SELECT 1", {}, Exception("closed")))
    for data in (
        sa_exc.DataError("INSERT", {}, Exception("integer out of range")),
        sa_exc.IntegrityError("INSERT", {}, Exception("not null")),
        OverflowError("Python int too large to convert to SQLite INTEGER"),
        ValueError("anything else"),
    ):
        assert not intake.is_connection_error(data), data


def test_read_refuses_buckets_outside_the_centres_clock_window():
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    (recent,) = make_aggregates("shop-1", ["cam1"], 1, start=now - timedelta(days=13))[:1]
    topic = agg_topic("shop-1", "cam1")
    assert intake.read(recent.to_json(), topic, now) == recent
    for start in (
        now - timedelta(days=14, minutes=1),
        now + timedelta(minutes=6),
        datetime(9999, 12, 31, tzinfo=UTC),
    ):
        (message,) = make_aggregates("shop-1", ["cam1"], 1, start=start)[:1]
        with pytest.raises(ContractError) as caught:
            intake.read(message.to_json(), topic, now)
        assert caught.value.code == "clock"
