import json
from datetime import UTC, datetime, timedelta

import pytest

from footfall_core.contract import (
    MAX_CELLS,
    MAX_NAMES,
    MAX_PAYLOAD_BYTES,
    ContractError,
    GridAggregate,
    LiveMessage,
    StatusMessage,
    ZonesAggregate,
    ZoneStats,
    agg_topic,
    check_clock,
    parse_aggregate,
    parse_message,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def zones_message(**over):
    fields = dict(
        store="s1",
        camera="c1",
        bucket_start=T0,
        bucket_s=60,
        covered_s=60,
        zones=[
            ZoneStats(
                zone="till",
                mean_occupancy=1.5,
                max_occupancy=3,
                person_seconds=90,
                entries=2,
                dwells_s=[12.0],
            )
        ],
    )
    fields.update(over)
    return ZonesAggregate(**fields)


def test_round_trip_and_stable_id():
    message = zones_message()
    again = parse_aggregate(message.to_json(), agg_topic("s1", "c1"))
    assert again == message
    assert message.id == "s1/c1/zones/2026-11-02T09:00:00Z"
    assert json.loads(message.to_json())["bucket_start"] == "2026-11-02T09:00:00Z"


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"{not json", "not JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"schema_version": 2}', "unsupported schema_version 2"),
        (json.dumps({**json.loads(zones_message().to_json()), "track_id": 3}).encode(), "track_id"),
        (json.dumps({**json.loads(zones_message().to_json()), "kind": "pixels"}).encode(), "kind"),
        (
            json.dumps(
                {**json.loads(zones_message().to_json()), "bucket_start": "2026-11-02T09:00:30Z"}
            ).encode(),
            "not a multiple of bucket_s",
        ),
        (json.dumps({**json.loads(zones_message().to_json()), "covered_s": -1}).encode(), "covered_s"),
    ],
)
def test_bad_payloads_say_why(payload, reason):
    with pytest.raises(ContractError, match=reason):
        parse_aggregate(payload)


def test_topic_must_match_payload():
    with pytest.raises(ContractError, match="does not match"):
        parse_aggregate(zones_message().to_json(), agg_topic("s2", "c1"))


def test_grid_cells_are_sparse_triples():
    grid = GridAggregate(
        store="s1", camera="c1", bucket_start=T0, bucket_s=60, covered_s=60, cell_m=0.5, cells=[(3, 4, 12.5)]
    )
    assert json.loads(grid.to_json())["cells"] == [[3, 4, 12.5]]
    with pytest.raises(ContractError):
        parse_aggregate(grid.to_json().replace(b"[3,4,12.5]", b"[3,4]"))


def test_live_message_validates():
    live = LiveMessage(
        store="s1", sent_at=T0, cell_m=1.0, people=2, zones=[], cells=[(0, 0, 2)], cameras=["c1"]
    )
    assert parse_message(LiveMessage, live.to_json()) == live
    with pytest.raises(ContractError):
        parse_message(LiveMessage, b'{"store": "s1"}')


def _with(**over) -> bytes:
    return json.dumps({**json.loads(zones_message().to_json()), **over}).encode()


def _zone(**over) -> list[dict]:
    return [{**json.loads(zones_message().to_json())["zones"][0], **over}]


def _grid(**over) -> bytes:
    grid = GridAggregate(
        store="s1", camera="c1", bucket_start=T0, bucket_s=60, covered_s=60, cell_m=0.5, cells=[(3, 4, 12.5)]
    )
    return json.dumps({**json.loads(grid.to_json()), **over}).encode()


@pytest.mark.parametrize(
    "payload, says",
    [
        (b"[" * 100_000, "RecursionError"),
        (b'{"a":' * 50_000, "RecursionError"),
        (b'{"schema_version": 1, "n": ' + b"9" * 10_000 + b"}", "digits"),
        (bytes(range(256)) * 10, "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b" " * (MAX_PAYLOAD_BYTES + 1), "exceeds 1048576"),
        (_grid(cells=[[2**31, 0, 1.0]]), "cells.0.0"),
        (_grid(cells=[[0, 0, float("nan")]]), "finite"),
        (_grid(cells=[[0, 0, 1e300]]), "person_seconds"),
        (_grid(cell_m=1e999), "cell_m"),
        (_grid(cells=[[0, 0, 0.1]] * (MAX_CELLS + 1)), "at most 65536"),
        (_with(zones=_zone(entries=2**70)), "entries"),
        (_with(zones=_zone(entries=3001)), "entries = 3001 exceeds 3000"),
        (_with(zones=_zone(mean_occupancy=1001)), "mean_occupancy"),
        (_with(zones=_zone(dwells_s=[1e9])), "dwells_s"),
        (_with(zones=_zone(person_seconds=60_001)), "person_seconds"),
        (_with(covered_s=61), "covered_s = 61 exceeds 60"),
        (_with(bucket_start="9999-12-31T23:00:00-05:00"), "years 1 to 9999"),
        (_with(zones=[[[[[[]]]]]]), "zones.0"),
        (_with(zones=_zone() * (MAX_NAMES + 1)), "at most 256"),
        (_with(schema_version="1" * 5000), "unsupported schema_version"),
        (_with(zones=_zone() * 2), "zones.1: 'till' is listed twice"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_hostile_payloads_raise_contract_errors_only(payload, says):
    """Whatever the bytes, the only exception is a ContractError that names the problem."""
    with pytest.raises(ContractError, match=says) as caught:
        parse_aggregate(payload, agg_topic("s1", "c1"))
    assert caught.value.code == "contract"
    assert len(str(caught.value)) < 1000


def test_limits_scale_with_the_bucket():
    """What is impossible in a minute can happen in an hour: limits are per second of bucket."""
    hour = zones_message(bucket_s=3600, covered_s=3600, zones=[])
    entries = json.loads(hour.to_json()) | {"zones": _zone(entries=3001)}
    assert parse_aggregate(json.dumps(entries)).zones[0].entries == 3001


def test_the_clock_window_is_the_receivers():
    message = zones_message()
    check_clock(message, T0 + timedelta(days=13), max_age=timedelta(days=14))
    check_clock(message, T0 - timedelta(minutes=5), max_age=timedelta(days=14))
    for now, says in [
        (T0 - timedelta(minutes=5, seconds=1), "301 s ahead"),
        (T0 + timedelta(days=14, seconds=1), "more than 14 days before"),
    ]:
        with pytest.raises(ContractError, match=says) as caught:
            check_clock(message, now, max_age=timedelta(days=14))
        assert caught.value.code == "clock"


def test_status_payloads_raise_contract_errors_only():
    for payload in (b"[" * 100_000, b"\xff", b'{"status": 1}', b" " * (MAX_PAYLOAD_BYTES + 1)):
        with pytest.raises(ContractError):
            parse_message(StatusMessage, payload)
