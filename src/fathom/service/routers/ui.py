"""The web page: static HTML, CSS and vanilla JavaScript from ``fathom/service/static`` (no build step).

``/`` redirects to ``/ui/``; ``/ui/`` is the search + recommendations page, ``/ui/status`` the status page.
The page calls the JSON API of the same app; its writes (click events) send no API key unless one is typed in.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from fathom.online.errors import NotFound

STATIC = Path(__file__).resolve().parent.parent / "static"
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
PAGES = {"status": "status.html"}

router = APIRouter(include_in_schema=False)


def _served() -> dict[str, Path]:
    """The files the page may load: those in ``STATIC`` with a known type, by name."""
    return {p.name: p for p in STATIC.iterdir() if p.suffix in MEDIA_TYPES and p.is_file()}


def _file(name: str) -> FileResponse:
    """A file of ``STATIC`` by name (404 for any other name: the name is looked up, never used as a path)."""
    path = _served().get(name)
    if path is None:
        raise NotFound(f"unknown page {name[:100]!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/")


@router.get("/ui")
def ui_redirect() -> RedirectResponse:
    return RedirectResponse("/ui/")


@router.get("/ui/")
def index() -> FileResponse:
    return _file("index.html")


@router.get("/ui/{name}")
def ui(name: str) -> FileResponse:
    """A page (``/ui/``, ``/ui/status``) or one of its assets (``/ui/app.js``)."""
    return _file(PAGES.get(name, name))
