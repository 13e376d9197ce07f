"""Log in and out (cookie session) and who am I."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from dashboard import auth
from dashboard.api.deps import Conn, User

router = APIRouter(tags=["session"])


class Credentials(BaseModel):
    name: str
    password: str


class Me(BaseModel):
    name: str
    role: str
    stores: list[str] | None


def _me(user: auth.Principal) -> Me:
    return Me(name=user.name, role=user.role, stores=None if user.stores is None else sorted(user.stores))


@router.post("/session", response_model=Me)
def log_in(credentials: Credentials, request: Request, conn: Conn) -> Me:
    user = auth.authenticate(conn, credentials.name, credentials.password)
    conn.commit()  # a password rehash, if any
    if user is None:
        raise HTTPException(401, "wrong user name or password")
    auth.log_in(request, user)
    return _me(user)


@router.delete("/session", status_code=204)
def log_out(request: Request) -> None:
    auth.log_out(request)


@router.get("/me", response_model=Me)
def me(user: User) -> Me:
    return _me(user)
