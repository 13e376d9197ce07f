"""Where a pipeline's messages go. A `Sink` takes aggregates and live messages; the MQTT
publisher (edge/publisher.py) is one, the JSONL files below are another (replay, tests, and
`run --out` before a broker is set up). Payloads are exactly `msg.to_json()`, the bytes the
publisher sends."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Protocol

from edge.aggregator import AggregateMessage
from footfall_core.contract import LiveMessage


class Sink(Protocol):
    def aggregate(self, message: AggregateMessage) -> None: ...

    def live(self, message: LiveMessage) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """One JSON line per aggregate in `aggregates_path`; live messages in `live_path` if given
    (else dropped: live is not history). Lines are flushed as written, so a crash loses none."""

    def __init__(self, aggregates_path: Path | str, live_path: Path | str | None = None) -> None:
        self.aggregates_path = Path(aggregates_path)
        self.aggregates_path.parent.mkdir(parents=True, exist_ok=True)
        self._aggregates: IO[bytes] = open(self.aggregates_path, "ab")
        self._live: IO[bytes] | None = open(live_path, "ab") if live_path else None
        self.count = 0

    def aggregate(self, message: AggregateMessage) -> None:
        self._aggregates.write(message.to_json() + b"\n")
        self._aggregates.flush()
        self.count += 1

    def live(self, message: LiveMessage) -> None:
        if self._live is not None:
            self._live.write(message.to_json() + b"\n")
            self._live.flush()

    def close(self) -> None:
        self._aggregates.close()
        if self._live is not None:
            self._live.close()


class CameraFiles:
    """`run --out DIR`: `DIR/<camera>.agg.jsonl` and `DIR/<camera>.live.jsonl` per camera."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._sinks: dict[str, JsonlSink] = {}

    def _for(self, camera: str) -> JsonlSink:
        if camera not in self._sinks:
            self._sinks[camera] = JsonlSink(
                self.directory / f"{camera}.agg.jsonl", self.directory / f"{camera}.live.jsonl"
            )
        return self._sinks[camera]

    def aggregate(self, message: AggregateMessage) -> None:
        self._for(message.camera).aggregate(message)

    def live(self, message: LiveMessage) -> None:
        self._for(message.cameras[0]).live(message)

    def close(self) -> None:
        for sink in self._sinks.values():
            sink.close()
