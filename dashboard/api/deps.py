"""Dependencies shared by the API routers, as `Annotated` aliases.

`Conn` is one database connection per request, from the engine that `create_app` put in
`app.state.engine`; tests swap it with `app.dependency_overrides[get_conn]`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter

from dashboard import auth
from dashboard.alerts import journal

STORE_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def get_conn(request: Request) -> Iterator[sa.Connection]:
    with request.app.state.engine.connect() as conn:
        yield conn


Conn = Annotated[sa.Connection, Depends(get_conn)]


def current_user(request: Request, conn: Conn) -> auth.Principal:
    user = auth.request_principal(conn, request)
    if user is None:
        raise HTTPException(
            401,
            "log in (POST /api/v1/session) or send Authorization: Bearer TOKEN",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


User = Annotated[auth.Principal, Depends(current_user)]


def hq_user(user: User) -> auth.Principal:
    if user.role != "hq":
        raise HTTPException(403, f"user {user.name!r} is a {user.role}; this needs the hq role")
    return user


HqUser = Annotated[auth.Principal, Depends(hq_user)]


def visible_store(store_id: Annotated[str, Path(pattern=STORE_ID)], user: User) -> str:
    """`store_id`, if this user may see it (403 otherwise, before any query runs); as the
    dependency `StoreId`, the path's store."""
    if not user.can_see(store_id):
        raise HTTPException(403, f"user {user.name!r} may not see store {store_id!r}")
    return store_id


StoreId = Annotated[str, Depends(visible_store)]


def visible_alert(conn: sa.Connection, user: auth.Principal, alert_id: int) -> str:
    """The store of alert `alert_id`, if this user may see it (404 for no such alert, 403 for
    another user's store)."""
    store = journal.store_of(conn, alert_id)
    if store is None:
        raise HTTPException(404, f"no alert {alert_id}")
    return visible_store(store, user)


Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...) and
# friends); a tab or carriage return can hide one behind whitespace.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """One CSV cell as text: lists and dicts as JSON, dates in ISO 8601, None empty. Text that a
    spreadsheet would run as a formula (a store name, a device-controlled dead-letter topic or
    reason) gets a leading `'`, which spreadsheets show as text; numbers stay numbers."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if value is None:
        return ""
    if isinstance(value, (str, bytes)):
        text = value if isinstance(value, str) else value.decode("utf-8", "backslashreplace")
        return "'" + text if text.startswith(FORMULA_STARTS) else text
    return str(value)


def json_response(data: BaseModel | list[BaseModel]) -> Response:
    """A read model (or a list of them) as JSON, serialised by pydantic in one pass: the route
    declares the model as its `response_model` for the OpenAPI document, and FastAPI's
    per-value validation and encoding (hundreds of milliseconds for the comparison of 1,000
    stores) is skipped."""
    if isinstance(data, list):
        body = TypeAdapter(list[type(data[0])] if data else list[BaseModel]).dump_json(data)
    else:
        body = data.model_dump_json()
    return Response(body, media_type="application/json")


def csv_response(rows: Sequence[Mapping[str, Any] | BaseModel], filename: str) -> Response:
    """Rows (dicts or read models with the same keys) as a CSV download, every cell (the header's
    too) through `csv_cell`. Every CSV the dashboard serves is made here."""
    rows = [row.model_dump() if isinstance(row, BaseModel) else row for row in rows]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if rows:
        writer.writerow([csv_cell(key) for key in rows[0]])
        writer.writerows([csv_cell(v) for v in row.values()] for row in rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# Years the API and the pages accept: any real data, and no date arithmetic near the end of the
# calendar (a week after 9999-12-31 does not exist).
YEARS = (2000, 2100)


def date_range(start: date, end: date) -> tuple[date, date]:
    for day in (start, end):
        if not YEARS[0] <= day.year <= YEARS[1]:
            raise HTTPException(422, f"date {day} is outside the years {YEARS[0]}-{YEARS[1]}")
    if end < start:
        raise HTTPException(422, f"end {end} is before start {start}")
    if (end - start).days > 400:
        raise HTTPException(422, f"range {start}..{end} is longer than 400 days")
    return start, end
