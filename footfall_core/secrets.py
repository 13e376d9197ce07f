"""Secrets kept out of the store YAML, the environment and command lines: where each is read
from, and camera credentials put into a camera's URL only when it is opened.

Under systemd a unit's `LoadCredential=NAME:/etc/footfall/FILE` hands the service a private
copy of a root-only file as `$CREDENTIALS_DIRECTORY/NAME`; a service whose user cannot read
`/etc/footfall` (DynamicUser) reads its secrets there. The credential names are fixed:
`mqtt-password` (the broker password), `session-secret` (the dashboard's cookie key),
`metrics-token` (what Prometheus sends to read the dashboard's /metrics) and `camera-secrets`
(the camera credentials file below). A credential handed in by systemd wins
over a file named in a config file, an environment variable or an option: under systemd it is
the service's copy of that file, and the one secret the unit says it uses.

Every file that holds one secret (a broker or user password, the session secret, the metrics
token) is read the same way, by `read_password`: the secret is its first line, without the line
break; further lines are not read, spaces are kept, and an empty first line is refused.

The camera secrets file is YAML, one entry per name that cameras refer to with `credentials:`:

    door:                       # cameras: - {name: door-cam, source: rtsp://10.0.0.7/s, credentials: door}
      username: admin
      password: "s3cret"

It must not be readable by other users (0600, or 0640 with the service's group), and is
refused otherwise. Its values never reach an error message: errors name the file and the key.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from footfall_core.store import Camera, ConfigError, StoreConfig

CREDENTIALS_DIRECTORY: Final = "CREDENTIALS_DIRECTORY"
MQTT_PASSWORD: Final = "mqtt-password"
SESSION_SECRET: Final = "session-secret"
METRICS_TOKEN: Final = "metrics-token"
CAMERA_SECRETS: Final = "camera-secrets"
# Characters a user name or password may keep as they are inside a URL's user info (RFC 3986
# unreserved and sub-delims); anything else (":", "@", "/", "%", spaces, ...) is percent-encoded.
_USERINFO_SAFE: Final = "!$&'()*+,;=-._~"


def credential(name: str, env: Mapping[str, str] | None = None) -> Path | None:
    """`$CREDENTIALS_DIRECTORY/name` when systemd handed the service that credential, else None.
    An empty one counts as not handed: the installer leaves empty files for the units to load
    (a unit whose credential file is missing does not start) until a secret is put in them."""
    directory = (os.environ if env is None else env).get(CREDENTIALS_DIRECTORY)
    if not directory:
        return None
    path = Path(directory) / name
    try:
        return path if path.is_file() and path.stat().st_size > 0 else None
    except OSError:
        return None


def secret_file(configured: str | None, name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The file to read the secret `name` from: systemd's credential when there is one, else the
    configured path (None when neither)."""
    handed = credential(name, env)
    return str(handed) if handed is not None else configured


def read_password(path: str | Path, key: str) -> str:
    """The secret in a password or secret file: its first line, without the line break (the rest
    is not read, so that a file ending in a newline, as editors and `echo` leave it, holds the
    secret it shows; spaces are kept, as they may be part of it). An empty first line is refused rather
    than sent as an empty password, which a broker or a camera would refuse with a less telling
    error, or accept as no login at all. ValueError naming `key` (the setting or option that
    named the file) and the file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ValueError(f"{key} {path}: cannot read: {exc.strerror}") from None
    password = text.splitlines()[0] if text else ""
    if not password:
        raise ValueError(f"{key} {path}: the first line is empty; expected the password on it")
    return password


class CameraSecret(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1, description="The camera's user.")
    password: str = Field(repr=False, description="The camera user's password.")


def _private(path: Path) -> None:
    """Refuse a secrets file any user may read or write."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the camera secrets file: {exc.strerror}") from None
    if mode & stat.S_IRWXO:
        raise ConfigError(
            f"{path}: the camera secrets file is open to every user (mode {stat.S_IMODE(mode):04o}); "
            f"chmod 600 {path}"
        )


def load_camera_secrets(path: Path) -> dict[str, CameraSecret]:
    """Every entry of a camera secrets file; ConfigError naming the file and the key."""
    _private(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the camera secrets file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigError(f"{path}: not valid YAML{line}") from None  # the text around it may be a password
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of names to {{username, password}}")
    secrets: dict[str, CameraSecret] = {}
    for name, entry in data.items():
        try:
            secrets[str(name)] = CameraSecret.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(part) for part in (name, *first["loc"]))
            raise ConfigError(f"{path}: {key}: {first['msg']}") from None
    return secrets


def camera_secrets_path(config: StoreConfig, env: Mapping[str, str] | None = None) -> Path | None:
    """Where the store's camera credentials are: systemd's `camera-secrets` credential, else the
    store's `secrets_file` (relative to the config file)."""
    configured = config.resolve(config.secrets_file) if config.secrets_file else None
    found = secret_file(configured, CAMERA_SECRETS, env)
    return Path(found) if found else None


def with_userinfo(url: str, secret: CameraSecret) -> str:
    """`url` with `secret`'s user and password as its user info, percent-encoded."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    userinfo = f"{quote(secret.username, safe=_USERINFO_SAFE)}:{quote(secret.password, safe=_USERINFO_SAFE)}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def camera_source(config: StoreConfig, camera: Camera, env: Mapping[str, str] | None = None) -> str:
    """What to open for `camera`: its source resolved (StoreConfig.resolve), with the user and
    password of its `credentials` entry put into the URL. The result carries a password: log or
    show it only through footfall_core.redact.redact_url."""
    source = config.resolve(camera.source)
    if camera.credentials is None:
        return source
    where = f"{config.path or 'config'}: cameras.{camera.name}.credentials"
    path = camera_secrets_path(config, env)
    if path is None:
        raise ConfigError(
            f"{where}: {camera.credentials!r} names camera credentials, but there is no secrets file "
            f"(set secrets_file, or hand the service the systemd credential {CAMERA_SECRETS!r})"
        )
    secret = load_camera_secrets(path).get(camera.credentials)
    if secret is None:
        raise ConfigError(f"{where}: no entry {camera.credentials!r} in the camera secrets file {path}")
    return with_userinfo(source, secret)
