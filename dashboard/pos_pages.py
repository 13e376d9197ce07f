"""Point-of-sale import from the trends page: a store's manager (or HQ) uploads the tills'
export, CSV or JSON, for one store.

Same rules as `POST /api/v1/stores/{id}/transactions` (dashboard.pos): every row checked
before anything is written, one bad row refuses the whole file with each bad row's line and
reason, an hour already stored is replaced, at most `pos.MAX_IMPORT_BYTES` and
`pos.MAX_IMPORT_ROWS`. The size is refused from the declared Content-Length before the form is
parsed (browsers always declare it; a post without one gets 411), so an oversized file is
never spooled to disk. The form carries the session's CSRF token and must come from this
origin.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from dashboard import pos
from dashboard.api.deps import Conn
from dashboard.pages import PageRoute, PageStore, PageUser, check_csrf, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)
FORM_OVERHEAD_BYTES = 16 * 1024  # multipart boundaries, headers and the CSRF token around the file


def _import(request: Request, store_id: str, text: str, json_body: bool) -> pos.PosImport:
    rows = pos.read_json_text(text) if json_body else pos.read_csv(text)
    with request.app.state.engine.begin() as conn:  # every row, or none
        return pos.import_rows(conn, rows, store_id, source=f"transactions for {store_id}")


@router.post("/stores/{store_id}/transactions", name="pos_upload")
async def pos_upload(request: Request, user: PageUser, store: PageStore, conn: Conn):
    def answer(status_code: int, **outcome):
        return render(
            request,
            "pos_import.html",
            user,
            status_code=status_code,
            active="trends",
            nav_store=store.id,
            store=store,
            limits=(pos.MAX_IMPORT_BYTES, pos.MAX_IMPORT_ROWS),
            **outcome,
        )

    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise HTTPException(411, "send the file from the trends page's form (no Content-Length declared)")
    if int(declared) > pos.MAX_IMPORT_BYTES + FORM_OVERHEAD_BYTES:
        return answer(413, message=str(pos.too_many_bytes("file", int(declared))))
    form = await request.form(max_files=1, max_fields=2, max_part_size=FORM_OVERHEAD_BYTES)
    check_csrf(request, str(form.get("csrf_token", "")))
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return answer(422, message="file: choose the tills' CSV or JSON export to import")
    data = await upload.read(pos.MAX_IMPORT_BYTES + 1)
    if len(data) > pos.MAX_IMPORT_BYTES:
        return answer(413, message=str(pos.too_many_bytes(upload.filename or "file")))
    json_body = (upload.filename or "").lower().endswith(".json")
    try:
        done = await run_in_threadpool(_import, request, store.id, data.decode("utf-8", "replace"), json_body)
    except pos.ImportTooLarge as exc:
        return answer(413, message=str(exc))
    except pos.PosImportError as exc:
        bad = f"{upload.filename or 'file'}: {len(exc.errors)} bad row(s), nothing imported"
        return answer(422, message=bad, errors=exc.errors)
    return answer(200, done=done, filename=upload.filename)
