"""Secrets outside the store YAML: camera credentials from a private secrets file or a systemd
credential, put into the camera's URL only when it is opened and never shown; broker passwords
and the session secret from files and systemd credentials, checked against a real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from calibration.web import TOKEN_COOKIE, create_app
from dashboard.live import LiveHub, LiveSubscriber
from dashboard.settings import Settings, SettingsError
from footfall_core.mqtt_link import broker_password, new_client
from footfall_core.redact import redact_url
from footfall_core.secrets import camera_source, load_camera_secrets, read_password
from footfall_core.store import ConfigError, Mqtt, load_config, parse_config
from tests.brokers import free_port, secured_mosquitto

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pa:ss@w/rd%1"  # every character a URL's user info must encode
GOOD_SECRET = "K9fQ2mZ7pL4vR8tW3yN6-hD5sJ1gB0cV2aE7uT"


def _store(tmp_path: Path, source: str, secrets: str | None = None, mode: int = 0o600, **camera) -> Path:
    """The PETS09 example with its first camera on `source` and a secrets file beside it."""
    config = yaml.safe_load((ROOT / "examples" / "pets09.yaml").read_text())
    config["cameras"][0].update(source=source, **camera)
    if secrets is not None:
        path = tmp_path / "camera-secrets.yaml"
        path.write_text(secrets)
        path.chmod(mode)
        config["secrets_file"] = "camera-secrets.yaml"
    store = tmp_path / "store.yaml"
    store.write_text(yaml.safe_dump(config))
    return store


SECRETS = f"door:\n  username: admin\n  password: {PASSWORD!r}\n"


def test_a_camera_is_opened_with_its_credentials_and_shown_without_them(tmp_path, assets):
    config = load_config(_store(tmp_path, "rtsp://10.0.0.7:554/Streaming/101", SECRETS, credentials="door"))
    url = camera_source(config, config.cameras[0], env={})
    assert url == "rtsp://admin:pa%3Ass%40w%2Frd%251@10.0.0.7:554/Streaming/101"
    assert redact_url(url) == "rtsp://10.0.0.7:554/Streaming/101"
    assert PASSWORD not in config.model_dump_json() and "admin" not in config.model_dump_json()


def test_systemds_credential_wins_over_the_configured_file(tmp_path, assets):
    config = load_config(_store(tmp_path, "rtsp://cam/s", SECRETS, credentials="door"))
    handed = tmp_path / "credentials"
    handed.mkdir()
    (handed / "camera-secrets").write_text("door: {username: svc, password: other}\n")
    (handed / "camera-secrets").chmod(0o400)
    assert camera_source(config, config.cameras[0], env={"CREDENTIALS_DIRECTORY": str(handed)}) == (
        "rtsp://svc:other@cam/s"
    )


NO_ENTRY = r"store.yaml: cameras.view001.credentials: no entry 'back' in the camera secrets file .*/camera-"
NO_FILE = r"cameras.view001.credentials: 'door' names camera credentials, but there is no secrets file"
OPEN = r"camera-secrets.yaml: the camera secrets file is open to every user \(mode 0644\)"
BAD_SECRETS = [  # secrets file, its mode, the camera's credentials, the error
    (SECRETS, 0o644, "door", OPEN),
    (SECRETS, 0o600, "back", NO_ENTRY),
    ("door: {username: admin}\n", 0o600, "door", r"camera-secrets.yaml: door.password: Field required"),
    ("door: {username: a, password: x, port: 1}\n", 0o600, "door", r"camera-secrets.yaml: door.port: Extra"),
    ("- admin\n", 0o600, "door", r"camera-secrets.yaml: expected a mapping of names"),
    (f"door: {{password: '{PASSWORD}'\n", 0o600, "door", r"camera-secrets.yaml: not valid YAML \(line \d+\)"),
    (None, 0o600, "door", NO_FILE),
]


@pytest.mark.parametrize("secrets, mode, credentials, expected", BAD_SECRETS)
def test_a_bad_secret_is_named_by_file_and_key_without_its_value(
    tmp_path, assets, secrets, mode, credentials, expected
):
    config = load_config(_store(tmp_path, "rtsp://cam/s", secrets, mode, credentials=credentials))
    with pytest.raises(ConfigError, match=expected) as caught:
        camera_source(config, config.cameras[0], env={})
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("videos/door.avi", r"cameras.0: credentials: source 'videos/door.avi' is not a URL"),
        ("rtsp://admin:pw@cam/s", r"cameras.0: credentials: the source URL carries a user already"),
    ],
)
def test_credentials_need_a_url_without_a_user(tmp_path, assets, source, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config(_store(tmp_path, source, SECRETS, credentials="door"))


def test_an_empty_secrets_file_has_no_entries(tmp_path):
    path = tmp_path / "camera-secrets.yaml"
    path.write_text("# cameras' users and passwords\n")
    path.chmod(0o640)
    assert load_camera_secrets(path) == {}


def test_the_calibration_page_never_shows_the_camera_password(tmp_path, assets):
    port = free_port()  # nothing listens there
    store = _store(tmp_path, f"rtsp://127.0.0.1:{port}/live", SECRETS, credentials="door")
    client = TestClient(create_app(store, "token-for-this-test"))
    client.cookies.set(TOKEN_COOKIE, "token-for-this-test")
    snapshot = client.get("/api/cameras/view001/snapshot.jpg")
    assert snapshot.status_code == 502
    assert f"rtsp://127.0.0.1:{port}/live" in snapshot.json()["detail"]
    texts = [snapshot.text, store.read_text()]
    assert not any(PASSWORD in text or "pa%3Ass" in text or "admin" in text for text in texts)


def test_the_edge_refuses_to_start_on_a_secrets_file_others_can_read(tmp_path, assets):
    store = _store(tmp_path, "rtsp://127.0.0.1:9/live", SECRETS, 0o604, credentials="door")
    result = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--config", str(store), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"},
    )
    assert result.returncode == 2, result.stderr
    assert (
        f"{tmp_path / 'camera-secrets.yaml'}: the camera secrets file is open to every user" in result.stderr
    )
    assert PASSWORD not in result.stderr


def test_the_session_secret_from_a_systemd_credential(tmp_path):
    handed = tmp_path / "credentials"
    handed.mkdir()
    (handed / "session-secret").write_text(GOOD_SECRET + "\n")
    settings = Settings.from_env({"CREDENTIALS_DIRECTORY": str(handed)})
    assert settings.secret_key == GOOD_SECRET
    other = tmp_path / "secret"
    other.write_text("Wq3" * 12)
    from_file = {"FOOTFALL_SECRET_FILE": str(other)}
    assert Settings.from_env(from_file).secret_key == "Wq3" * 12
    assert Settings.from_env(from_file | {"CREDENTIALS_DIRECTORY": str(handed)}).secret_key == GOOD_SECRET
    (handed / "session-secret").write_text("")  # left empty by the installer: none
    assert Settings.from_env(from_file | {"CREDENTIALS_DIRECTORY": str(handed)}).secret_key == "Wq3" * 12
    with pytest.raises(SettingsError, match="systemd credential session-secret"):
        Settings.from_env({"CREDENTIALS_DIRECTORY": str(handed)})


@pytest.fixture
def secured(tmp_path):
    """A Mosquitto with the users of `dashboard broker-acl`; yields it and the passwords' directory."""
    with secured_mosquitto(tmp_path, "stores: [shop-a]\n") as broker_and_passwords:
        yield broker_and_passwords


def _connects(settings: Mqtt) -> bool:
    subscriber = LiveSubscriber(LiveHub(), settings, client_id="secrets-test").start()
    try:
        return subscriber.connected.wait(10)
    finally:
        subscriber.stop()


def test_the_dashboards_live_bridge_logs_in_with_its_password_file(secured, tmp_path, monkeypatch):
    """FOOTFALL_MQTT_PASSWORD_FILE, then a systemd credential in its place; no password anywhere
    in the URL (so none on a command line)."""
    broker, passwords = secured
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    url = broker.url.replace("mqtt://", "mqtt://dashboard@")
    env = {"FOOTFALL_SECRET_KEY": GOOD_SECRET, "FOOTFALL_MQTT_URL": url}
    without = Settings.from_env(env).mqtt
    assert without is not None and not _connects(without), "the broker refuses the user without a password"
    settings = Settings.from_env(env | {"FOOTFALL_MQTT_PASSWORD_FILE": str(passwords / "dashboard")}).mqtt
    assert settings is not None and _connects(settings)

    handed = tmp_path / "credentials"
    handed.mkdir()
    (handed / "mqtt-password").write_text((passwords / "dashboard").read_text())
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(handed))
    assert _connects(without), "the credential systemd handed the service is its password"


def test_the_ingest_signs_its_client_id_with_the_password_it_logs_in_with(tmp_path, monkeypatch):
    handed = tmp_path / "credentials"
    handed.mkdir()
    (handed / "mqtt-password").write_text("from-systemd\n")
    (tmp_path / "configured").write_text("from-file\n")
    settings = Mqtt(url="mqtt://ingest@127.0.0.1:1883", password_file=str(tmp_path / "configured"))
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert broker_password(settings) == "from-file"
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(handed))
    client, _ = new_client(settings, "ingest-test")
    assert broker_password(settings) == "from-systemd" and client._password == b"from-systemd"


def test_a_store_yaml_without_secrets_parses_as_before():
    config = parse_config(yaml.safe_load((ROOT / "examples" / "pets09.yaml").read_text()))
    assert config.secrets_file is None and all(camera.credentials is None for camera in config.cameras)


RTSP_PASSWORD = "p@ss:w/rd 1"  # percent-encoded in the URL, decoded by FFmpeg


def test_a_camera_that_wants_a_password_is_read_with_the_secrets_one(clips, tmp_path, assets):
    """A real RTSP camera with a user: the edge's reader and `python -m edge probe --config`
    open it with the secrets file's user and password; the store YAML and the probe's output
    carry neither."""
    from edge.source import open_source
    from scripts.rtsp_camera import RtspCamera
    from tests.rtsp_support import run_probe

    with RtspCamera(clips("pets09_short"), user="viewer", password=RTSP_PASSWORD) as camera:
        secrets = f"door: {{username: viewer, password: {RTSP_PASSWORD!r}}}\n"
        store = _store(tmp_path, camera.url, secrets, credentials="door")
        config = load_config(store)
        source = open_source(config.cameras[0], config)
        try:
            frame = next(iter(source))
        finally:
            source.close()
        assert frame.image.shape[:2] == (576, 768)
        assert source.source == camera.url, "shown without its user"

        probed = run_probe("--config", str(store), "--camera", "view001", "--frames", "5")
        assert probed.returncode == 0, probed.stderr
        assert "h264" in probed.stdout
        shown = probed.stdout + probed.stderr + store.read_text()
        assert "p@ss" not in shown and "p%40ss" not in shown and "viewer" not in shown

        (tmp_path / "camera-secrets.yaml").write_text("door: {username: viewer, password: wrong}\n")
        refused = run_probe("--config", str(store), "--camera", "view001", "--frames", "5")
        assert refused.returncode == 2 and refused.stderr.startswith("error: auth:"), refused.stderr


@pytest.mark.parametrize(
    "text, password",
    [
        ("s3cret\n", "s3cret"),  # as echo and editors leave it
        ("s3cret", "s3cret"),
        (" two words \r\nnot read\n", " two words "),  # spaces may be part of it
    ],
)
def test_a_password_file_holds_the_password_on_its_first_line(tmp_path, text, password):
    path = tmp_path / "pw"
    path.write_bytes(text.encode())
    assert read_password(path, "--password-file") == password


@pytest.mark.parametrize("text", ["", "\n", "\nthe password one line too low\n"])
def test_an_empty_first_line_is_refused_naming_the_option_and_the_file(tmp_path, text):
    path = tmp_path / "pw"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"^--password-file {path}: the first line is empty"):
        read_password(path, "--password-file")


def test_every_secret_file_is_read_the_same_way(tmp_path, monkeypatch):
    """One file with a trailing newline and a second line, as the session secret, the metrics
    token and the dashboard's broker password, from a path and as systemd credentials: each is
    its first line; an empty first line is refused naming where the file was configured."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    path = tmp_path / "secret"
    path.write_text(GOOD_SECRET + "\nnot part of it\n")
    env = {
        "FOOTFALL_SECRET_FILE": str(path),
        "FOOTFALL_METRICS_TOKEN_FILE": str(path),
        "FOOTFALL_MQTT_URL": "mqtt://dashboard@127.0.0.1:1883",
        "FOOTFALL_MQTT_PASSWORD_FILE": str(path),
    }
    settings = Settings.from_env(env)
    assert settings.secret_key == settings.metrics_token == GOOD_SECRET
    assert settings.mqtt is not None and broker_password(settings.mqtt) == GOOD_SECRET

    handed = tmp_path / "credentials"
    handed.mkdir()
    for name in ("session-secret", "metrics-token", "mqtt-password"):
        (handed / name).write_text(GOOD_SECRET[::-1] + "\nnot part of it\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(handed))
    settings = Settings.from_env(env | {"CREDENTIALS_DIRECTORY": str(handed)})
    assert settings.secret_key == settings.metrics_token == GOOD_SECRET[::-1]
    assert settings.mqtt is not None and broker_password(settings.mqtt) == GOOD_SECRET[::-1]

    path.write_text("\n" + GOOD_SECRET + "\n")
    with pytest.raises(SettingsError, match=f"^FOOTFALL_SECRET_FILE {path}: the first line is empty"):
        Settings.from_env({"FOOTFALL_SECRET_FILE": str(path)})


def test_an_unreadable_password_file_is_named_with_the_reason(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ValueError, match=f"^mqtt.password_file {missing}: cannot read: No such file"):
        read_password(missing, "mqtt.password_file")
