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


def _file(name: str) -> FileResponse:
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in MEDIA_TYPES or not path.is_file():
        raise NotFound(f"unknown page {name!r}")
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
