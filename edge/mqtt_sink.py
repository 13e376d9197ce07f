"""The MQTT `Sink` (edge/sinks.py) for `python -m edge replay --mqtt` and `run --mqtt`.

Aggregates go through the durable outbox (`<state_dir>/<mqtt.outbox_path>`), per-camera live
snapshots through the store's LiveMerger; `close()` waits up to `drain_timeout_s` for the broker
to acknowledge what is left, and whatever is still unacknowledged stays on disk for the next run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edge.publisher import build_publisher
from footfall_core.contract import LiveMessage
from footfall_core.store import StoreConfig

if TYPE_CHECKING:
    from edge.sinks import Sink


class MqttSink:
    def __init__(
        self,
        config: StoreConfig,
        url: str | None = None,
        state_dir: Path | str = ".",
        drain_timeout_s: float = 30.0,
    ) -> None:
        if url:
            config = config.model_copy(update={"mqtt": config.mqtt.model_copy(update={"url": url})})
        self.publisher = build_publisher(config, str(state_dir)).start()
        self.drain_timeout_s = drain_timeout_s

    def aggregate(self, message) -> None:
        self.publisher.publish_aggregate(message)
        if message.kind == "health":  # what DeviceHealth reports per camera
            self.publisher.set_camera_state(message.camera, message.source_status)

    def live(self, message: LiveMessage) -> None:
        self.publisher.camera_live(message)

    def close(self) -> None:
        self.publisher.close(self.drain_timeout_s)
        self.publisher.outbox.close()


class Both:
    """Hands every message to two sinks (replay: a JSONL file and the broker)."""

    def __init__(self, first: Sink, second: Sink) -> None:
        self.sinks = (first, second)

    def aggregate(self, message) -> None:
        for sink in self.sinks:
            sink.aggregate(message)

    def live(self, message: LiveMessage) -> None:
        for sink in self.sinks:
            sink.live(message)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
