"""Shared fixtures: the real assets, private brokers, and both database backends."""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path

import pytest

from edge import logs
from footfall_core.assets import assets_dir
from tests.brokers import Mosquitto
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, need_chromium
from tests.databases import scratch_database
from tests.needs import need
from tests.rtsp_support import clips, rtsp_camera  # noqa: F401 (fixtures: a real RTSP camera)

PG_ADMIN_URL = os.environ.get("FOOTFALL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def assets() -> Path:
    root = assets_dir()
    if not (root / "models").is_dir():
        pytest.fail(f"assets not found at {root} (set FOOTFALL_ASSETS or put shared/ beside the repo)")
    return root


@pytest.fixture(autouse=True)
def _process_wide_state():
    """Put back what a test may change for the whole process: OpenCV's thread count (every
    Detector sets it) and the root logger (edge.logs.setup_logging sets its level, puts its own
    handler in place of the others and keeps a store/camera context)."""
    root = logging.getLogger()
    level, context = root.level, dict(logs._context)
    cv2 = sys.modules.get("cv2")
    threads = cv2.getNumThreads() if cv2 is not None else -1  # -1: OpenCV's default
    yield
    root.setLevel(level)
    for handler in root.handlers[:]:
        if isinstance(handler.formatter, logs.LogfmtFormatter):
            root.removeHandler(handler)
    logs._context.clear()
    logs._context.update(context)
    if (cv2 := sys.modules.get("cv2")) is not None:
        cv2.setNumThreads(threads)


@pytest.fixture
def broker(tmp_path):
    with Mosquitto(tmp_path / "broker") as mosquitto:
        yield mosquitto


def _listening(url: str) -> bool:
    """Something accepts TCP connections at the host and port of a postgresql:// URL."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    try:
        socket.create_connection((info.get("host", "localhost"), int(info.get("port", 5432))), 3).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL admin URL. Nothing listening there skips the PostgreSQL tests (fails them
    under CI); a server that answers but refuses us (wrong password, unknown role or database)
    fails them everywhere: that is a broken setup, not a missing server."""
    import psycopg

    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if _listening(PG_ADMIN_URL):
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} refused the tests: {exc}")
        need(False, f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty PostgreSQL database for one test (SQLAlchemy URL), dropped afterwards."""
    with scratch_database(pg_server, "footfall_test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """The same test over the embedded default and the scale-out backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'footfall.sqlite3'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_db_url(request, tmp_path_factory):
    """`db_url` for a whole module: one database per backend, for data filled once."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('module-db') / 'footfall.sqlite3'}"
        return
    with scratch_database(request.getfixturevalue("pg_server"), "footfall_test") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through playwright; missing Chromium fails under CI."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> Path:
    """A virtualenv with this checkout installed by pip (tests/package_install.py), under a
    prefix laid out as scripts/install.sh lays out /opt/footfall."""
    from tests.package_install import install

    return install(tmp_path_factory.mktemp("prefix"))
