"""`pip install .` gives a working package: its entry points run from anywhere, with the web
pages, static files and database migrations inside it, and its dependencies are those of
requirements.txt."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.package_install import REPO

ENTRY_POINTS = {  # commands each one's help must list
    "footfall-edge": ("replay", "run"),
    "footfall-dashboard": ("serve", "ingest", "migrate"),
    "footfall-calibration": ("solve", "check", "serve"),
}


def run(venv: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / argv[0]), *argv[1:]], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_each_entry_point_runs_from_the_installed_package(installed, tmp_path, name):
    result = run(installed, name, "--help", cwd=tmp_path)  # not the checkout: only the install is importable
    assert result.returncode == 0, result.stderr
    usage = result.stdout.split("\n\n")[0]  # usage: NAME [-h] ... {command,command,...} ...
    assert all(command in usage for command in ENTRY_POINTS[name]), result.stdout


def test_the_installed_package_is_imported_not_the_checkout(installed, tmp_path):
    found = subprocess.run(
        [str(installed / "bin/python"), "-c", "import edge, dashboard, footfall_core; print(edge.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert found.startswith(str(installed)) and str(REPO) not in found


def test_the_dashboard_ships_its_migrations_pages_and_static_files(installed, tmp_path):
    db = tmp_path / "footfall.sqlite3"
    migrated = run(installed, "footfall-dashboard", "migrate", "--db", f"sqlite:///{db}", cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "schema of sqlite" in migrated.stderr and db.stat().st_size > 0
    site = next((installed / "lib").glob("python3*/site-packages"))
    for shipped in (
        "dashboard/templates/trends.html",
        "dashboard/static/footfall.js",
        "calibration/static/calibrate.js",
    ):
        assert (site / shipped).is_file(), shipped


def test_a_bad_config_is_named_by_the_installed_edge(installed, tmp_path):
    store = tmp_path / "store.yaml"
    store.write_text("store: {id: Bad Name}\n")
    result = run(installed, "footfall-edge", "run", "--config", str(store), cwd=tmp_path)
    assert result.returncode == 2 and str(store) in result.stderr and "store.id" in result.stderr


def _requirements(text: str) -> set[str]:
    runtime = text.split("# tests and checks")[0]
    return {line.split("#")[0].strip() for line in runtime.splitlines() if re.match(r"^[a-zA-Z]", line)}


def test_the_package_depends_on_the_runtime_section_of_requirements_txt():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(declared) == _requirements((REPO / "requirements.txt").read_text())
