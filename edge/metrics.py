"""Prometheus metrics of an edge device, served on /metrics by `python -m edge run --metrics-port`.

Fed from what already flows through the supervisor (each camera's health aggregate, the
publisher's device health), so the frame loop does no extra work for them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from footfall_core.contract import DeviceHealth, HealthAggregate

SOURCE_STATES = ("ok", "reconnecting", "ended", "error", "stalled")


class EdgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r, cam = self.registry, ["camera"]
        self.frames_read = Counter("footfall_frames_read", "Frames read from the source", cam, registry=r)
        self.frames_analysed = Counter(
            "footfall_frames_analysed", "Frames run through the detector", cam, registry=r
        )
        self.frames_dropped = Counter(
            "footfall_frames_dropped", "Frames not analysed (rate gate or late)", cam, registry=r
        )
        self.analysed_fps = Gauge(
            "footfall_analysed_fps", "Frames analysed per second over the last bucket", cam, registry=r
        )
        self.detector_ms = Gauge(
            "footfall_detector_latency_ms", "Mean detector latency over the last bucket", cam, registry=r
        )
        self.detector_ms_max = Gauge(
            "footfall_detector_latency_max_ms", "Worst detector latency over the last bucket", cam, registry=r
        )
        self.reconnects = Counter("footfall_source_reconnects", "Source reconnections", cam, registry=r)
        self.source_status = Gauge(
            "footfall_source_status", "1 for the camera's current source status", cam + ["status"], registry=r
        )
        self.outbox_depth = Gauge(
            "footfall_outbox_depth", "Aggregates the centre has not confirmed yet", registry=r
        )
        self.outbox_dropped = Gauge(
            "footfall_outbox_dropped",
            "Aggregates dropped by the outbox's bounds, a full disk or a broker refusal (since install)",
            registry=r,
        )
        self.published = Gauge("footfall_published", "Aggregates the centre confirmed (this run)", registry=r)
        self.connected = Gauge("footfall_broker_connected", "1 while connected to the broker", registry=r)

    def set_source_status(self, camera: str, status: str) -> None:
        for state in SOURCE_STATES:
            self.source_status.labels(camera, state).set(1 if state == status else 0)

    def observe_health(self, health: HealthAggregate) -> None:
        camera = health.camera
        self.frames_read.labels(camera).inc(health.frames_read)
        self.frames_analysed.labels(camera).inc(health.frames_analysed)
        self.frames_dropped.labels(camera).inc(health.frames_dropped)
        self.reconnects.labels(camera).inc(health.reconnects)
        self.analysed_fps.labels(camera).set(
            health.frames_analysed / health.covered_s if health.covered_s else 0
        )
        self.detector_ms.labels(camera).set(health.detector_ms_mean)
        self.detector_ms_max.labels(camera).set(health.detector_ms_max)
        self.set_source_status(camera, health.source_status)

    def observe_device(self, device: DeviceHealth) -> None:
        self.outbox_depth.set(device.outbox_depth)
        self.outbox_dropped.set(device.outbox_dropped)
        self.published.set(device.published)
        self.connected.set(1 if device.connected else 0)
        for camera, status in device.cameras.items():
            self.set_source_status(camera, status)

    def metered(self, sink):
        """Wrap a Sink so that every camera health aggregate passing through updates the metrics."""
        return _MeteredSink(sink, self)

    def serve(self, port: int, address: str = "127.0.0.1"):
        """Start the /metrics HTTP server in a daemon thread; returns (server, thread)."""
        return start_http_server(port, addr=address, registry=self.registry)


class _MeteredSink:
    def __init__(self, sink, metrics: EdgeMetrics) -> None:
        self.sink, self.metrics = sink, metrics

    def aggregate(self, message) -> None:
        if isinstance(message, HealthAggregate):
            self.metrics.observe_health(message)
        self.sink.aggregate(message)

    def live(self, message) -> None:
        self.sink.live(message)

    def close(self) -> None:
        self.sink.close()
