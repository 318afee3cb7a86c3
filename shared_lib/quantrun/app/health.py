"""Readiness: does each dependency answer?"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class Pingable(Protocol):
    def ping(self) -> None: ...


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str] = field(default_factory=dict)
    failed: str | None = None  # the first dependency that did not answer

    def error(self) -> dict[str, object]:
        """The 503 body (the error format) naming the dependency that failed."""
        return {
            "error": {
                "code": "not_ready",
                "message": f"{self.failed} is not answering",
                "details": [{"check": k, "status": v} for k, v in self.checks.items()],
            }
        }


def readiness(dependencies: Mapping[str, Pingable]) -> Readiness:
    """Ping each in order and stop at the first failure (the rest are not asked)."""
    checks: dict[str, str] = {}
    for name, dependency in dependencies.items():
        try:
            dependency.ping()
        except Exception as exc:
            checks[name] = f"failed: {type(exc).__name__}"
            return Readiness(checks, failed=name)
        checks[name] = "ok"
    return Readiness(checks)
