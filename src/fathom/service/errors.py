"""Error responses: every error is ``{"detail": "<one line naming the field or id>"}`` with a 4xx status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from fathom.online.errors import Conflict, LimitExceeded, NoActiveModel, NotFound


def field_errors(exc: RequestValidationError | ValidationError) -> list[dict[str, str]]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "__root__") or "body"
        msg = e.get("msg", "invalid value")
        if e.get("type") == "missing":
            msg = "field required"
        out.append({"field": loc, "message": msg})
    return out


async def _validation(request: Request, exc: RequestValidationError | ValidationError) -> JSONResponse:
    errors = field_errors(exc)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)


def _handler(status: int):  # noqa: ANN202
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handle


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(ValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(NotFound, _handler(404))
    app.add_exception_handler(NoActiveModel, _handler(503))
    app.add_exception_handler(Conflict, _handler(409))
    app.add_exception_handler(LimitExceeded, _handler(422))
    app.add_exception_handler(ValueError, _handler(400))
