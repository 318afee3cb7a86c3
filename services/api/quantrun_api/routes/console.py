"""The web console (CONTRACT 5.4): ``GET /`` and its static files under ``/console``,
built into the package (no build step, no Node at run time; ``console/``)."""

from __future__ import annotations

from pathlib import Path

from quantrun_api.static import Site, own_origin_policy

# Only this origin's scripts, styles and API; a report shown in the page's sandboxed
# frame brings its own inline styles and data: images.
SITE = Site(
    folder=Path(__file__).resolve().parent.parent / "console",
    policy=own_origin_policy(images="'self' data: blob:", frames="'self' blob:"),
    page="/",
    files_at="/console",
    page_cache="no-cache",
)
