"""Point-of-sale transactions per store and hour (import), and conversion read back."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from dashboard import pos
from dashboard.api.deps import Conn, Format, StoreId, csv_response, date_range, json_response

router = APIRouter(tags=["point of sale"])
BODY = {
    "required": True,
    "content": {
        "text/csv": {
            "schema": {"type": "string"},
            "example": "hour_start,transactions,sales_amount\n"
            "2026-03-02T10:00,14,512.40\n2026-03-02T11:00,21,\n",
        },
        "application/json": {"schema": {"type": "array", "items": pos.PosRow.model_json_schema()}},
    },
}


async def _body_text(request: Request) -> str:
    """The request body, read no further than `pos.MAX_IMPORT_BYTES` (413 beyond: a declared
    Content-Length is refused before anything is read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > pos.MAX_IMPORT_BYTES:
        raise HTTPException(413, str(pos.too_many_bytes("body", int(declared))))
    chunks, size_bytes = [], 0
    async for chunk in request.stream():
        size_bytes += len(chunk)
        if size_bytes > pos.MAX_IMPORT_BYTES:
            raise HTTPException(413, str(pos.too_many_bytes("body")))
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def _import(engine: sa.Engine, store_id: str, text: str, json_body: bool) -> pos.PosImport:
    rows = pos.read_json_text(text) if json_body else pos.read_csv(text)
    with engine.begin() as conn:  # every row, or none
        return pos.import_rows(conn, rows, store_id, source=f"transactions for {store_id}")


@router.post(
    "/stores/{store_id}/transactions", response_model=pos.PosImport, openapi_extra={"requestBody": BODY}
)
async def post_transactions(store_id: StoreId, request: Request) -> pos.PosImport:
    """Transactions per local hour, as CSV (Content-Type text/csv: columns hour_start,
    transactions, optional sales_amount) or a JSON list of rows. An hour already stored is
    replaced. A bad row refuses the whole import: 422 with each bad row's line and reason.
    Managers may post for their own stores only. At most 4 MiB and 50,000 rows an import
    (413 beyond, nothing imported)."""
    body = await _body_text(request)
    json_body = request.headers.get("content-type", "").startswith("application/json")
    try:
        return await run_in_threadpool(_import, request.app.state.engine, store_id, body, json_body)
    except pos.PosImportError as exc:
        raise HTTPException(
            422, dict(message=str(exc), errors=[e.model_dump() for e in exc.errors])
        ) from None
    except pos.ImportTooLarge as exc:
        raise HTTPException(413, str(exc)) from None


@router.get("/stores/{store_id}/conversion", response_model=pos.Conversion)
def conversion(
    store_id: StoreId,
    conn: Conn,
    start: date,
    end: date,
    grain: pos.Grain = "day",
    format: Format = "json",
):
    """Transactions ÷ footfall per local hour, day, ISO week or hour of day, over the hours
    that have both."""
    first, last = date_range(start, end)
    data = pos.conversion(conn, store_id, first, last, grain)
    if format == "csv":
        return csv_response(data.periods, f"{store_id}-conversion-{grain}-{first}-{last}.csv")
    return json_response(data)
