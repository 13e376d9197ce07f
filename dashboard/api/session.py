"""Log in and out (cookie session), who am I, my password, my API tokens."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field

from dashboard import auth
from dashboard.api.deps import Conn, User
from dashboard.login_guard import LoginGuard, Refused

router = APIRouter(tags=["session"])


class Credentials(BaseModel):
    name: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class Me(BaseModel):
    name: str
    role: str
    stores: list[str] | None


class PasswordChange(BaseModel):
    current: str = Field(max_length=1000)
    new: str = Field(min_length=8, max_length=1000)


class NewToken(BaseModel):
    days: int = Field(auth.TOKEN_DAYS, ge=1, le=auth.TOKEN_DAYS_MAX, description="Lifetime in days.")
    label: str = Field("", max_length=100, description="What the token is for.")


class Token(BaseModel):
    id: str = Field(description="Start of the token's SHA-256: names it for listing and revoking.")
    user: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class CreatedToken(Token):
    token: str = Field(description="The bearer token itself, shown this once.")


def _me(user: auth.Principal) -> Me:
    return Me(name=user.name, role=user.role, stores=None if user.stores is None else sorted(user.stores))


def _refused(refused: Refused) -> HTTPException:
    """The login guard's refusal as an answer: 429 or 503, with when to try again."""
    return HTTPException(refused.status, refused.reason, headers={"Retry-After": str(refused.retry_after_s)})


def checked_login(request: Request, conn: Conn, name: str, password: str) -> auth.Principal | None:
    """The user if the password is right, else None; HTTPException 429/503 (with Retry-After)
    when the login guard refuses to try. Commits (a password rehash, if any)."""
    guard: LoginGuard = request.app.state.login_guard
    address = request.client.host if request.client else "unknown"
    try:
        user = guard.check(conn, name, password, address)
    except Refused as refused:
        raise _refused(refused) from None
    conn.commit()
    return user


@router.post("/session", response_model=Me, responses={429: {"description": "Too many failed logins"}})
def log_in(credentials: Credentials, request: Request, conn: Conn) -> Me:
    """Log in: a session cookie. After 5 wrong passwords for an account (20 from an address)
    further tries wait, longer each time: 429 with Retry-After."""
    user = checked_login(request, conn, credentials.name, credentials.password)
    if user is None:
        raise HTTPException(401, "wrong user name or password")
    auth.log_in(conn, request, user)
    return _me(user)


@router.delete("/session", status_code=204)
def log_out(request: Request, conn: Conn) -> None:
    """End this session on the server: the cookie, or any copy of it, no longer works."""
    auth.log_out(conn, request)


@router.get("/me", response_model=Me)
def me(user: User) -> Me:
    return _me(user)


@router.put("/me/password", status_code=204)
def change_password(change: PasswordChange, user: User, request: Request, conn: Conn) -> None:
    """Change my password (the current one is checked, with the login's backoff): every
    session of mine ends, this one too; API tokens stay."""
    if checked_login(request, conn, user.name, change.current) is None:
        raise HTTPException(403, "the current password is wrong")
    guard: LoginGuard = request.app.state.login_guard
    try:
        with guard.hashing():
            auth.set_password(conn, user.name, change.new)
    except Refused as refused:
        raise _refused(refused) from None
    conn.commit()
    request.session.clear()


@router.get("/tokens", response_model=list[Token])
def list_tokens(user: User, conn: Conn) -> list[Token]:
    """My API tokens (hq: everyone's), with expiry and last use."""
    return [Token(**asdict(i)) for i in auth.list_tokens(conn, None if user.role == "hq" else user.name)]


@router.post("/tokens", response_model=CreatedToken, status_code=201)
def create_token(wanted: NewToken, user: User, request: Request, conn: Conn) -> CreatedToken:
    """A new API token for me. Only from a logged-in browser session: a token cannot make
    another one (a stolen token would otherwise outlive its expiry)."""
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        raise HTTPException(403, "API tokens are made from a logged-in session, not with a token")
    token = auth.new_token(conn, user.name, wanted.days, wanted.label)
    conn.commit()
    info = next(i for i in auth.list_tokens(conn, user.name) if i.id == auth.token_id(token))
    return CreatedToken(token=token, **asdict(info))


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")], user: User, conn: Conn) -> None:
    """Revoke one API token of mine (hq: anyone's) by its listed id."""
    if not auth.revoke_token(conn, token_id, None if user.role == "hq" else user.name):
        raise HTTPException(404, f"no API token {token_id!r} of yours")
    conn.commit()
