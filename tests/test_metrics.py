from datetime import UTC, datetime

import httpx

from edge.metrics import EdgeMetrics
from footfall_core.contract import DeviceHealth, HealthAggregate

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_metrics_endpoint_reports_camera_and_outbox_figures():
    metrics = EdgeMetrics()
    for _ in range(2):
        metrics.observe_health(
            HealthAggregate(
                store="s1",
                camera="cam1",
                bucket_start=T0,
                bucket_s=60,
                covered_s=60,
                frames_read=420,
                frames_analysed=300,
                frames_dropped=120,
                detector_ms_mean=17.5,
                detector_ms_max=40.0,
                source_status="reconnecting",
                reconnects=1,
            )
        )
    metrics.observe_device(
        DeviceHealth(
            store="s1",
            sent_at=T0,
            outbox_depth=12,
            outbox_dropped=3,
            published=99,
            connected=False,
            cameras={"cam1": "ok"},
        )
    )
    server, _ = metrics.serve(0)  # the server binds a free port itself
    try:
        text = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics").text
    finally:
        server.shutdown()
    assert 'footfall_frames_read_total{camera="cam1"} 840.0' in text
    assert 'footfall_frames_dropped_total{camera="cam1"} 240.0' in text
    assert 'footfall_analysed_fps{camera="cam1"} 5.0' in text
    assert 'footfall_detector_latency_ms{camera="cam1"} 17.5' in text
    assert "footfall_outbox_depth 12.0" in text and "footfall_outbox_dropped 3.0" in text
    assert 'footfall_source_status{camera="cam1",status="ok"} 1.0' in text
    assert 'footfall_source_status{camera="cam1",status="reconnecting"} 0.0' in text
    assert "footfall_broker_connected 0.0" in text
