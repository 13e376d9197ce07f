"""The 422 answer of the dashboard's and the calibration page's JSON APIs.

FastAPI's own answer to a request its models refuse echoes each refused value back. Python's
JSON parser takes `NaN` and `Infinity`, which JSON itself cannot carry, so a body holding one
where a model refuses it made the echo unwritable and the answer a 500. This answer names
each refused field (`loc`), says why (`msg`, `type`) and echoes nothing: a hostile value is
neither written back nor logged as a server error.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


async def refused_request(_: Request, exc: Exception) -> JSONResponse:
    """422 with each refused field's place in the request and the reason, without its value."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]} for error in errors]
    return JSONResponse({"detail": detail}, status_code=422)


def answer_refused_requests(app: FastAPI) -> None:
    """Install `refused_request` as `app`'s answer to a request its models refuse."""
    app.add_exception_handler(RequestValidationError, refused_request)
