"""Only aggregates leave the shop: every message the pipeline emits on real footage (aggregates
and live) is checked for anything that could carry pixels, boxes or track ids. The allowed
keys are listed here on purpose, not taken from the contract: widening what leaves the shop
must be a conscious change to this test."""

from __future__ import annotations

import base64
import json
import re

import pytest

from tests.pipeline_runs import run_example

COMMON = {"schema_version", "store", "camera", "bucket_start", "bucket_s", "covered_s", "simulated", "kind"}
ALLOWED = {
    "grid": COMMON | {"cell_m", "cells"},
    "zones": COMMON | {"zones"},
    "lines": COMMON | {"lines"},
    "flows": COMMON | {"flow_cell_m", "transitions", "directions"},
    "health": COMMON
    | {
        "frames_read",
        "frames_analysed",
        "frames_dropped",
        "detector_ms_mean",
        "detector_ms_max",
        "source_status",
        "reconnects",
    },
    "live": {"schema_version", "store", "sent_at", "cell_m", "people", "zones", "cells", "cameras"},
}
NESTED = {
    "zones": {
        "zone",
        "mean_occupancy",
        "max_occupancy",
        "person_seconds",
        "entries",
        "dwells_s",
        "occupancy",
    },
    "lines": {"line", "in_count", "out_count"},
    "transitions": {"from_zone", "to_zone", "count"},
}
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
MAX_PLAIN_LIST = 8  # a direction histogram; anything longer must be one of the known shapes


def problems(payload: dict, grid_cells: tuple[int, int]) -> list[str]:
    """Everything in one decoded payload that is not a known aggregate figure. `grid_cells`
    bounds cell indices (cols, rows of the finest grid): pixel coordinates would exceed it."""
    found: list[str] = []
    kind = payload.get("kind", "live")
    unknown = set(payload) - ALLOWED.get(kind, set())
    if unknown:
        found.append(f"{kind}: unknown keys {sorted(unknown)}")

    def cell(where: str, item) -> None:
        if not (isinstance(item, list) and len(item) == 3 and all(isinstance(v, int) for v in item[:2])):
            found.append(f"{where}: {str(item)[:60]} is not [ix, iy, value]")
            return
        if not (0 <= item[0] < grid_cells[0] and 0 <= item[1] < grid_cells[1]):
            found.append(f"{where}: cell index {item[:2]} off the floor grid")
        value = item[2]
        if kind == "flows":
            if not (isinstance(value, list) and len(value) == 8 and all(isinstance(v, int) for v in value)):
                found.append(f"{where}: direction histogram {str(value)[:60]} is not 8 counts")
        elif not isinstance(value, (int, float)):
            found.append(f"{where}: cell value {str(value)[:60]} is not a number")

    def walk(where: str, value) -> None:
        key = where.rsplit(".", 1)[-1]
        if isinstance(value, dict):
            extra = set(value) - NESTED.get(key, set())
            if extra:
                found.append(f"{where}: unknown keys {sorted(extra)}")
            for k, v in value.items():
                walk(f"{where}.{k}", v)
        elif isinstance(value, list):
            if key in ("cells", "directions"):
                for item in value:
                    cell(where, item)
            elif key in ("zones", "lines", "transitions", "dwells_s", "cameras"):
                for item in value:
                    walk(where, item)
            elif len(value) > MAX_PLAIN_LIST:
                found.append(f"{where}: a list of {len(value)} values")
        elif isinstance(value, str):
            if not (NAME.match(value) or UTC.match(value)):
                found.append(f"{where}: string {value[:40]!r} is neither a name nor a UTC time")
        elif not isinstance(value, (int, float, bool)) and value is not None:
            found.append(f"{where}: unexpected {type(value).__name__}")

    for k, v in payload.items():
        walk(k, v)
    return found


@pytest.fixture(scope="module")
def run():
    return run_example("pets09", "view001")


@pytest.mark.slow
def test_nothing_but_aggregates_leaves_the_pipeline(run):
    plan, a = run.config.floor_plan, run.config.analysis
    finest = min(a.cell_m, a.flow_cell_m, a.live_cell_m)
    bounds = (int(plan.width_m / finest) + 1, int(plan.height_m / finest) + 1)
    kinds = set()
    for message in run.messages:
        payload = message.to_json()
        assert len(payload) < 64_000, "no payload is large enough to hold an image"
        decoded = json.loads(payload)
        kinds.add(decoded.get("kind", "live"))
        assert problems(decoded, bounds) == [], decoded
    assert kinds == set(ALLOWED), "every kind of message was checked"


FORGED = [
    {"kind": "grid", "cells": [[1, 2, 0.5]], "track_ids": [3, 4]},
    {"kind": "grid", "cells": [[1, 2, 0.5], [300, 400, 1.0]]},
    {"kind": "grid", "cells": [[1, 2, [12.0, 40.0, 80.0, 200.0]]]},
    {"kind": "zones", "zones": [{"zone": "a", "entries": 1, "boxes": [[1, 2, 3, 4]]}]},
    {"kind": "health", "frames_read": list(range(100))},
    {"kind": "health", "source_status": base64.b64encode(bytes(range(48))).decode()},
    {"kind": "flows", "directions": [[1, 1, [0, 1, 2]]]},
]


@pytest.mark.parametrize("payload", FORGED)
def test_the_check_catches_forged_leaks(payload):
    assert problems(payload, (50, 50)) != []
