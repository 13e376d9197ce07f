"""Dashboard settings, read when the app is created (never at import).

From the environment: FOOTFALL_DB_URL (SQLAlchemy URL, default sqlite:///var/footfall.sqlite3),
FOOTFALL_SECRET_FILE or FOOTFALL_SECRET_KEY (signs session cookies: at least 32 characters,
placeholders refused; systemd's `session-secret` credential wins), FOOTFALL_MQTT_URL
(broker for the live page; unset: no live page) with FOOTFALL_MQTT_PASSWORD_FILE (its password;
systemd's `mqtt-password` credential wins, footfall_core/secrets.py) and FOOTFALL_MQTT_PROTOCOL
(3.1.1 on a RabbitMQ cluster; default 5), FOOTFALL_SECURE_COOKIES=0
(session cookies over plain HTTP too: development only; by default they are `Secure`, sent over
HTTPS only), FOOTFALL_METRICS_TOKEN_FILE (a token that Prometheus sends to read /metrics;
systemd's `metrics-token` credential wins),
FOOTFALL_DATA_DIR (the dashboard's own files, such as uploaded floor plans; default var/data).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from footfall_core.secrets import METRICS_TOKEN, SESSION_SECRET, credential, read_password
from footfall_core.store import Mqtt

PLACEHOLDERS = ("change", "secret", "example", "placeholder", "xxxx", "1234")
DEFAULT_DB_URL = "sqlite:///var/footfall.sqlite3"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    db_url: str = Field(DEFAULT_DB_URL, description="SQLAlchemy URL of the dashboard database.")
    secret_key: str = Field(description="Signs session cookies; at least 32 random characters.", repr=False)
    session_idle_s: int = Field(2 * 3600, ge=60, description="A session unused this long ends (default 2 h).")
    session_absolute_s: int = Field(
        12 * 3600, ge=60, description="A session ends this long after its login, used or not (default 12 h)."
    )
    secure_cookies: bool = Field(
        True, description="Send the session cookie over HTTPS only (off only for plain-HTTP development)."
    )
    stream_recheck_s: float = Field(
        15.0, gt=0, description="An open live stream checks its session this often and ends with it."
    )
    metrics_token: str | None = Field(
        None, repr=False, description="Bearer token that may read /metrics besides hq users' tokens."
    )
    mqtt: Mqtt | None = Field(None, description="Broker the live page subscribes to (default: none).")
    migrate: bool = Field(True, description="Upgrade the schema when the app starts.")
    data_dir: Path = Field(
        Path("var/data"), description="The dashboard's own files: uploaded floor plans (default var/data)."
    )

    @field_validator("secret_key")
    @classmethod
    def _strong(cls, value: str) -> str:
        if len(value) < 32:
            raise ValueError(
                f"secret key has {len(value)} characters, need at least 32 "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if any(word in value.lower() for word in PLACEHOLDERS):
            raise ValueError("secret key looks like a placeholder; generate a random one")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _long(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 32:
            raise ValueError(f"metrics token has {len(value)} characters, need at least 32")
        return value

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Settings from FOOTFALL_* variables; `overrides` (e.g. from the command line) win."""
        env = os.environ if env is None else env
        values: dict = {}
        if "FOOTFALL_DB_URL" in env:
            values["db_url"] = env["FOOTFALL_DB_URL"]
        secret_key = _secret(env, SESSION_SECRET, "FOOTFALL_SECRET_FILE")
        if secret_key is None and env.get("FOOTFALL_SECRET_KEY"):
            secret_key = env["FOOTFALL_SECRET_KEY"]
        if secret_key is not None:
            values["secret_key"] = secret_key
        if env.get("FOOTFALL_DATA_DIR"):
            values["data_dir"] = Path(env["FOOTFALL_DATA_DIR"])
        if env.get("FOOTFALL_MQTT_URL"):
            values["mqtt"] = Mqtt(
                url=env["FOOTFALL_MQTT_URL"],
                password_file=env.get("FOOTFALL_MQTT_PASSWORD_FILE") or None,
                protocol=env.get("FOOTFALL_MQTT_PROTOCOL") or "5",  # 3.1.1 on a RabbitMQ cluster
            )
        if env.get("FOOTFALL_SECURE_COOKIES"):
            values["secure_cookies"] = env["FOOTFALL_SECURE_COOKIES"].lower() not in ("0", "false", "no")
        metrics_token = _secret(env, METRICS_TOKEN, "FOOTFALL_METRICS_TOKEN_FILE")
        if metrics_token is not None:
            values["metrics_token"] = metrics_token
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "secret_key" not in values:
            raise SettingsError(
                "no secret key: set FOOTFALL_SECRET_KEY or FOOTFALL_SECRET_FILE, or hand the service "
                f"the systemd credential {SESSION_SECRET}"
            )
        try:
            return cls(**values)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    """`--db`, defaulting to $FOOTFALL_DB_URL as the web app does, so that every command of a
    deployment opens the same database from the same environment."""
    parser.add_argument(
        "--db",
        default=os.environ.get("FOOTFALL_DB_URL", DEFAULT_DB_URL),
        help=f"SQLAlchemy URL (default $FOOTFALL_DB_URL or {DEFAULT_DB_URL})",
    )


def add_broker_arguments(parser: argparse.ArgumentParser, user: str) -> None:
    """`--mqtt` and `--password-file` of a centre service that subscribes to the broker as `user`
    (ingest, alerts), defaulting to the variables the web app's live page reads."""
    parser.add_argument(
        "--mqtt",
        default=os.environ.get("FOOTFALL_MQTT_URL", "mqtt://127.0.0.1:1883"),
        help="broker URL, mqtt[s]://[user[:password]@]host[:port] (default $FOOTFALL_MQTT_URL)",
    )
    parser.add_argument(
        "--password-file",
        default=os.environ.get("FOOTFALL_MQTT_PASSWORD_FILE"),
        help=f"file holding the {user} user's password (default $FOOTFALL_MQTT_PASSWORD_FILE)",
    )


def _secret(env: Mapping[str, str], name: str, file_variable: str) -> str | None:
    """The secret systemd handed the service as credential `name`, else the one in the file that
    `file_variable` names, else None; read as every secret file is (`read_password`: its first
    line)."""
    handed = credential(name, env)
    if handed is not None:
        where, path = f"the systemd credential {name}", handed
    elif env.get(file_variable):
        where, path = file_variable, Path(env[file_variable])
    else:
        return None
    try:
        return read_password(path, where)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
