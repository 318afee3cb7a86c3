"""The API's documentation page, ``GET /docs``: Swagger UI from files the API serves
itself (``docs_ui/``, Swagger UI 5.35.0 vendored with its licence), so the page loads
nothing from a CDN and runs under a policy that allows only this origin."""

from __future__ import annotations

from pathlib import Path

from quantrun_api.static import Site, own_origin_policy

SITE = Site(
    folder=Path(__file__).resolve().parent.parent / "docs_ui",
    policy=own_origin_policy(),
    page="/docs",
    files_at="/docs-ui",
)
