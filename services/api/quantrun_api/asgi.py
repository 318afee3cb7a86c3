"""An application factory for servers that start their own worker processes
(``quantrun serve --workers N`` in gcp mode): each process builds its adapters from the
environment when it starts, never at import time."""

from __future__ import annotations

from fastapi import FastAPI

from quantrun.bootstrap import bootstrap
from quantrun.cli import freeze_startup_heap
from quantrun.logging import configure_logging
from quantrun.settings import Settings
from quantrun_api.app import create_app


def create_app_from_env() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log_level)
    container = bootstrap(settings)
    if container.outbox is not None:
        container.outbox.start_relay(settings.outbox_interval_seconds)
    app = create_app(container)
    app.router.on_shutdown.append(container.close)
    freeze_startup_heap()
    return app
