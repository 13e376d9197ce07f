"""Per-camera buckets: turns the analytics' running figures into contract messages.

Buckets are `analysis.bucket_s` seconds, aligned to UTC multiples of bucket_s
(`footfall_core.contract.bucket_start`). Every closed bucket yields exactly five aggregates for the
camera, in this order: grid, zones, lines, flows, health. Where overlapping cameras are fused
(`edge.fusion_stage`), each of them yields its health only and the group the four floor kinds.
`covered_s` is the seconds of the bucket actually analysed (sum of the observations' dt_s, at
most bucket_s), so a consumer can tell an empty shop from a camera that was down.

Time is the source's clock (frame timestamps, UTC epoch seconds): a recording replays into
the buckets of its own timeline. `advance(now_s)` closes the open bucket once `now_s` is past
its end (the lines first count their smoothed positions old enough, `edge.analytics.lines`);
`flush(now_s)` closes every open track and the partial bucket (end of a recording, or a stop).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.analytics import Flows, Heatmap, Lines, Zones
from edge.types import FloorObservation
from footfall_core.contract import (
    AGGREGATE_KINDS,
    FlowsAggregate,
    GridAggregate,
    HealthAggregate,
    LinesAggregate,
    ZonesAggregate,
    bucket_start,
    bucket_start_s,
)
from footfall_core.store import StoreConfig

AggregateMessage = GridAggregate | ZonesAggregate | LinesAggregate | FlowsAggregate | HealthAggregate


@dataclass
class HealthCounters:
    """Frame accounting for one bucket. `frames_dropped` = frames read but not analysed (skipped
    by the rate gate to hold analysis.fps, or discarded by the source because analysis lagged)."""

    frames_read: int = 0
    frames_analysed: int = 0
    frames_dropped: int = 0
    reconnects: int = 0
    detector_ms_sum: float = 0.0
    detector_ms_max: float = 0.0

    def analysed(self, detector_ms: float) -> None:
        self.frames_analysed += 1
        self.detector_ms_sum += detector_ms
        self.detector_ms_max = max(self.detector_ms_max, detector_ms)

    @property
    def detector_ms_mean(self) -> float:
        return self.detector_ms_sum / self.frames_analysed if self.frames_analysed else 0.0


FLOOR_KINDS = ("grid", "zones", "lines", "flows")


class Aggregator:
    """Feeds the analytics and emits the aggregates of each closed bucket for one camera, or for
    a fusion group (`camera` is then the group's name). `kinds` (in AGGREGATE_KINDS' order) are
    the aggregates it emits; without any of FLOOR_KINDS it only counts the time observed."""

    def __init__(self, config: StoreConfig, camera: str, kinds: tuple[str, ...] = AGGREGATE_KINDS) -> None:
        a = config.analysis
        if unknown := set(kinds) - set(AGGREGATE_KINDS):
            raise ValueError(
                f"unknown aggregate kind(s) {sorted(unknown)} (have {', '.join(AGGREGATE_KINDS)})"
            )
        self.store, self.camera = config.store.id, camera
        self.kinds = kinds
        self._floor = any(kind in kinds for kind in FLOOR_KINDS)
        self.bucket_s = a.bucket_s
        self.heatmap = Heatmap(config.floor_plan, a.cell_m)
        self.zones = Zones(
            config.zones, a.min_dwell_s, a.zone_exit_grace_s, a.track_timeout_s, a.queue_window_s
        )
        self.lines = Lines(
            config.lines,
            a.line_hysteresis_m,
            a.track_timeout_s,
            a.line_hysteresis_sigmas,
            a.line_smoothing_s,
            a.walk_accel_m_s2,
        )
        self.flows = Flows(config.floor_plan, config.zones, a.flow_cell_m, a.min_step_m, a.track_timeout_s)
        self.health = HealthCounters()
        self.source_status = "ok"  # the source's latest status, reported with each bucket
        self._start_s: float | None = None  # start of the open bucket, UTC epoch seconds
        self._covered_s = 0.0

    def advance(self, now_s: float) -> list[AggregateMessage]:
        """Open the bucket holding `now_s`; returns the aggregates of the bucket it closes, if any."""
        start_s = bucket_start_s(now_s, self.bucket_s)
        if self._start_s is None:
            self._start_s = start_s
        if start_s <= self._start_s:
            return []
        self.lines.catch_up(now_s)
        closed = self._close()
        self._start_s = start_s
        return closed

    def observe(self, obs: FloorObservation) -> list[AggregateMessage]:
        """Feed one analysed frame; returns the aggregates of a bucket it closes, if any."""
        closed = self.advance(obs.timestamp_s)
        self._covered_s += obs.dt_s
        if not self._floor:
            return closed
        inside = self.zones.zone_map.inside(obs.floor_xy)  # (N, Z), shared by zones and flows
        self.heatmap.observe(obs)
        self.zones.observe(obs, inside)
        self.lines.observe(obs)
        self.flows.observe(obs, inside)
        return closed

    def flush(self, now_s: float) -> list[AggregateMessage]:
        """Close every open track and emit the open (partial) bucket: end of a recording or a stop."""
        for analytic in (self.heatmap, self.zones, self.lines, self.flows):
            analytic.end(now_s)
        if self._start_s is None:
            return []
        closed = self._close()
        self._start_s = None
        return closed

    def _close(self) -> list[AggregateMessage]:
        covered_s = round(min(self._covered_s, self.bucket_s), 3)
        common = dict(
            store=self.store,
            camera=self.camera,
            bucket_s=self.bucket_s,
            covered_s=covered_s,
            bucket_start=bucket_start(self._start_s, self.bucket_s),
        )
        transitions, directions = self.flows.collect()
        h = self.health
        messages: list[AggregateMessage] = [
            GridAggregate(**common, cell_m=self.heatmap.cell_m, cells=self.heatmap.collect()),
            ZonesAggregate(**common, zones=self.zones.collect(self._covered_s)),
            LinesAggregate(**common, lines=self.lines.collect()),
            FlowsAggregate(
                **common, flow_cell_m=self.flows.flow_cell_m, transitions=transitions, directions=directions
            ),
            HealthAggregate(
                **common,
                frames_read=h.frames_read,
                frames_analysed=h.frames_analysed,
                frames_dropped=h.frames_dropped,
                detector_ms_mean=round(h.detector_ms_mean, 2),
                detector_ms_max=round(h.detector_ms_max, 2),
                source_status=self.source_status,
                reconnects=h.reconnects,
            ),
        ]
        self.health = HealthCounters()
        self._covered_s = 0.0
        return [message for message in messages if message.kind in self.kinds]
