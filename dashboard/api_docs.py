"""The API's documentation, for logged-in users only, with nothing loaded from another host.

`/openapi.json` answers a logged-in user (session cookie or bearer token), else 401; `/docs`
is Swagger UI, or a redirect to the login page. Swagger UI's script, style sheet and icon come
from the `swagger-ui-bundle-v2` package, served by the dashboard under /docs/assets: the page
works on a network without the Internet, and no third party learns who reads it.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from dashboard import auth

ASSETS = Path(swagger_ui_bundle.swagger_ui_path)
ASSETS_URL = "/docs/assets"


def _user(request: Request) -> auth.Principal | None:
    with request.app.state.engine.connect() as conn:
        return auth.request_principal(conn, request)


def add_docs(app: FastAPI) -> None:
    """Mount /docs, /docs/assets and /openapi.json on an app made with docs_url=None and
    openapi_url=None (FastAPI's own would be public and load Swagger UI from a CDN)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs_assets")

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> Response:
        if _user(request) is None:
            return JSONResponse(
                {"detail": "log in (POST /api/v1/session) or send Authorization: Bearer TOKEN"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        if _user(request) is None:
            return RedirectResponse("/login?next=/docs", status_code=303)
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
            # Swagger UI would otherwise send the document to an online validator for a badge.
            swagger_ui_parameters={"validatorUrl": None},
        )
