"""Users' roles (CONTRACT 6.2) and what ``GET /v1/me`` tells a user: their role, their
quotas and how much of each they use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quantrun.app.audit import entry
from quantrun.domain.audit import ROLES
from quantrun.domain.errors import InvalidInput, NotFound
from quantrun.domain.users import User
from quantrun.ports import JobStore, PortfolioStore, StrategyStore, WebhookStore


def set_role(store: JobStore, name: str, role: str, now: datetime) -> User:
    """Give a user (by name: an email for Google sign-in) a role, from the command line."""
    if role not in ROLES:
        raise InvalidInput(f"role: one of {', '.join(ROLES)}", field="role")
    found = store.find_user(name)
    if found is None:
        raise NotFound(f"no user {name!r}: a user exists once they have a key or signed in")
    verb = "grant" if role == "admin" else "revoke"
    audit = entry(None, f"role.{verb}", found.id, now, user=name, role=role, was=found.role)
    changed = store.set_role(name, role, audit=audit if role != found.role else None)
    assert changed is not None
    return changed


@dataclass(frozen=True)
class Stores:
    jobs: JobStore
    webhooks: WebhookStore
    strategies: StrategyStore
    portfolios: PortfolioStore


def me(user: User, stores: Stores, limits: Any, now: datetime) -> dict[str, Any]:
    """The user, their role, each quota (None: no limit) and its use now."""
    active, today = stores.jobs.quota_usage(user.id, now=now)
    keys = [k for k in stores.jobs.list_api_keys(user.id) if k.usable(now)]
    return {
        "user": {"id": user.id, "name": user.name},
        "role": user.role,
        "quotas": {
            "active_jobs": limits.quota_active_jobs,
            "jobs_per_day": limits.quota_jobs_per_day,
            "api_keys": limits.max_api_keys,
            "webhooks": limits.max_webhooks,
            "strategies": limits.max_strategies,
            "schedules": limits.max_schedules,
            "portfolios": limits.max_portfolios,
            "requests_per_second": limits.rate_requests_per_second or None,
        },
        "usage": {
            "active_jobs": active,
            "jobs_today": today,
            "api_keys": len(keys),
            "webhooks": len(stores.webhooks.for_user(user.id)),
            "strategies": len(stores.strategies.strategies(user.id)),
            "schedules": len(stores.strategies.schedules(user.id)),
            "portfolios": len(stores.portfolios.for_user(user.id)),
        },
    }
