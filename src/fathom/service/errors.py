"""Error responses: every error is ``{"detail": "<one line naming the field or id>"}`` with a 4xx status; a 422
adds ``errors``, one ``{"field": ..., "message": ...}`` per invalid field (:mod:`fathom.service.openapi` documents
both shapes). A 405 lists in ``Allow`` every method of the path, whichever route answered."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from fathom.online.errors import Conflict, LimitExceeded, NoActiveModel, NotFound

METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def field_errors(exc: RequestValidationError | ValidationError) -> list[dict[str, str]]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "__root__") or "body"
        msg = e.get("msg", "invalid value")
        if e.get("type") == "missing":
            msg = "field required"
        out.append({"field": loc, "message": msg})
    return out


def invalid(loc: tuple[str | int, ...], message: str) -> RequestValidationError:
    """The error a route raises for an input that its type cannot check (answered like FastAPI's own: 422)."""
    return RequestValidationError([{"loc": loc, "msg": message, "type": "value_error"}])


def unprocessable(errors: list[dict[str, str]], headers: dict[str, str] | None = None) -> JSONResponse:
    """The 422 body: ``detail`` joins the field errors into one line."""
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422, headers=headers)


def named_field(detail: str) -> dict[str, str]:
    """``"k: at most 1000 results"`` -> ``{"field": "k", "message": "at most 1000 results"}``: a 422 raised by
    hand names its field before the first ``": "`` (``body`` when it names none)."""
    field, sep, message = detail.partition(": ")
    return {"field": field, "message": message} if sep and field else {"field": "body", "message": detail}


async def _validation(request: Request, exc: RequestValidationError | ValidationError) -> JSONResponse:
    return unprocessable(field_errors(exc))


async def _http(request: Request, exc: HTTPException) -> JSONResponse:
    headers = dict(exc.headers or {})
    if exc.status_code == 422:
        return unprocessable([named_field(str(exc.detail))], headers)
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


async def _limit(request: Request, exc: LimitExceeded) -> JSONResponse:
    return unprocessable([named_field(str(exc))])


def allowed_methods(request: Request) -> list[str]:
    """Methods some route takes on the request's path (Starlette's own 405 names only the first route's)."""
    scope = {k: request.scope[k] for k in ("type", "path", "root_path") if k in request.scope}
    return [method for method in METHODS
            if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in request.app.router.routes)]


def _handler(status: int):  # noqa: ANN202
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handle


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(ValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(NotFound, _handler(404))
    app.add_exception_handler(NoActiveModel, _handler(503))
    app.add_exception_handler(Conflict, _handler(409))
    app.add_exception_handler(LimitExceeded, _limit)  # type: ignore[arg-type]
    app.add_exception_handler(ValueError, _handler(400))
