"""Server-side sessions, API tokens and the login guard, in-process on both backends
(tests/test_web_security.py runs the same against `python -m dashboard serve`)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dashboard import auth, registry
from dashboard import tables as t
from dashboard.__main__ import main as dashboard_main
from dashboard.app import create_app
from dashboard.login_guard import Backoff, HashGate, LoginGuard, Refused
from dashboard.settings import Settings
from dashboard.storage import now_utc

ORIGIN = {"origin": "http://testserver"}
SECRET = "session-tests-" + "Zq9x" * 10


@pytest.fixture
def app(db_url):
    app = create_app(Settings(db_url=db_url, secret_key=SECRET, secure_cookies=False))
    with app.state.engine.begin() as conn:
        registry.save(conn, registry.StoreRecord.model_validate(dict(store=dict(id="s1"))))
        auth.add_user(conn, "boss", "hq", "boss-password")
        auth.add_user(conn, "ann", "manager", "ann-password", ["s1"])
    return app


def logged_in(app, name: str, password: str | None = None) -> TestClient:
    client = TestClient(app)
    response = client.post(
        "/api/v1/session", json=dict(name=name, password=password or f"{name}-password"), headers=ORIGIN
    )
    assert response.status_code == 200, response.text
    return client


def copy_of(app, client: TestClient) -> TestClient:
    """Another client carrying the same cookie (what a thief copied)."""
    thief = TestClient(app)
    thief.cookies.update(client.cookies)
    return thief


def test_logout_ends_the_session_for_every_copy_of_the_cookie(app):
    ann = logged_in(app, "ann")
    stolen = copy_of(app, ann)
    assert stolen.get("/api/v1/me").status_code == 200
    assert ann.delete("/api/v1/session", headers=ORIGIN).status_code == 204
    assert stolen.get("/api/v1/me").status_code == 401
    assert ann.get("/api/v1/me").status_code == 401
    assert logged_in(app, "ann").get("/api/v1/me").json()["name"] == "ann"  # a new login works


def test_a_password_change_ends_every_session_of_the_user(app):
    ann, elsewhere = logged_in(app, "ann"), logged_in(app, "ann")
    boss = logged_in(app, "boss")
    stolen = copy_of(app, ann)
    wrong = ann.put(
        "/api/v1/me/password", json=dict(current="nope-nope", new="new-ann-password"), headers=ORIGIN
    )
    assert wrong.status_code == 403 and stolen.get("/api/v1/me").status_code == 200
    changed = ann.put(
        "/api/v1/me/password", json=dict(current="ann-password", new="new-ann-password"), headers=ORIGIN
    )
    assert changed.status_code == 204, changed.text
    assert [c.get("/api/v1/me").status_code for c in (ann, elsewhere, stolen, boss)] == [401, 401, 401, 200]
    assert (
        TestClient(app)
        .post("/api/v1/session", json=dict(name="ann", password="ann-password"), headers=ORIGIN)
        .status_code
        == 401
    )
    assert logged_in(app, "ann", "new-ann-password").get("/api/v1/me").status_code == 200


def test_users_revoke_and_password_commands_end_sessions_and_tokens(app, capsys, tmp_path):
    url = app.state.storage.url
    ann = logged_in(app, "ann")
    with app.state.engine.begin() as conn:
        token = auth.new_token(conn, "ann")
    bearer = TestClient(app, headers={"authorization": f"Bearer {token}"})
    assert bearer.get("/api/v1/me").status_code == 200
    assert dashboard_main(["users", "--db", url, "revoke", "ann"]) == 0
    assert "ann: 1 session(s) ended, 1 API token(s) deleted" in capsys.readouterr().out
    assert (ann.get("/api/v1/me").status_code, bearer.get("/api/v1/me").status_code) == (401, 401)
    assert dashboard_main(["users", "--db", url, "revoke", "ghost"]) == 2

    boss = logged_in(app, "boss")
    with app.state.engine.begin() as conn:
        boss_token = auth.new_token(conn, "boss")
    (tmp_path / "password").write_text("boss-new-password\n")
    command = ["users", "--db", url, "password", "boss", "--password-file", str(tmp_path / "password")]
    assert dashboard_main(command) == 0
    assert "boss: password changed, 1 session(s) ended" in capsys.readouterr().out
    assert boss.get("/api/v1/me").status_code == 401
    assert (
        TestClient(app, headers={"authorization": f"Bearer {boss_token}"}).get("/api/v1/me").status_code
        == 200
    )
    assert logged_in(app, "boss", "boss-new-password").get("/api/v1/me").status_code == 200


def _age_sessions(app, **columns: timedelta) -> None:
    with app.state.engine.begin() as conn:
        now = now_utc()
        conn.execute(sa.update(t.sessions).values({name: now - age for name, age in columns.items()}))


def test_sessions_end_when_idle_and_after_their_absolute_lifetime(app):
    idle = logged_in(app, "ann")
    _age_sessions(app, seen_at=timedelta(hours=2, seconds=1))
    assert idle.get("/api/v1/me").status_code == 401
    busy = logged_in(app, "ann")
    _age_sessions(app, created_at=timedelta(hours=12, seconds=1), seen_at=timedelta(seconds=30))
    assert busy.get("/api/v1/me").status_code == 401
    fresh = logged_in(app, "ann")
    _age_sessions(app, created_at=timedelta(hours=11), seen_at=timedelta(hours=1))
    assert fresh.get("/api/v1/me").status_code == 200
    with app.state.engine.connect() as conn:  # the use was noted: the idle clock starts again
        assert now_utc() - conn.scalar(sa.select(sa.func.max(t.sessions.c.seen_at))) < timedelta(minutes=1)
        assert conn.scalar(sa.select(sa.func.count()).select_from(t.sessions)) == 1  # ended ones deleted


def test_the_session_cookie_is_secure_unless_plain_http_is_asked_for(db_url):
    secure = create_app(Settings(db_url=db_url, secret_key=SECRET))
    with secure.state.engine.begin() as conn:
        auth.add_user(conn, "boss", "hq", "boss-password")
    response = TestClient(secure, base_url="https://testserver").post(
        "/api/v1/session",
        json=dict(name="boss", password="boss-password"),
        headers={"origin": "https://testserver"},
    )
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert Settings.from_env({"FOOTFALL_SECRET_KEY": SECRET}).secure_cookies
    assert not Settings.from_env(
        {"FOOTFALL_SECRET_KEY": SECRET, "FOOTFALL_SECURE_COOKIES": "0"}
    ).secure_cookies


def test_tokens_expire_are_revoked_one_by_one_and_note_their_last_use(app, capsys):
    with app.state.engine.begin() as conn:
        first = auth.new_token(conn, "ann", days=30, label="reports")
        second = auth.new_token(conn, "ann")
        boss_token = auth.new_token(conn, "boss")
        with pytest.raises(auth.AuthError, match="1-3650 days, got 0"):
            auth.new_token(conn, "ann", days=0)

    def me(token: str) -> int:
        return TestClient(app, headers={"authorization": f"Bearer {token}"}).get("/api/v1/me").status_code

    assert (me(first), me(second)) == (200, 200)
    with app.state.engine.connect() as conn:
        [reports, other] = auth.list_tokens(conn, "ann")
    assert reports.label == "reports" and reports.last_used_at is not None
    assert timedelta(days=29) < reports.expires_at - reports.created_at <= timedelta(days=30)
    assert other.expires_at - other.created_at == timedelta(days=90)

    ann = logged_in(app, "ann")
    listed = ann.get("/api/v1/tokens").json()
    assert [tok["id"] for tok in listed] == [reports.id, other.id]  # her own only
    assert len(logged_in(app, "boss").get("/api/v1/tokens").json()) == 3  # hq sees everyone's
    assert ann.delete(f"/api/v1/tokens/{auth.token_id(boss_token)}", headers=ORIGIN).status_code == 404
    assert ann.delete(f"/api/v1/tokens/{reports.id}", headers=ORIGIN).status_code == 204
    assert (me(first), me(second), me(boss_token)) == (401, 200, 200)

    made = ann.post("/api/v1/tokens", json=dict(days=7, label="laptop"), headers=ORIGIN)
    assert made.status_code == 201 and me(made.json()["token"]) == 200
    assert made.json()["id"] == auth.token_id(made.json()["token"])
    by_token = TestClient(app, headers={"authorization": f"Bearer {second}"}).post("/api/v1/tokens", json={})
    assert by_token.status_code == 403  # a token cannot make a longer-lived one

    with app.state.engine.begin() as conn:
        c = t.api_tokens.c
        conn.execute(
            sa.update(t.api_tokens).where(c.token_sha256.startswith(other.id)).values(expires_at=now_utc())
        )
    assert me(second) == 401

    url = app.state.storage.url
    assert dashboard_main(["users", "--db", url, "tokens", "ann"]) == 0
    out = capsys.readouterr().out
    assert other.id in out and "laptop" in out and reports.id not in out
    assert dashboard_main(["users", "--db", url, "token-revoke", auth.token_id(boss_token)]) == 0
    assert me(boss_token) == 401
    assert dashboard_main(["users", "--db", url, "token-revoke", auth.token_id(boss_token)]) == 2


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_after_the_free_failures_and_a_success_opens_the_account():
    clock = FakeClock()
    backoff = Backoff(free=3, base_s=1, max_s=8, forget_s=60, clock=clock)
    waits = []
    for _ in range(7):
        backoff.failed("ann")
        waits.append(backoff.retry_after_s("ann"))
    assert waits == [0, 0, 1, 2, 4, 8, 8]
    clock.now += 8
    assert backoff.retry_after_s("ann") == 0
    backoff.failed("ann")
    assert backoff.retry_after_s("ann") == 8  # capped
    backoff.succeeded("ann")
    assert backoff.retry_after_s("ann") == 0
    backoff.failed("bob")
    clock.now += 61
    backoff.failed("carl")  # bob's one failure is forgotten after forget_s
    assert "bob" not in backoff._records and "carl" in backoff._records


def test_the_guard_answers_429_per_account_and_per_address_without_hashing(app):
    clock = FakeClock()
    guard = LoginGuard(Backoff(free=2, clock=clock), Backoff(free=4, clock=clock), HashGate(slots=1))
    with app.state.engine.connect() as conn:
        for _ in range(2):
            assert guard.check(conn, "ann", "wrong-password", "10.0.0.1") is None
        with pytest.raises(Refused) as refused:
            guard.check(conn, "Ann", "wrong-password", "10.0.0.2")  # the account, whatever its case
        assert (refused.value.status, refused.value.retry_after_s) == (429, 1)
        with pytest.raises(Refused):
            guard.check(conn, "ann", "ann-password", "10.0.0.2")  # even the right password waits
        for name in ("x", "y"):
            assert guard.check(conn, name, "wrong-password", "10.0.0.1") is None
        with pytest.raises(Refused, match="too many failed logins"):
            guard.check(conn, "boss", "boss-password", "10.0.0.1")  # the address
        assert guard.check(conn, "boss", "boss-password", "10.0.0.3") is not None
        clock.now += 2
        assert guard.check(conn, "ann", "ann-password", "10.0.0.2") is not None


def test_the_hash_gate_bounds_concurrent_hashes_and_refuses_beyond_its_queue():
    gate = HashGate(slots=2, waiting=1, wait_s=30)
    inside, release, running = threading.Semaphore(0), threading.Event(), []

    def hold() -> None:
        with gate.slot():
            running.append(1)
            inside.release()
            release.wait(30)

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for thread in holders:
        thread.start()
    for _ in holders:
        assert inside.acquire(timeout=30)
    waiter = threading.Thread(target=hold)
    waiter.start()
    while gate._queued == 0:  # the third waits for a slot
        threading.Event().wait(0.01)
    with pytest.raises(Refused) as refused:
        with gate.slot():
            pass
    assert (refused.value.status, refused.value.retry_after_s) == (503, 1)
    assert len(running) == 2
    release.set()
    for thread in [*holders, waiter]:
        thread.join(30)
    assert len(running) == 3
