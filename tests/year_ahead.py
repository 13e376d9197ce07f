"""A pytest plugin (`-p tests.year_ahead`) that runs a whole session with the wall clock a year
ahead: `time.time()`, `datetime.now()` and everything built on them read today + 366 days and
tick on from there (time-machine); the monotonic clock stays real. `tests/test_dates.py` runs
the date-sensitive tests under it, so that a test that only holds until some date fails now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

AHEAD = timedelta(days=366)
_travel: time_machine.travel | None = None


def pytest_configure(config) -> None:
    global _travel
    _travel = time_machine.travel(datetime.now(UTC) + AHEAD, tick=True)
    _travel.start()


def pytest_unconfigure(config) -> None:
    if _travel is not None:
        _travel.stop()


def pytest_report_header(config) -> str:
    return f"wall clock a year ahead: {datetime.now(UTC):%Y-%m-%d}"
