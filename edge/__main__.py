"""`python -m edge`: replay a recording into aggregates, or run every camera of a store.

    python -m edge replay SOURCE --config STORE.yaml --camera NAME --out AGG.jsonl [--start ISO]
    python -m edge run --config STORE.yaml [--out DIR | --mqtt [URL] --state-dir DIR] [--metrics-port P]
    python -m edge probe URL [--frames N] [--timeout-s S] [--transport tcp|udp]
    python -m edge probe --config STORE.yaml --camera NAME [...]   (with the camera's secrets)

A config, source or calibration problem prints one message naming the file and key (or the
camera and source) and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

from edge.logs import setup_logging
from edge.metrics import EdgeMetrics
from footfall_core.assets import expand
from footfall_core.redact import redact_url
from footfall_core.secrets import camera_source
from footfall_core.store import ConfigError, load_config
from footfall_core.watchdog import Notifier

log = logging.getLogger("edge")

EXIT_CONFIG = 2


def _cli_source(source: str) -> str:
    """A SOURCE argument: ${FOOTFALL_ASSETS} expanded, a file path made absolute from the
    working directory (config paths are relative to the config file instead)."""
    source = expand(source)
    if "://" not in source and not source.isdigit():
        source = str(Path(source).resolve())
    return source


def replay(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from edge.model import use_threads
    from edge.pipeline import CameraPipeline, Heartbeat, recording_config
    from edge.sinks import JsonlSink
    from footfall_core.contract import LiveMessage

    config = recording_config(load_config(args.config), args.camera, _cli_source(args.source), args.start)
    setup_logging(args.log_level, store=config.store.id, camera=args.camera)
    use_threads(config.detector_for(config.camera(args.camera)).threads)
    pipeline = CameraPipeline(config, args.camera)
    sink = files = JsonlSink(args.out)
    if args.mqtt:
        from edge.mqtt_sink import Both, MqttSink

        sink = Both(files, MqttSink(config, args.mqtt, args.state_dir))
    signal.signal(signal.SIGTERM, lambda *_: pipeline.stop())
    started = time.perf_counter()
    with tqdm(unit="frame", file=sys.stderr, desc=args.camera) as bar:
        try:
            for message in pipeline.run():
                if not isinstance(message, (Heartbeat, LiveMessage)):
                    sink.aggregate(message)
                bar.update(pipeline.frames_read - bar.n)
        except KeyboardInterrupt:
            pipeline.stop()
        finally:
            sink.close()
    wall_s = time.perf_counter() - started
    print(
        f"replayed {pipeline.frames_read} frames ({pipeline.frames_analysed} analysed) in {wall_s:.1f} s: "
        f"{pipeline.frames_read / wall_s:.1f} frames/s, "
        f"{pipeline.frames_analysed / wall_s:.1f} analysed/s; "
        f"{files.count} aggregates -> {args.out}"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    from edge.sinks import CameraFiles
    from edge.supervisor import Supervisor

    config = load_config(args.config)
    setup_logging(args.log_level, store=config.store.id)
    for camera in config.cameras:  # a missing or unreadable camera secret stops the start, named
        camera_source(config, camera)
    if args.mqtt:
        from edge.mqtt_sink import MqttSink

        sink = MqttSink(config, None if args.mqtt == "config" else args.mqtt, args.state_dir)
    else:
        sink = CameraFiles(args.out)
    publisher = getattr(sink, "publisher", None)
    if args.metrics_port:
        metrics = EdgeMetrics()
        sink = metrics.metered(sink)
        if publisher is not None:
            publisher.on_health = metrics.observe_device
        metrics.serve(args.metrics_port, args.metrics_address)
        log.info("metrics on http://%s:%d/metrics", args.metrics_address, args.metrics_port)
    supervisor = Supervisor(
        config,
        sink,
        log_level=args.log_level,
        stall_after_s=args.stall_after_s,
        notifier=Notifier(),
        on_camera_state=None if publisher is None else publisher.set_camera_state,
    )
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: stopping.append("SIGINT"))
    log.info("running %d camera(s), aggregates to %s", len(config.cameras), "MQTT" if args.mqtt else args.out)
    supervisor.run(lambda: bool(stopping))
    log.info("stopped (%s)", stopping[0] if stopping else "every source ended")
    return 0


def probe(args: argparse.Namespace) -> int:
    from edge.probe import ProbeError
    from edge.probe import probe as probe_camera

    if (args.url is None) == (args.config is None) or (args.config is None) != (args.camera is None):
        print("error: probe takes a URL, or --config STORE.yaml --camera NAME", file=sys.stderr)
        return EXIT_CONFIG
    if args.config is not None:  # the camera's own source, with the user and password of its secrets
        config = load_config(args.config)
        camera = config.camera(args.camera)
        url, transport = camera_source(config, camera), args.transport or camera.rtsp_transport
    else:
        url, transport = _cli_source(args.url), args.transport or "tcp"
    try:
        result = probe_camera(url, frames=args.frames, timeout_s=args.timeout_s, transport=transport)
    except ProbeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print("\n".join(result.lines()))
    return 0 if result.edge_reader_ok else EXIT_CONFIG


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge", description=__doc__.split("\n")[0])
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("replay", help="process a recording as fast as possible into aggregates (JSONL)")
    p.add_argument("source", help="video file, image pattern (frames/seq_%%06d.jpg) or stream URL")
    p.add_argument("--config", required=True, help="store YAML")
    p.add_argument("--camera", required=True, help="camera of the store whose calibration applies")
    p.add_argument("--out", required=True, help="output JSONL, one aggregate payload per line (appended)")
    p.add_argument("--start", help="ISO time of the first frame (default: the camera's start_time, else now)")
    p.add_argument(
        "--mqtt", metavar="URL", help="also publish the aggregates to this broker, through the outbox"
    )
    p.add_argument("--state-dir", default=".", help="directory of the MQTT outbox (default .)")
    p.add_argument("--log-level", default=argparse.SUPPRESS, help="as above, after the command")
    p.set_defaults(handler=replay)

    p = commands.add_parser("run", help="run every camera of the store until stopped")
    p.add_argument("--config", required=True, help="store YAML")
    p.add_argument("--out", default="edge-out", help="directory for <camera>.agg.jsonl and .live.jsonl")
    p.add_argument(
        "--mqtt",
        metavar="URL",
        nargs="?",
        const="config",
        help="publish to the broker instead of --out: to URL, or alone for the config's mqtt.url",
    )
    p.add_argument("--state-dir", default=".", help="directory of the MQTT outbox (default .)")
    p.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port (default: off)")
    p.add_argument(
        "--metrics-address", default="127.0.0.1", help="address for --metrics-port (default 127.0.0.1)"
    )
    p.add_argument(
        "--stall-after-s",
        type=float,
        default=10.0,
        help="a camera loop silent this long is stalled: the systemd watchdog pings stop (default 10)",
    )
    p.add_argument("--log-level", default=argparse.SUPPRESS, help="as above, after the command")
    p.set_defaults(handler=run)

    p = commands.add_parser(
        "probe",
        help="check a camera: codec, resolution, fps and decode cost; exit 2 with a named cause on failure",
    )
    p.add_argument("url", nargs="?", help="rtsp:// or http(s):// URL (or a video file)")
    p.add_argument(
        "--config",
        help="instead of a URL: a store YAML whose --camera is probed, opened with its credentials from "
        "the secrets file (no password on the command line)",
    )
    p.add_argument("--camera", help="with --config: the camera to probe")
    p.add_argument("--frames", type=int, default=100, help="frames to decode (default 100)")
    p.add_argument("--timeout-s", type=float, default=10.0, help="open and read time-out (default 10 s)")
    p.add_argument(
        "--transport",
        choices=("tcp", "udp"),
        help="RTSP transport (default: the camera's rtsp_transport, else tcp)",
    )
    p.add_argument("--log-level", default=argparse.SUPPRESS, help="as above, after the command")
    p.set_defaults(handler=probe)

    args = parser.parse_args(argv)
    from edge.source import SourceError
    from footfall_core.geometry import CalibrationError
    from models.registry import ModelError

    try:
        setup_logging(args.log_level)
    except ValueError as exc:  # an unknown --log-level
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return args.handler(args)
    except (ConfigError, SourceError, CalibrationError, ModelError) as exc:
        print(f"error: {redact_url(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
