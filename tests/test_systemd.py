"""The units pass `systemd-analyze verify` as installed, and carry the hardening we promise."""

import configparser
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.settings import Settings
from footfall_core.secrets import load_camera_secrets
from tests.needs import need

REPO = Path(__file__).resolve().parent.parent
UNITS = sorted((REPO / "systemd").glob("*.service"))


def test_there_is_a_unit_per_service():
    assert {u.name for u in UNITS} == {
        "footfall-edge.service",
        "footfall-ingest.service",
        "footfall-alerts.service",
        "footfall-dashboard.service",
    }


def read_unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(path)
    return parser


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_is_supervised_and_hardened(unit):
    service = read_unit(unit)["Service"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "always"
    for key, value in {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ConfigurationDirectory": "footfall",
    }.items():
        assert service[key] == value, f"{unit.name}: {key}"
    assert service["StateDirectory"].startswith("footfall")


def test_install_stages_units_that_systemd_analyze_verifies(tmp_path, installed):
    """Stage an install under DESTDIR with PREFIX at a directory whose .venv has the package
    installed (its entry points are the units' commands), then verify."""
    need(
        shutil.which("systemd-analyze") is not None, "systemd-analyze not installed (make setup installs it)"
    )
    prefix = installed.parent
    env = dict(os.environ, DESTDIR=str(tmp_path / "root"), PREFIX=str(prefix), SKIP_VENV="1")
    for role in ("edge", "central"):
        subprocess.run(
            ["bash", str(REPO / "scripts/install.sh"), role], env=env, check=True, capture_output=True
        )
    staged = sorted((tmp_path / "root/etc/systemd/system").glob("*.service"))
    assert len(staged) == 4
    assert (tmp_path / "root/etc/footfall/store.yaml").exists()
    assert "FOOTFALL_DB_URL" in (tmp_path / "root/etc/footfall/central.env").read_text()
    assert (tmp_path / "root/etc/mosquitto/conf.d/footfall.conf").exists()
    limits = (tmp_path / "root/etc/systemd/system/mosquitto.service.d/footfall.conf").read_text()
    assert "LimitNOFILE=65536" in limits, "one connection per store: more than 1,024 open files"
    for unit in staged:
        assert str(prefix) in unit.read_text() and "/opt/footfall/.venv" not in unit.read_text()
        assert f"{installed}/bin/footfall-" in unit.read_text()
        result = subprocess.run(
            ["systemd-analyze", "verify", str(unit)],
            capture_output=True,
            text=True,
            env=dict(os.environ, SYSTEMD_LOG_LEVEL="warning"),
        )
        assert result.returncode == 0, f"{unit.name}: {result.stderr}"
    assert Path(sys.executable).exists()


CREDENTIALS = {  # unit: the credentials it loads (docs/deploy.md, "Secrets")
    "footfall-edge.service": {"mqtt-password", "camera-secrets"},
    "footfall-ingest.service": {"mqtt-password"},
    "footfall-alerts.service": {"mqtt-password"},
    "footfall-dashboard.service": {"mqtt-password", "session-secret", "metrics-token"},
}


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_secrets_reach_a_unit_as_credentials_never_on_its_command_line(unit):
    lines = unit.read_text().splitlines()
    loaded = {line.split("=", 1)[1].split(":")[0] for line in lines if line.startswith("LoadCredential=")}
    assert loaded == CREDENTIALS[unit.name]
    command = next(line for line in lines if line.startswith("ExecStart="))
    assert "FOOTFALL_DB_URL" not in command, "a database URL may carry a password: from the environment"
    assert not any(word in command.lower() for word in ("password", "secret")), command


def test_install_keeps_secrets_to_root_and_the_code_readable(tmp_path):
    root = tmp_path / "root"
    env = dict(os.environ, DESTDIR=str(root), PREFIX=str(tmp_path / "opt"), SKIP_VENV="1")
    for role in ("edge", "central"):
        subprocess.run(
            ["bash", str(REPO / "scripts/install.sh"), role], env=env, check=True, capture_output=True
        )
    etc = root / "etc/footfall"
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in etc.iterdir()}
    assert modes == {
        "central.env": 0o600,
        "session-secret": 0o600,
        "metrics-token": 0o600,
        "mqtt-password": 0o600,
        "camera-secrets.yaml": 0o600,
        "store.yaml": 0o644,  # names no password; the edge's dynamic user reads it
    }
    secret = (etc / "session-secret").read_text().strip()
    assert Settings.from_env({"FOOTFALL_SECRET_FILE": str(etc / "session-secret")}).secret_key == secret
    handed = {"FOOTFALL_SECRET_KEY": secret, "CREDENTIALS_DIRECTORY": str(etc)}  # as systemd hands them
    assert Settings.from_env(handed).metrics_token == (etc / "metrics-token").read_text().strip()
    assert load_camera_secrets(etc / "camera-secrets.yaml") == {}
    assert (etc / "mqtt-password").read_text() == "", "an empty credential: the unit starts, no password"
    prefix = root / str(tmp_path / "opt").lstrip("/")
    code = [prefix, prefix / "footfall_core/store.py", prefix / "scripts", root / "etc/systemd/system"]
    assert all(path.stat().st_mode & stat.S_IROTH for path in code), "the services' users read the code"
    first = (etc / "session-secret").read_text()
    (etc / "central.env").chmod(0o644)
    subprocess.run(
        ["bash", str(REPO / "scripts/install.sh"), "central"], env=env, check=True, capture_output=True
    )
    assert (etc / "session-secret").read_text() == first, "installing again keeps the secret"
    assert stat.S_IMODE((etc / "central.env").stat().st_mode) == 0o600


def test_install_refuses_an_unknown_role(tmp_path):
    result = subprocess.run(
        ["bash", str(REPO / "scripts/install.sh"), "toaster"],
        capture_output=True,
        text=True,
        env=dict(os.environ, DESTDIR=str(tmp_path)),
    )
    assert result.returncode == 2 and "unknown role 'toaster'" in result.stderr
