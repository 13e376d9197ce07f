"""One camera, end to end: source → rate gate → detector → tracker → floor → analytics → buckets.

`CameraPipeline(config, camera).run()` yields, in time order:
- the five contract aggregates of every closed bucket (`edge.aggregator`), and of the final
  partial bucket when the source ends or `stop()` is called;
- the camera's own `LiveMessage` every `analysis.live_interval_s`;
- a `Heartbeat` at least every `HEARTBEAT_S` of wall time, also while the source reconnects,
  so a supervisor can tell a hung loop from a quiet shop.

Coordinate frames: detections are image pixels; people are placed where their feet are (the
bottom centre of the box), projected to floor metres by the camera's homography. A person is
kept only if the feet are inside `image_mask_px` (when given), project below the horizon, and
fall on floor cells this camera owns (`edge.floor`), so that overlapping cameras do not count
the same person twice. A person the tracker lost behind someone found in front of them is
still counted for occupancy and heat for a moment, without a track id (`edge.hidden`,
`analysis.hidden_hold_s`). A camera run in its store's fusion group (`fused=True`, by the
supervisor) counts nobody itself: it yields its people's floor measurements every analysed
frame (`edge.fusion.measure`) for the group's stage in the supervisor, and health aggregates.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator

import numpy as np

from edge.aggregator import AggregateMessage, Aggregator
from edge.analytics import Live
from edge.detector import Detector
from edge.feed import FrameFeed
from edge.floor import CameraView, OwnedFloor
from edge.floor_tracks import FEET_SIGMA, FLOOR_SIGMA_M, LOST_TRACK_S, FloorTracks
from edge.frame_size import FrameSizeGuard
from edge.fusion import feet_covariance, measure
from edge.gating import GatedDetector, PassDetector
from edge.hidden import hidden
from edge.source import RateGate, open_source
from edge.tracker import ACTIVATION_CONFIDENCE, Tracker, joined
from edge.types import Detections, FloorMeasurements, FloorObservation, Frame, Heartbeat, Tracks
from footfall_core.contract import AGGREGATE_KINDS, LiveMessage
from footfall_core.floor import ZoneMap
from footfall_core.geometry import CameraGeometry
from footfall_core.store import ConfigError, StoreConfig

HEARTBEAT_S = 1.0  # most wall time between two heartbeats


Message = AggregateMessage | LiveMessage | Heartbeat | FloorMeasurements


def recording_config(
    config: StoreConfig, camera: str, source: str | None = None, start: str | None = None
) -> StoreConfig:
    """`config` with `camera` replaying a recording once, as fast as it can (not paced, no loop),
    optionally from another `source` and with its first frame at `start` (ISO time), so that
    a replay lands in reproducible buckets."""
    update: dict[str, object] = {"realtime": False, "loop": False}
    if source is not None:
        update["source"] = source
    if start is not None:
        update["start_time"] = start
    chosen = config.camera(camera).name
    cameras = [c.model_copy(update=update) if c.name == chosen else c for c in config.cameras]
    return config.model_copy(update={"cameras": cameras})


class CameraPipeline:
    """Runs one camera of a store; `run()` is a generator, `stop()` ends it from any thread
    (the open bucket is still flushed). `detector` may be passed to share a loaded model.
    `frame_sizes` gives the (width, height) px of the store's other cameras, which floor
    ownership needs; cameras left out do not take part in it (see `edge.floor`). `fused`: the
    camera is run in its fusion group (see the module docstring)."""

    def __init__(
        self,
        config: StoreConfig,
        camera_name: str,
        *,
        detector: PassDetector | None = None,
        frame_sizes: dict[str, tuple[int, int]] | None = None,
        fused: bool = False,
    ) -> None:
        self.config = config
        self.camera = config.camera(camera_name)
        self.fusion = config.fusion_of(self.camera.name) if fused else None
        if fused and self.fusion is None:
            raise ConfigError(
                f"{config.path or 'config'}: fusion: camera {self.camera.name!r} is in no group"
            )
        a = config.analysis
        self.geometry = CameraGeometry.from_config(self.camera)
        # the model over the camera's tile plan, worked out from its calibration
        self.detector = detector or Detector.for_camera(self.camera, config, self.geometry)
        # boxes under it only continue a track (`detector.track_score_threshold`, `edge.tracker.joined`)
        detector_config = config.detector_for(self.camera)
        self._score_threshold = detector_config.score_threshold
        self._low_boxes = detector_config.track_score_threshold is not None  # always under score_threshold
        # motion gating, adaptive rate and the tiles' rate (edge.gating), on the people inside the image mask
        self.gate = GatedDetector.from_analysis(
            self.detector,
            config.analysis_for(self.camera),
            self.camera.tiling.tiles_every if self.camera.tiling else 1,
            keep=self._inside_mask,
            score_threshold=self._score_threshold,
        )
        # ByteTrack keeps a lost track for re-association at most as long as the analytics keep its state
        self.tracker = Tracker(
            frame_rate=a.fps,
            lost_track_s=min(LOST_TRACK_S, a.track_timeout_s),
            kind=a.tracker,
            feet_on_floor=self._feet_on_floor,
            # a box under the score threshold starts no track, however high the threshold is set
            activation_confidence=max(ACTIVATION_CONFIDENCE, self._score_threshold),
        )
        self.aggregator = Aggregator(
            config, self.camera.name, ("health",) if self.fusion is not None else AGGREGATE_KINDS
        )
        self.live = Live(
            config.store.id,
            self.camera.name,
            config.floor_plan,
            config.zones,
            a.live_cell_m,
            a.live_interval_s,
        )
        self.mask_px = ZoneMap([self.camera.image_mask_px]) if self.camera.image_mask_px else None
        self.floor = OwnedFloor(config, camera_name, self.geometry, frame_sizes)
        # people followed on the floor, tracks the tracker broke joined within the analytics' timeout
        self.floor_tracks = FloorTracks(a.walk_accel_m_s2, a.track_timeout_s, in_view=self._in_view)
        self.frame_size_px: tuple[int, int] | None = None
        self._view: CameraView | None = None  # what the camera sees, once its frame size is known
        self.size_guard = FrameSizeGuard(self.camera.name, self.camera.calibration.image_size_px)
        self.frames_read = 0
        self.frames_analysed = 0
        self._feed: FrameFeed | None = None
        self._last_analysed_s: float | None = None
        self._source_skipped = self._feed_dropped = self._reconnects = self._source_corrupt = (
            0  # totals already booked into a bucket
        )

    # -- the frame loop --------------------------------------------------------------------------

    def run(self) -> Iterator[Message]:
        a = self.config.analysis
        source = open_source(self.camera, self.config, admit=RateGate(a.fps).admit)
        # a burst holds burst_s of admitted frames (depth also bounds what a slow loop keeps)
        self._feed = feed = FrameFeed(
            source,
            drop_stale=source.live or self.camera.realtime,
            burst_s=a.burst_s,
            depth=max(2, math.ceil(a.fps * a.burst_s) + 1),
        )
        last_beat_s = 0.0
        try:
            for frame in feed:
                yield from self._account(source, feed, frame)
                if frame is not None and (frame := self._fitted(frame)) is not None:
                    yield from self._analyse(frame)
                if time.monotonic() - last_beat_s >= HEARTBEAT_S:
                    last_beat_s = time.monotonic()
                    yield Heartbeat(self.camera.name, time.time(), self._status(source), self.frame_size_px)
        finally:  # also when the consumer abandons the generator: then nothing more is yielded
            feed.close()
        self._book_unseen(feed)
        self.aggregator.source_status = self._status(source)
        end_s = self._last_analysed_s if self._last_analysed_s is not None else time.time()
        yield from self.aggregator.flush(end_s)

    def update_frame_sizes(self, frame_sizes: dict[str, tuple[int, int]]) -> None:
        """Other cameras' frame sizes learned later (from any thread): ownership is rebuilt at
        the next frame (`OwnedFloor.update_frame_sizes`)."""
        self.floor.update_frame_sizes(frame_sizes)

    def stop(self) -> None:
        """End `run()` soon (from any thread or a signal handler); it flushes the open bucket."""
        if self._feed is not None:
            self._feed.close()

    def _account(self, source, feed: FrameFeed, frame: Frame | None) -> list[AggregateMessage]:
        """Health bookkeeping for one loop turn; closes the bucket when time has moved past it
        (by frame time, or by wall clock for a live source that delivers nothing)."""
        agg = self.aggregator
        closed = []
        if frame is not None:
            closed = agg.advance(frame.timestamp_s)
            agg.health.frames_read += 1
            self.frames_read += 1
        elif source.live or self.camera.realtime:
            closed = agg.advance(time.time())
        agg.source_status = self._status(source)
        self._book_unseen(feed)
        agg.health.reconnects += source.reconnects - self._reconnects
        self._reconnects = source.reconnects
        return closed

    def _status(self, source) -> str:
        """The source's status, or "error" while its frames do not fit the calibration."""
        return "error" if self.size_guard.error is not None and source.status == "ok" else source.status

    def _fitted(self, frame: Frame) -> Frame | None:
        """The frame at the calibration's size; None (counted as dropped) when it cannot be."""
        image = self.size_guard.fit(frame.image)
        if image is None:
            self.aggregator.health.frames_dropped += 1
            return None
        return frame if image is frame.image else dataclasses.replace(frame, image=image)

    def _book_unseen(self, feed: FrameFeed) -> None:
        """Frames the source grabbed but the loop never saw: skipped by the rate gate (never
        converted), dropped by the reader as damaged, or dropped as stale by the feed. Booked
        when the loop turns (the reader runs ahead, so a frame or two may land in a bucket next
        to their own) and once more at the end."""
        source = feed.source
        skipped, stale = source.skipped - self._source_skipped, feed.dropped - self._feed_dropped
        corrupt = source.corrupt - self._source_corrupt
        self.aggregator.health.frames_read += skipped + stale + corrupt
        self.aggregator.health.frames_dropped += skipped + stale + corrupt
        self.frames_read += skipped + corrupt
        self._source_skipped, self._feed_dropped = source.skipped, feed.dropped
        self._source_corrupt = source.corrupt

    def _analyse(self, frame: Frame) -> Iterator[Message]:
        gated = self.gate(frame)
        self.aggregator.health.analysed(gated.latency_ms)
        self.frames_analysed += 1
        self._frame_size(frame)  # the tracker's floor matching needs it
        tracks = self.tracker.update(gated.detections, frame.timestamp_s)
        if self._low_boxes:
            tracks = joined(tracks, self._score_threshold)
        if self.fusion is not None:
            yield from self._measure(tracks, frame)
            return
        obs = self._to_floor(self._with_hidden(tracks), frame)
        yield from self.aggregator.observe(obs)
        live = self.live.observe(obs, self.aggregator.zones.leaving_per_min(obs.timestamp_s))
        if live is not None:
            yield live

    # -- stages ----------------------------------------------------------------------------------

    def _inside_mask(self, detections: Detections) -> Detections:
        """Only people whose feet are inside the camera's image mask (image pixels)."""
        if self.mask_px is None or len(detections) == 0:
            return detections
        return detections[self.mask_px.inside(detections.feet_xy)[:, 0]]

    def _feet_on_floor(self, xyxy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The tracker's `FeetOnFloor`: boxes' feet on the floor (m) and their covariance (m²),
        as `_to_floor` measures them for the floor filter."""
        assert self.frame_size_px is not None, "set by `_analyse` before the tracker runs"
        boxes = Detections(np.asarray(xyxy_px, np.float64), np.ones(len(xyxy_px)))
        floor_xy = self.geometry.image_to_floor(boxes.feet_xy)
        cov_m2 = feet_covariance(self.geometry, boxes, self.frame_size_px, FEET_SIGMA, FLOOR_SIGMA_M)
        return floor_xy, cov_m2

    def _in_view(self, floor_xy: np.ndarray) -> np.ndarray:
        """(K,) bool: which floor points (K, 2) m this camera sees (`CameraView`); every point
        until the first frame gives the frame's size."""
        if self.frame_size_px is None:
            return np.ones(len(floor_xy), bool)
        if self._view is None or self._view.frame_size_px != self.frame_size_px:
            self._view = CameraView(self.camera, self.geometry, self.frame_size_px)
        return self._view.sees(floor_xy)

    def _with_hidden(self, tracks: Tracks) -> Tracks:
        """`tracks` and after them, as rows without a track id, the people the tracker lost
        within `analysis.hidden_hold_s` who are hidden behind someone found in front of them
        (`edge.hidden`), where their feet are inside the image mask."""
        hold_s = self.config.analysis.hidden_hold_s
        if hold_s <= 0 or not len(tracks):  # nobody found: nobody in front of anyone
            return tracks
        lost_xyxy, lost_s = self.tracker.lost(hold_s)
        if not len(lost_xyxy):
            return tracks
        found = tracks.detections
        behind = hidden(lost_xyxy, lost_s, found.xyxy, self.config.detector.nms_iou)
        if not behind.any():
            return tracks
        held = self._inside_mask(Detections(lost_xyxy[behind], np.zeros(int(behind.sum()))))
        if not len(held):
            return tracks
        everyone = Detections(
            np.concatenate([found.xyxy, held.xyxy]), np.concatenate([found.confidence, held.confidence])
        )
        return Tracks(everyone, np.concatenate([tracks.track_id, np.full(len(held), -1, np.int64)]))

    def _to_floor(self, tracks: Tracks, frame: Frame) -> FloorObservation:
        """Feet (image px) → floor metres, and each followed person's filtered position for the
        lines (edge.floor_tracks); keeps people below the horizon on owned floor cells."""
        size = self._frame_size(frame)
        floor_xy, keep = self.floor.project(tracks, size)
        cov_m2 = feet_covariance(self.geometry, tracks.detections, size, FEET_SIGMA, FLOOR_SIGMA_M)
        people = self.floor_tracks.update(frame.timestamp_s, tracks.track_id, floor_xy, cov_m2)
        return FloorObservation(
            timestamp_s=frame.timestamp_s,
            dt_s=self._dt_s(frame),
            floor_xy=floor_xy[keep],
            track_id=people.person_id[keep],
            track_state=people.state[keep],
            track_state_cov=people.state_cov[keep],
        )

    def _measure(self, tracks: Tracks, frame: Frame) -> Iterator[Message]:
        """A fused camera's frame: its time goes into its own (health) bucket, its people's
        floor measurements to the group."""
        size = self._frame_size(frame)
        yield from self.aggregator.observe(
            FloorObservation(frame.timestamp_s, self._dt_s(frame), np.zeros((0, 2)))
        )
        f = self.fusion
        yield measure(
            self.camera.name,
            frame.timestamp_s,
            self.geometry,
            tracks.detections,
            tracks.track_id,
            size,
            f.feet_sigma,
            f.floor_sigma_m,
        )

    def _frame_size(self, frame: Frame) -> tuple[int, int]:
        height, width = frame.image.shape[:2]
        self.frame_size_px = (width, height)
        return self.frame_size_px

    def _dt_s(self, frame: Frame) -> float:
        """The time since the previous analysed frame, capped at analysis.max_dt_s."""
        a = self.config.analysis
        previous_s, self._last_analysed_s = self._last_analysed_s, frame.timestamp_s
        dt_s = 1.0 / a.fps if previous_s is None else frame.timestamp_s - previous_s
        return min(max(dt_s, 0.0), a.max_dt_s)
