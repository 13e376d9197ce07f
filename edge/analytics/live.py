"""Live occupancy of one camera: who is where *now*, every `live_interval_s`, as a LiveMessage.

Not history (aggregates are): the message reflects the latest analysed frame only. It lists
this camera alone (`cameras=[name]`); merging a store's cameras is the publisher's job.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from edge.types import FloorObservation
from footfall_core.contract import LiveMessage, LiveZone
from footfall_core.floor import ZoneMap, cell_sums
from footfall_core.store import FloorPlan, Zone


class Live:
    """`observe(obs)` returns a LiveMessage when `interval_s` has passed since the last one
    (by observation time, seconds), else None. Counts per `cell_m` floor cell from origin_m."""

    def __init__(
        self, store: str, camera: str, plan: FloorPlan, zones: list[Zone], cell_m: float, interval_s: float
    ) -> None:
        self.store, self.camera = store, camera
        self.plan, self.zones = plan, list(zones)
        self.zone_map = ZoneMap([z.polygon_m for z in self.zones])
        self.cell_m, self.interval_s = cell_m, interval_s
        self._last_sent_s = float("-inf")

    def observe(
        self, obs: FloorObservation, leaving_per_min: dict[str, float] | None = None
    ) -> LiveMessage | None:
        """`leaving_per_min`: per queue zone, its rate of people leaving (Zones.leaving_per_min)."""
        if obs.timestamp_s - self._last_sent_s < self.interval_s:
            return None
        self._last_sent_s = obs.timestamp_s
        counts = cell_sums(obs.floor_xy, self.plan, self.cell_m, 1.0)
        occupancy = np.count_nonzero(self.zone_map.inside(obs.floor_xy), axis=0)
        return LiveMessage(
            store=self.store,
            sent_at=datetime.fromtimestamp(obs.timestamp_s, tz=UTC),
            cell_m=self.cell_m,
            people=len(obs),
            zones=[
                LiveZone(zone=z.name, occupancy=int(n), left_per_min=(leaving_per_min or {}).get(z.name))
                for z, n in zip(self.zones, occupancy)
            ],
            cells=[(ix, iy, int(n)) for (ix, iy), n in sorted(counts.items())],
            cameras=[self.camera],
        )
