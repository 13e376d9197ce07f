"""Users, roles and who may see which store.

Roles: `hq` sees every store and manages the registry; `manager` sees only the stores listed
for them in `user_stores`. Passwords are argon2id hashes (argon2-cffi), computed through
`dashboard.login_guard` where a request waits for them. A browser logs in once and carries a
signed cookie (Starlette SessionMiddleware, SameSite=strict) holding only a random session id:
the session itself is a `sessions` row (its id's SHA-256), so logging out, a password change and
`users revoke` end it on the server, and it ends after an idle time and an absolute lifetime
(`SessionPolicy`). Scripts send `Authorization: Bearer TOKEN` with a token from `python -m
dashboard users token NAME` (only its SHA-256 is stored; each has an expiry and a last-used
time and can be revoked alone). State-changing requests that ride on the cookie must come from
the dashboard's own origin (see `same_origin`), which with SameSite=strict closes CSRF.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
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
# Last-use times are written at most this often per session or token (not on every request).
TOUCH_S = 60
TOKEN_DAYS = 90
TOKEN_DAYS_MAX = 3650
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
    """Create or replace a user (its password, role and stores); a replaced user's sessions and
    API tokens end with it."""
    stores = sorted(set(stores))
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    _check_password(name, password)
    if role == "manager" and not stores:
        raise AuthError(f"manager {name!r} needs at least one store (--stores a,b)")
    unknown = set(stores) - set(conn.scalars(sa.select(t.stores.c.id).where(t.stores.c.id.in_(stores))))
    if unknown:
        raise AuthError(f"unknown store(s) for {name!r}: {', '.join(sorted(unknown))}")
    revoke(conn, name)
    conn.execute(sa.delete(t.users).where(t.users.c.name == name))
    conn.execute(
        sa.insert(t.users),
        dict(name=name, role=role, password_hash=_hasher.hash(password), created_at=now_utc()),
    )
    if role == "manager":
        conn.execute(sa.insert(t.user_stores), [dict(user_name=name, store_id=s) for s in stores])


def _check_password(name: str, password: str) -> None:
    if len(password) < 8:
        raise AuthError(f"password for {name!r} is shorter than 8 characters")


def remove_user(conn: sa.Connection, name: str) -> None:
    """Delete a user with its stores, sessions and API tokens."""
    if principal(conn, name) is None:
        raise AuthError(f"no user {name!r}")
    revoke(conn, name)
    for table, column in ((t.user_stores, "user_name"), (t.users, "name")):
        conn.execute(sa.delete(table).where(table.c[column] == name))


def set_password(conn: sa.Connection, name: str, password: str) -> int:
    """Change a user's password and end every session of theirs (a stolen cookie dies with the
    old password); API tokens stay. Returns the number of sessions ended."""
    if principal(conn, name) is None:
        raise AuthError(f"no user {name!r}")
    _check_password(name, password)
    conn.execute(
        sa.update(t.users).where(t.users.c.name == name).values(password_hash=_hasher.hash(password))
    )
    return conn.execute(sa.delete(t.sessions).where(t.sessions.c.user_name == name)).rowcount


def revoke(conn: sa.Connection, name: str) -> tuple[int, int]:
    """End every session and delete every API token of a user (a lost laptop, a leaver):
    their next request is a 401. Returns (sessions, tokens) ended."""
    sessions = conn.execute(sa.delete(t.sessions).where(t.sessions.c.user_name == name)).rowcount
    tokens = conn.execute(sa.delete(t.api_tokens).where(t.api_tokens.c.user_name == name)).rowcount
    return sessions, tokens


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


# ---- API tokens ----------------------------------------------------------------------------

TOKEN_ID_CHARS = 12


@dataclass(frozen=True)
class TokenInfo:
    """An API token as listed: `id` is the start of its SHA-256 (the token itself is never kept)."""

    id: str
    user: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


def token_id(token: str) -> str:
    """The listed id of a token: the start of its SHA-256."""
    return _digest(token)[:TOKEN_ID_CHARS]


def new_token(conn: sa.Connection, name: str, days: int = TOKEN_DAYS, label: str = "") -> str:
    """A new API bearer token for an existing user, valid `days` days; shown once, only its hash
    is kept."""
    if principal(conn, name) is None:
        raise AuthError(f"no user {name!r}")
    if not 1 <= days <= TOKEN_DAYS_MAX:
        raise AuthError(f"token lifetime for {name!r} must be 1-{TOKEN_DAYS_MAX} days, got {days}")
    if len(label) > 100:
        raise AuthError(f"token label for {name!r} is longer than 100 characters")
    token = secrets.token_urlsafe(32)
    now = now_utc()
    conn.execute(
        sa.insert(t.api_tokens),
        dict(
            token_sha256=_digest(token),
            user_name=name,
            created_at=now,
            expires_at=now + timedelta(days=days),
            label=label,
        ),
    )
    return token


def list_tokens(conn: sa.Connection, name: str | None = None) -> list[TokenInfo]:
    """API tokens of one user (None: of everyone), oldest first, expired ones included."""
    c = t.api_tokens.c
    query = sa.select(t.api_tokens).order_by(c.user_name, c.created_at)
    rows = conn.execute(query if name is None else query.where(c.user_name == name))
    return [
        TokenInfo(
            r.token_sha256[:TOKEN_ID_CHARS], r.user_name, r.label, r.created_at, r.expires_at, r.last_used_at
        )
        for r in rows
    ]


def revoke_token(conn: sa.Connection, token_id: str, name: str | None = None) -> bool:
    """Delete one token by its listed id (of user `name` only, unless None); False if there is
    no such token."""
    if len(token_id) != TOKEN_ID_CHARS or not all(ch in "0123456789abcdef" for ch in token_id):
        raise AuthError(f"token id must be {TOKEN_ID_CHARS} hex characters as listed, got {token_id!r}")
    c = t.api_tokens.c
    where = c.token_sha256.startswith(token_id)
    if name is not None:
        where = where & (c.user_name == name)
    return conn.execute(sa.delete(t.api_tokens).where(where)).rowcount > 0


def token_principal(conn: sa.Connection, token: str) -> Principal | None:
    """The user of an unexpired token (its last-used time noted, at most once a minute)."""
    c = t.api_tokens.c
    row = conn.execute(
        sa.select(c.user_name, c.expires_at, c.last_used_at).where(c.token_sha256 == _digest(token))
    ).first()
    now = now_utc()
    if row is None or row.expires_at is None or row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at >= timedelta(seconds=TOUCH_S):
        conn.execute(sa.update(t.api_tokens).where(c.token_sha256 == _digest(token)).values(last_used_at=now))
        conn.commit()
    return principal(conn, row.user_name)


# ---- browser sessions ----------------------------------------------------------------------


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives: `idle_s` without a request, `absolute_s` after its login."""

    idle_s: int
    absolute_s: int


def log_in(conn: sa.Connection, request: Request, user: Principal) -> None:
    """Start a session: a new row and a fresh cookie holding only its random id (a session id
    planted before the login is never reused). Commits."""
    request.session.clear()
    session_id = secrets.token_urlsafe(32)
    now = now_utc()
    prune_sessions(conn, request.app.state.session_policy, now)
    conn.execute(
        sa.insert(t.sessions),
        dict(id_sha256=_digest(session_id), user_name=user.name, created_at=now, seen_at=now),
    )
    conn.commit()
    request.session["sid"] = session_id


def log_out(conn: sa.Connection, request: Request) -> None:
    """End this request's session on the server (a copy of the cookie is worthless) and clear
    the cookie. Commits."""
    session_id = request.session.get("sid") if "session" in request.scope else None
    if session_id:
        conn.execute(sa.delete(t.sessions).where(t.sessions.c.id_sha256 == _digest(session_id)))
        conn.commit()
    request.session.clear()


def session_principal(conn: sa.Connection, session_id: str, policy: SessionPolicy) -> Principal | None:
    """The user of a live session; an expired one is deleted. Its last-seen time is written at
    most once a minute."""
    c = t.sessions.c
    key = _digest(session_id)
    row = conn.execute(sa.select(c.user_name, c.created_at, c.seen_at).where(c.id_sha256 == key)).first()
    if row is None:
        return None
    now = now_utc()
    if now - row.seen_at >= timedelta(seconds=policy.idle_s) or now - row.created_at >= timedelta(
        seconds=policy.absolute_s
    ):
        conn.execute(sa.delete(t.sessions).where(c.id_sha256 == key))
        conn.commit()
        return None
    if now - row.seen_at >= timedelta(seconds=TOUCH_S):
        conn.execute(sa.update(t.sessions).where(c.id_sha256 == key).values(seen_at=now))
        conn.commit()
    return principal(conn, row.user_name)


def prune_sessions(conn: sa.Connection, policy: SessionPolicy, now: datetime | None = None) -> int:
    """Delete sessions past either lifetime (each ends at its next request anyway: this keeps
    the table small). Returns how many."""
    now = now or now_utc()
    c = t.sessions.c
    old = (c.seen_at <= now - timedelta(seconds=policy.idle_s)) | (
        c.created_at <= now - timedelta(seconds=policy.absolute_s)
    )
    return conn.execute(sa.delete(t.sessions).where(old)).rowcount


def request_principal(conn: sa.Connection, request: Request) -> Principal | None:
    """Who sent the request: a bearer token, else the session cookie; None if neither (or if
    the token expired, the session ended, or the user is gone)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return token_principal(conn, header[7:].strip())
    session_id = request.session.get("sid") if "session" in request.scope else None
    if not session_id:
        return None
    return session_principal(conn, session_id, request.app.state.session_policy)


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
