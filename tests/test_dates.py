"""No test holds only until some date: the dashboard's tests that read the wall clock (retention,
the seeded history, today's week, live staleness) pass with it a year ahead."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from footfall_core.assets import REPO_ROOT
from tests.year_ahead import AHEAD

# Every dashboard test that reads the clock, directly or through the product. The database
# never reads its own clock (every time in SQL comes from Python), so SQLite stands for both.
DATE_SENSITIVE = [
    "tests/test_storage.py",
    "tests/test_seed.py",
    "tests/test_api.py",
    "tests/test_pages.py",
    "tests/test_dashboard_rebuild.py",
    "tests/test_charts.py",
    "tests/test_dashboard_live_figure.py",
    "tests/test_dashboard_layout.py",
    "tests/test_dashboard_metrics.py",
]


@pytest.mark.slow
def test_the_dashboards_tests_pass_with_the_clock_a_year_ahead():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.year_ahead",
            "-p",
            "no:cacheprovider",
            "-m",
            "not slow and not postgres",
            "-rfEs",
            *DATE_SENSITIVE,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = done.stdout + done.stderr
    assert f"wall clock a year ahead: {(datetime.now(UTC) + AHEAD):%Y-%m-%d}" in output, output[-3000:]
    assert done.returncode == 0, output[-6000:]
    assert " passed" in output and " skipped" not in output and " failed" not in output, output[-3000:]
