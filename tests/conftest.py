"""Shared fixtures: the real assets, private brokers, and both database backends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from footfall_core.assets import assets_dir
from tests.brokers import Mosquitto
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS
from tests.databases import scratch_database

PG_ADMIN_URL = os.environ.get("FOOTFALL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def assets() -> Path:
    root = assets_dir()
    if not (root / "models").is_dir():
        pytest.fail(f"assets not found at {root} (set FOOTFALL_ASSETS or put shared/ beside the repo)")
    return root


@pytest.fixture
def broker(tmp_path):
    with Mosquitto(tmp_path / "broker") as mosquitto:
        yield mosquitto


def _pg_available() -> bool:
    try:
        import psycopg

        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_server() -> str:
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
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
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
