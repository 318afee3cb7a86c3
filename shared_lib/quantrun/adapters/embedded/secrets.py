"""``Secrets`` from environment variables (embedded mode, and Cloud Run's secret env vars)."""

from __future__ import annotations

import os
import re


class EnvSecrets:
    """``get("db-password")`` reads ``QUANTRUN_SECRET_DB_PASSWORD``."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self._environ = environ if environ is not None else dict(os.environ)

    @staticmethod
    def variable_for(name: str) -> str:
        return "QUANTRUN_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()

    def get(self, name: str) -> str | None:
        value = self._environ.get(self.variable_for(name))
        return value or None
