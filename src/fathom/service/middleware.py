"""ASGI middleware: allowed hosts and same-origin writes (400 / 403), request body size limit (413) and request
metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fathom.service.metrics import Metrics

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _TooLarge(Exception):
    pass


async def _send_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _send_413(send: Send, limit: int) -> None:
    await _send_error(send, 413, f"request body is larger than the limit of {limit} bytes")


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """``host`` (a Host header, port left out) matches ``allowed`` (names, ``*.domain``, or ``*``)."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    for pattern in allowed:
        pattern = pattern.strip("[]").lower()
        if pattern == "*" or name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


class HostAndOrigin:
    """Refuse requests for a host name not in ``allowed_hosts`` (400: a DNS-rebinding page cannot reach a
    service on loopback), and writes (POST, PUT, PATCH, DELETE) that a browser sends from another site (403:
    cross-site request forgery), told by the ``Origin`` header (or ``Sec-Fetch-Site: cross-site`` without one).
    Clients that are not browsers send no ``Origin`` and pass."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str], allowed_origins: Sequence[str]) -> None:
        self.app, self.hosts = app, list(allowed_hosts)
        self.origins = {o.rstrip("/").lower() for o in allowed_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if "*" not in self.hosts and not host_allowed(host, self.hosts):
            await _send_error(send, 400, f"header Host: {host!r} is not a host name of this service "
                                         "(allowed_hosts, FATHOM_ALLOWED_HOSTS)")
            return
        if scope["method"] in UNSAFE_METHODS:
            refusal = self._cross_site(headers, host)
            if refusal:
                await _send_error(send, 403, refusal)
                return
        await self.app(scope, receive, send)

    def _cross_site(self, headers: Headers, host: str) -> str | None:
        origin = headers.get("origin")
        if origin is None:
            if headers.get("sec-fetch-site") == "cross-site":
                return "cross-site write refused (Sec-Fetch-Site: cross-site)"
            return None
        origin = origin.rstrip("/").lower()
        if origin in self.origins or (origin != "null" and urlsplit(origin).netloc == host.lower()):
            return None
        return (f"header Origin: a write from {origin} is refused (cross-site request forgery); add the origin to "
                "allowed_origins (FATHOM_ALLOWED_ORIGINS) to let its pages write")


class BodyLimit:
    """Refuse bodies over ``max_bytes``: at once from Content-Length, or while a chunked body streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _send_413(send, self.max_bytes)
            return
        state = {"received": 0, "too_large": False, "started": False}

        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    state["too_large"] = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if state["too_large"]:  # the app answered an aborted read (e.g. 400): answer 413 instead
                if message["type"] == "http.response.start" and not state["started"]:
                    state["started"] = True
                    await _send_413(send, self.max_bytes)
                return
            state["started"] = state["started"] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            if not state["started"]:
                await _send_413(send, self.max_bytes)


class RequestMetrics:
    """Count requests by method, route template and status; time them by route."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}
        start = time.perf_counter()

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status["code"])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
