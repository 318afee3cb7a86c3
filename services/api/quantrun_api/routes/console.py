"""The web console (CONTRACT 5.4): ``GET /`` and its static files under ``/console``,
built into the package (no build step, no Node at run time; ``console/``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse

from quantrun_api.static import PolicedFiles, page_headers

FILES = Path(__file__).resolve().parent.parent / "console"

# Only this origin's scripts, styles and API; a report shown in the page's sandboxed
# frame brings its own inline styles and data: images.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = page_headers(POLICY)

router = APIRouter(include_in_schema=False)


@router.get("/")
def console() -> FileResponse:
    return FileResponse(
        FILES / "index.html",
        media_type="text/html; charset=utf-8",
        headers={**HEADERS, "Cache-Control": "no-cache"},
    )


def mount(app: FastAPI) -> None:
    app.mount("/console", PolicedFiles(FILES, HEADERS), name="console")
