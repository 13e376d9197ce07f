"""Messages the ingest could not store, newest first (hq only): what arrived, on which topic, why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from dashboard.api.deps import Format, HqUser, csv_response, json_response
from dashboard.read_models import DeadLetter

router = APIRouter(tags=["dead letters"])


@router.get("/dead-letters", response_model=list[DeadLetter])
def dead_letters(
    request: Request,
    user: HqUser,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    format: Format = "json",
):
    """Payloads are shown as text (undecodable bytes replaced), cut at 2,000 characters."""
    rows = [
        DeadLetter(**dict(row, payload=row["payload"].decode("utf-8", "replace")[:2000]))
        for row in request.app.state.storage.dead_letters(limit)
    ]
    return csv_response(rows, "dead-letters.csv") if format == "csv" else json_response(rows)
