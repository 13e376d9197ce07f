"""The calibration page's access token: without it nothing is served or saved, with it the
page works through a cookie; `python -m calibration serve` makes one per run and prints it."""

from pathlib import Path
from unittest import mock
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient

from calibration import __main__ as cli
from calibration.web import TOKEN_COOKIE, create_app
from footfall_core.store import load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "pets09.yaml"
TOKEN = "s3cret-Token_for-tests"


@pytest.fixture
def store(tmp_path, assets) -> Path:
    path = tmp_path / "pets09.yaml"
    path.write_text(EXAMPLE.read_text())
    return path


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/"),
        ("GET", "/api/store"),
        ("GET", "/api/discover"),
        ("GET", "/static/calibrate.js"),
        ("GET", "/api/cameras/view001/snapshot.jpg"),
        ("PUT", "/api/layout"),
        ("POST", "/api/cameras/view001/line-doubt"),
        ("POST", "/api/audit/clip"),
        ("PUT", "/api/audit/clip"),
        ("GET", "/api/audit/frames/0.jpg"),
        ("POST", "/api/audit/run"),
    ],
)
@pytest.mark.parametrize("given", [None, "wrong", TOKEN[:-1]])
def test_without_the_token_nothing_is_served_or_saved(store, method, path, given):
    before = store.read_text()
    client = TestClient(create_app(store, TOKEN))
    if given is not None:
        client.cookies.set(TOKEN_COOKIE, given)
    response = client.request(method, path, json={"zones": [], "lines": []})
    assert response.status_code == 401
    assert "access token" in response.json()["detail"]
    assert store.read_text() == before


def test_the_token_in_the_url_sets_a_cookie_that_opens_the_page_and_its_api(store):
    client = TestClient(create_app(store, TOKEN))
    first = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/"
    assert "httponly" in first.headers["set-cookie"].lower()
    assert client.get("/").status_code == 200  # the cookie, not the URL, from now on
    cameras = client.get("/api/store").json()["cameras"]
    assert [c["name"] for c in cameras] == ["view001"]
    saved = client.put("/api/layout", json={"zones": [], "lines": []})
    assert saved.status_code == 200
    assert load_config(store).zones == [] and load_config(store).lines == []


def test_no_token_leaves_the_page_open(store):
    assert TestClient(create_app(store)).get("/api/store").status_code == 200


def test_serve_prints_a_fresh_token_that_opens_the_app(store, capsys):
    with mock.patch("uvicorn.run") as run:
        assert cli.main(["serve", str(store), "--port", "8399"]) == 0
        assert cli.main(["serve", str(store), "--port", "8399"]) == 0
    urls = [line.split("open ", 1)[1] for line in capsys.readouterr().out.splitlines() if "open http" in line]
    tokens = [parse_qs(urlparse(url).query)["token"][0] for url in urls]
    assert len(tokens) == 2 and tokens[0] != tokens[1] and len(tokens[0]) >= 32
    app = run.call_args.args[0]
    client = TestClient(app)
    assert client.get("/api/store").status_code == 401
    assert client.get(f"/api/store?token={tokens[1]}").status_code == 200
