"""The OpenAPI document says what the service answers.

FastAPI documents each route's success and, for routes with inputs, a 422 in its own shape (``detail`` a list).
:func:`describe` rewrites that document, once per app, to match :mod:`fathom.service.errors` and the settings:

- error bodies: ``ErrorOut`` (``{"detail": "..."}``) for every error, ``ValidationErrorOut`` (``detail`` plus
  ``errors``, one per invalid field) for 422;
- the statuses of each operation: those of :data:`STATUSES`, plus those its inputs imply (422 for parameters or
  a body; 400 for a body that is not JSON and 413 for one over ``max_body_bytes``; 403 for a write sent by
  another site's page; 401 and 403 where it reads ``X-API-Key`` and a key is set; 400 for a Host header not in
  ``allowed_hosts``);
- ``X-API-Key`` as the security scheme ``APIKey`` (an API key in a header) instead of a header parameter;
- limits that are settings, not types: ``k`` (at most ``max_k``), events per batch (at most ``max_batch``),
  the signal names search ``weights`` may give.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from fathom.service.routers.search import search_signals
from fathom.service.settings import ServiceSettings

Spec = dict[str, Any]


class ErrorOut(BaseModel):
    """Every error: one line naming the field, id or limit at fault."""

    detail: str


class FieldError(BaseModel):
    field: str
    """Where: ``body.k``, ``query.filter``, ``path.version`` ..."""
    message: str


class ValidationErrorOut(ErrorOut):
    """A 422: ``detail`` joins ``errors`` into one line."""

    errors: list[FieldError]


DESCRIPTIONS = {
    400: "Bad request: a body that is not JSON, a host name the service does not answer to, or a name the store "
         "does not know where the schema cannot say which names exist (a filter or facet on an attribute the "
         "catalogue does not have)",
    401: "The header X-API-Key is missing (this service has an API key)",
    403: "A wrong X-API-Key, or a write that a browser sent from another site's page (Origin)",
    404: "Unknown id: user, item or model version",
    409: "Conflict with the current state (nothing to roll back to, another process training, an Idempotency-Key "
         "used before for other events)",
    413: "The body is larger than the service's max_body_bytes",
    422: "Invalid input: `errors` names each field at fault",
    503: "No model version is active yet",
}

# operation -> the statuses it answers that its inputs do not imply (see the module docstring)
STATUSES: dict[str, tuple[int, ...]] = {
    "POST /recommend": (400, 404, 503),
    "GET /recommend/{user_id}": (400, 404, 503),
    "GET /similar/{item_id}": (400, 404, 503),
    "POST /search": (400,),
    "GET /search": (400,),
    "POST /events": (404, 409),
    "POST /events/batch": (404, 409),
    "GET /items/{item_id}": (404,),
    "DELETE /items/{item_id}": (404,),
    "GET /users/{user_id}": (404,),
    "DELETE /users/{user_id}": (404,),
    "POST /models/{version}/activate": (400, 404),
    "POST /models/rollback": (400, 409),
    "POST /models/train": (400, 409, 503),
    "POST /chat": (400, 404, 503),
}
OPTIONAL_KEY = {"POST /recommend", "POST /chat"}
"""Operations that read X-API-Key for some requests only (a known user's recommendations, not anonymous ones)."""
UNSAFE = {"post", "put", "patch", "delete"}
KEY_HEADER = "x-api-key"
SCHEME = "APIKey"
ERROR_SCHEMAS = ("ErrorOut", "ValidationErrorOut", "FieldError")


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`describe`'s document at ``/openapi.json`` (built at the first request, then kept)."""
    settings: ServiceSettings = app.state.settings

    def openapi() -> Spec:
        if app.openapi_schema is None:
            app.openapi_schema = describe(FastAPI.openapi(app), settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def describe(spec: Spec, settings: ServiceSettings) -> Spec:
    """``spec`` (FastAPI's document, changed in place) with the service's errors, statuses, security and limits."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorOut, ValidationErrorOut):
        defs = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(defs.pop("$defs", {}))
        schemas[model.__name__] = defs
    operations = {f"{method.upper()} {path}": op for path, item in spec["paths"].items() for method, op in item.items()}
    unknown = set(STATUSES) - set(operations)
    if unknown:
        raise KeyError(f"STATUSES names operations the app does not have: {sorted(unknown)}")
    keyed = settings.write_key is not None
    any_host = "*" in settings.allowed_hosts
    for name, op in operations.items():
        reads_key = _drop_key_header(op)
        statuses = set(STATUSES.get(name, ()))
        if op.get("parameters") or "requestBody" in op:
            statuses.add(422)
        if "requestBody" in op:
            statuses |= {400, 413}
        if name.split()[0].lower() in UNSAFE:
            statuses.add(403)
        if not any_host:
            statuses.add(400)
        if reads_key and keyed:
            statuses |= {401, 403}
            op["security"] = [{SCHEME: []}, {}] if name in OPTIONAL_KEY else [{SCHEME: []}]
        _document_errors(op, statuses)
    if keyed:
        spec["components"]["securitySchemes"] = {SCHEME: {
            "type": "apiKey", "in": "header", "name": "X-API-Key",
            "description": "The service's API key: writes and reads of one user's data need it"}}
    _limits(spec, settings)
    _closed_pattern_keys(schemas)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return spec


def _drop_key_header(op: Spec) -> bool:
    """Remove the X-API-Key header parameter (the security scheme documents it); True when there was one."""
    params = op.get("parameters", [])
    kept = [p for p in params if not (p["in"] == "header" and p["name"].lower() == KEY_HEADER)]
    if kept:
        op["parameters"] = kept
    else:
        op.pop("parameters", None)
    return len(kept) < len(params)


def _document_errors(op: Spec, statuses: set[int]) -> None:
    responses = op["responses"]
    responses.pop("422", None)  # FastAPI's own shape
    for status in sorted(statuses):
        schema = "ValidationErrorOut" if status == 422 else "ErrorOut"
        responses[str(status)] = {"description": DESCRIPTIONS[status], "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _limits(spec: Spec, settings: ServiceSettings) -> None:
    """The limits that are settings: ``k`` everywhere, events per batch, the names of search weights."""
    for item in spec["paths"].values():
        for op in item.values():
            for param in op.get("parameters", []):
                if param["in"] == "query" and param["name"] == "k":
                    param["schema"]["maximum"] = settings.max_k
    schemas = spec["components"]["schemas"]
    for body in ("RecommendRequest", "SearchRequest"):
        schemas[body]["properties"]["k"]["maximum"] = settings.max_k
    schemas["EventBatch"]["properties"]["events"]["maxItems"] = settings.max_batch
    signals = search_signals(settings)
    weights = schemas["SearchRequest"]["properties"]["weights"]
    weights["anyOf"] = [{
        "type": "object",
        "propertyNames": {"enum": signals},
        "additionalProperties": {"type": "number", "minimum": 0},
        "anyOf": [{"required": [s], "properties": {s: {"exclusiveMinimum": 0}}} for s in signals],
    }, {"type": "null"}]
    weights["description"] = (f"per-signal weights of the fusion, each >= 0 and one > 0: {', '.join(signals)} "
                              "(default: the index's own)")


def _closed_pattern_keys(schemas: Spec) -> None:
    """A dict with constrained keys (``dict[AttributeName, ...]``) refuses other keys, but pydantic documents it
    with ``patternProperties`` alone, which lets any other key through: say that it does not."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "patternProperties" in node and "additionalProperties" not in node and "properties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schemas)
