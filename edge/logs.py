"""Structured (logfmt) log lines that carry the store and the camera, for journald and grep."""

from __future__ import annotations

import logging
import sys

from footfall_core.redact import RedactFilter

_context: dict[str, str] = {}


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key in ("store", "camera"):
            if not hasattr(record, key):
                setattr(record, key, _context.get(key, "-"))
        return True


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage().replace('"', "'")
        line = (
            f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} level={record.levelname.lower()} "
            f'store={record.store} camera={record.camera} logger={record.name} msg="{message}"'
        )
        if record.exc_info:
            line += (
                ' exc="'
                + (record.exc_text or self.formatException(record.exc_info))
                .replace("\n", "\\n")
                .replace('"', "'")
                + '"'
            )
        return line


def setup_logging(level: str = "INFO", store: str | None = None, camera: str | None = None) -> None:
    """Configure the root logger once per process; later calls update the store/camera context."""
    if store:
        _context["store"] = store
    if camera:
        _context["camera"] = camera
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"--log-level: unknown level {level!r} (use DEBUG, INFO, WARNING or ERROR)")
    root = logging.getLogger()
    root.setLevel(numeric)
    if not any(isinstance(h.formatter, LogfmtFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(LogfmtFormatter())
        handler.addFilter(_ContextFilter())
        handler.addFilter(RedactFilter())
        root.handlers = [handler]
