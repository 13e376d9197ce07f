"""Users, roles and who may see which store.

Roles: `hq` sees every store and manages the registry; `manager` sees only the stores listed
for them in `user_stores`. Passwords are argon2id hashes (argon2-cffi). A browser logs in once
and carries a signed session cookie (Starlette SessionMiddleware, SameSite=strict); scripts
send `Authorization: Bearer TOKEN` with a token from `python -m dashboard users token NAME`
(only its SHA-256 is stored). State-changing requests that ride on the cookie must come from
the dashboard's own origin (see `same_origin`), which with SameSite=strict closes CSRF.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import Request

from dashboard import tables as t
from dashboard.storage import now_utc

Role = Literal["hq", "manager"]
ROLES = ("hq", "manager")
_hasher = PasswordHasher()
# Verifying against this keeps an unknown user as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AuthError(ValueError):
    """A user command or login that cannot be done; the message says why."""


@dataclass(frozen=True)
class Principal:
    """Who is asking. `stores` is None for hq (every store)."""

    name: str
    role: Role
    stores: frozenset[str] | None

    def can_see(self, store_id: str) -> bool:
        return self.stores is None or store_id in self.stores

    def visible(self, wanted: Iterable[str] | None = None) -> set[str] | None:
        """Store ids this user may see among `wanted` (None: all stores they may see)."""
        if wanted is None:
            return None if self.stores is None else set(self.stores)
        return {s for s in wanted if self.can_see(s)}


def add_user(conn: sa.Connection, name: str, role: str, password: str, stores: Iterable[str] = ()) -> None:
    """Create or replace a user (its password, role and stores)."""
    stores = sorted(set(stores))
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if len(password) < 8:
        raise AuthError(f"password for {name!r} is shorter than 8 characters")
    if role == "manager" and not stores:
        raise AuthError(f"manager {name!r} needs at least one store (--stores a,b)")
    unknown = set(stores) - set(conn.scalars(sa.select(t.stores.c.id).where(t.stores.c.id.in_(stores))))
    if unknown:
        raise AuthError(f"unknown store(s) for {name!r}: {', '.join(sorted(unknown))}")
    conn.execute(sa.delete(t.users).where(t.users.c.name == name))
    conn.execute(
        sa.insert(t.users),
        dict(name=name, role=role, password_hash=_hasher.hash(password), created_at=now_utc()),
    )
    if role == "manager":
        conn.execute(sa.insert(t.user_stores), [dict(user_name=name, store_id=s) for s in stores])


def remove_user(conn: sa.Connection, name: str) -> None:
    """Delete a user with its stores and API tokens: its sessions end at their next request."""
    if principal(conn, name) is None:
        raise AuthError(f"no user {name!r}")
    for table, column in ((t.api_tokens, "user_name"), (t.user_stores, "user_name"), (t.users, "name")):
        conn.execute(sa.delete(table).where(table.c[column] == name))


def principal(conn: sa.Connection, name: str) -> Principal | None:
    role = conn.scalar(sa.select(t.users.c.role).where(t.users.c.name == name))
    if role is None:
        return None
    if role == "hq":
        return Principal(name, "hq", None)
    stores = conn.scalars(sa.select(t.user_stores.c.store_id).where(t.user_stores.c.user_name == name))
    return Principal(name, role, frozenset(stores))


def authenticate(conn: sa.Connection, name: str, password: str) -> Principal | None:
    """The user if the password matches, else None (same time either way)."""
    stored = conn.scalar(sa.select(t.users.c.password_hash).where(t.users.c.name == name))
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if stored is None:
        return None
    if _hasher.check_needs_rehash(stored):
        conn.execute(
            sa.update(t.users).where(t.users.c.name == name).values(password_hash=_hasher.hash(password))
        )
    return principal(conn, name)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(conn: sa.Connection, name: str) -> str:
    """A new API bearer token for an existing user; shown once, only its hash is kept."""
    if principal(conn, name) is None:
        raise AuthError(f"no user {name!r}")
    token = secrets.token_urlsafe(32)
    conn.execute(
        sa.insert(t.api_tokens), dict(token_sha256=_digest(token), user_name=name, created_at=now_utc())
    )
    return token


def token_principal(conn: sa.Connection, token: str) -> Principal | None:
    name = conn.scalar(
        sa.select(t.api_tokens.c.user_name).where(t.api_tokens.c.token_sha256 == _digest(token))
    )
    return principal(conn, name) if name else None


def log_in(request: Request, user: Principal) -> None:
    """Start a cookie session (a fresh one, so that a planted session id cannot be reused)."""
    request.session.clear()
    request.session["user"] = user.name


def log_out(request: Request) -> None:
    request.session.clear()


def request_principal(conn: sa.Connection, request: Request) -> Principal | None:
    """Who sent the request: a bearer token, else the session cookie; None if neither."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return token_principal(conn, header[7:].strip())
    name = request.session.get("user") if "session" in request.scope else None
    return principal(conn, name) if name else None


def same_origin(request: Request) -> bool:
    """True when a state-changing request comes from this site: its Origin (or Referer) has the
    host the request was sent to. Bearer-token requests are not exposed to CSRF and pass."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.headers.get(
        "authorization", ""
    ).lower().startswith("bearer "):
        return True
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return False
    return urlsplit(source).netloc == request.headers.get("host", "")
