"""The API's documentation page, ``GET /docs``: Swagger UI from files the API serves
itself (``docs_ui/``, Swagger UI 5.35.0 vendored with its licence), so the page loads
nothing from a CDN and runs under a policy that allows only this origin."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse

from quantrun_api.static import PolicedFiles, page_headers

FILES = Path(__file__).resolve().parent.parent / "docs_ui"

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = page_headers(POLICY)

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def docs() -> FileResponse:
    return FileResponse(
        FILES / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS
    )


def mount(app: FastAPI) -> None:
    app.mount("/docs-ui", PolicedFiles(FILES, HEADERS), name="docs-ui")
