"""Credentials out of URLs before they are logged, shown or returned.

Camera and broker URLs carry passwords (`rtsp://admin:secret@10.0.0.7/stream`,
`mqtt://ingest:secret@host`), and some cameras take them in the query
(`http://cam/snapshot.cgi?user=admin&pwd=secret`). `redact_url` removes the user info of every
URL in a text and masks the values of query keys that name a credential; `RedactFilter` does
the same to every log record (message and traceback) that reaches a handler it sits on, so a
URL passed into any log call or exception message is cleaned where the process writes it out.
Edge, dashboard and calibration all redact through this one module.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# scheme://userinfo@ where userinfo runs to the last "@" before the authority ends (as
# urllib.parse.urlsplit reads it: an unencoded "@" in a password stays inside the user info).
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s?#\"'<>]*@)")
# key=value in a query string, for keys that name a credential.
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&;](?:user(?:name)?|login|pass(?:word|wd)?|pwd|token|access_token|api_?key|key|secret|auth)=)"
    r"(?P<value>[^&;#\s\"'<>]*)",
    re.IGNORECASE,
)


def redact_url(text: str) -> str:
    """`text` (one URL, or any message containing URLs) with the user info of each URL removed
    and the values of credential query keys (user, password, pwd, token, key, ...) replaced by
    `***`. `rtsp://admin:pw@10.0.0.7:554/s?pwd=x` becomes `rtsp://10.0.0.7:554/s?pwd=***`.
    Anything else is returned unchanged."""
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(lambda m: m.group("scheme"), text)
    if "://" in text:
        text = _QUERY_SECRET.sub(lambda m: m.group("key") + MASK, text)
    return text


class RedactFilter(logging.Filter):
    """A handler filter that rewrites each record's message and traceback through
    `redact_url`. Sits on handlers (not loggers) so that it sees records from every logger
    that propagates to them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_url(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_url(record.exc_text)
        return True


def redact_logs(logger: logging.Logger | None = None) -> None:
    """Put a RedactFilter on every handler of `logger` (default the root logger) that has none."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactFilter) for f in handler.filters):
            handler.addFilter(RedactFilter())
