import json
from datetime import UTC, datetime

import pytest

from footfall_core.contract import (
    ContractError,
    GridAggregate,
    LiveMessage,
    ZonesAggregate,
    ZoneStats,
    agg_topic,
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
