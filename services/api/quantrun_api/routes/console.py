"""The web console (CONTRACT 5.4): ``GET /`` and its static files under ``/console``,
built into the package (no build step, no Node at run time; ``console/``)."""

from __future__ import annotations

from pathlib import Path

from quantrun_api.static import Site

# Only this origin's scripts, styles and API; a report shown in the page's sandboxed
# frame brings its own inline styles and data: images.
SITE = Site(
    folder=Path(__file__).resolve().parent.parent / "console",
    policy="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    page="/",
    files_at="/console",
    page_cache="no-cache",
)
