"""``Secrets`` from environment variables (embedded mode, and Cloud Run's secret env vars)."""

from __future__ import annotations

import re
from collections.abc import Mapping


class EnvSecrets:
    """``get("db-password")`` reads ``QUANTRUN_SECRET_DB_PASSWORD``."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        # the settings read the environment (``secret_environment()``); this only looks up
        self._environ = dict(environ)

    @staticmethod
    def variable_for(name: str) -> str:
        return "QUANTRUN_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()

    def get(self, name: str) -> str | None:
        value = self._environ.get(self.variable_for(name))
        return value or None
