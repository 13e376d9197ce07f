"""The locked install: every requirement pinned, with the sha256 of its files, in a lock that
pip installs exactly (or stops); the runtime lock holds the package's dependencies at the same
versions and no test tool; the installer and `make setup` install from the locks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
TEST_TOOLS = {
    "pytest",
    "pytest-timeout",
    "playwright",
    "ruff",
    "mypy",
    "hypothesis",
    "pip-audit",
    "time-machine",
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def read_lock(path: Path) -> dict[str, tuple[Version, list[str]]]:
    """name -> (pinned version, its sha256 hashes), from a pip-compile --generate-hashes file."""
    pins: dict[str, tuple[Version, list[str]]] = {}
    name = None
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match.group(1))
            assert name not in pins, f"{path.name}: {name} pinned twice"
            pins[name] = (Version(match.group(2)), [])
        elif (hashed := re.search(r"--hash=sha256:([0-9a-f]{64})", line)) and name is not None:
            pins[name][1].append(hashed.group(1))
        elif line.strip() and not line.lstrip().startswith("#"):
            pytest.fail(f"{path.name}: unexpected line {line!r}")
    return pins


def requirements(path: Path) -> list[Requirement]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


FULL = read_lock(REPO / "requirements.lock")
RUNTIME = read_lock(REPO / "requirements-runtime.lock")


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-runtime.lock"])
def test_every_pin_carries_the_hashes_of_its_files(lock):
    pins = read_lock(REPO / lock)
    assert len(pins) > 40
    assert not [name for name, (_, hashes) in pins.items() if not hashes]


def test_every_requirement_is_locked_at_a_version_it_allows():
    for requirement in requirements(REPO / "requirements.txt"):
        name = canonicalize_name(requirement.name)
        assert name in FULL, (
            f"requirements.txt: {requirement} is not in requirements.lock: run scripts/lock.sh"
        )
        assert requirement.specifier.contains(FULL[name][0], prereleases=True), (
            f"requirements.lock pins {name}=={FULL[name][0]}, requirements.txt asks {requirement}: "
            "run scripts/lock.sh"
        )


def test_the_runtime_lock_is_the_packages_dependencies_at_the_same_versions_without_test_tools():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in map(Requirement, declared):
        name = canonicalize_name(requirement.name)
        assert name in RUNTIME and requirement.specifier.contains(RUNTIME[name][0], prereleases=True), name
    assert {name: version for name, (version, _) in RUNTIME.items()} == {
        name: FULL[name][0] for name in RUNTIME
    }, "the two locks pin the same versions"
    assert not TEST_TOOLS & set(RUNTIME), "no test tool on a production server"


def test_the_tracker_installed_without_its_dependencies_is_hashed_too():
    text = (REPO / "requirements-nodeps.txt").read_text()
    assert re.search(r"^trackers==[\d.]+ \\\n\s+--hash=sha256:[0-9a-f]{64}$", text, re.M), text


def _recording_python(bin_dir: Path, log: Path) -> None:
    """A `python3` that makes virtualenvs whose pip only writes down what it was asked."""
    real = sys.executable
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1 $2" = "-m venv" ]; then\n'
        '  mkdir -p "$3/bin"\n'
        f'  printf \'#!/usr/bin/env bash\\necho "pip $*" >> {log}\\n\' > "$3/bin/pip"\n'
        '  chmod +x "$3/bin/pip"; exit 0\n'
        "fi\n"
        f'exec {real} "$@"\n'
    )
    (bin_dir / "python3").chmod(0o755)


def test_the_installer_installs_the_runtime_lock_with_hashes_only(tmp_path):
    log = tmp_path / "pip.log"
    _recording_python(tmp_path / "bin", log)
    env = dict(
        os.environ,
        DESTDIR=str(tmp_path / "root"),
        PREFIX="/opt/footfall",
        PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}",
    )
    subprocess.run(
        ["bash", str(REPO / "scripts/install.sh"), "edge"], env=env, check=True, capture_output=True
    )
    calls = log.read_text().splitlines()
    runtime_lock = tmp_path / "root/opt/footfall/requirements-runtime.lock"
    assert calls[0] == f"pip install -q --require-hashes -r {runtime_lock}"
    assert "--require-hashes --no-deps -r" in calls[1] and calls[1].endswith("requirements-nodeps.txt")
    assert not any("requirements.txt" in call or "requirements.lock" in call for call in calls)


def test_make_setup_installs_the_full_lock_with_hashes():
    text = (REPO / "scripts/bootstrap.sh").read_text()
    assert '"${pip[@]}" -r requirements.lock' in text and "--require-hashes" in text
    assert "-r requirements.txt" not in text


def test_the_shared_environment_has_the_locked_versions():
    """What `make setup` installed is what the lock says (a stale .venv is brought in line)."""
    from importlib.metadata import PackageNotFoundError, version

    stale = {}
    for name, (pinned, _) in FULL.items():
        try:
            installed = Version(version(name))
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            stale[name] = (str(installed), str(pinned))
    assert not stale, f"installed vs locked: {stale}; run make setup"
