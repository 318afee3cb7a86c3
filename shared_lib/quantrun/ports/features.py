"""The ports of the features kept in the job database beside the jobs: webhooks (and
the transport that delivers them), strategies and schedules, paper portfolios, the audit
trail."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from quantrun.domain.audit import AuditEntry
from quantrun.domain.lists import Page
from quantrun.domain.portfolios import Alert, DayBooking, Order, Portfolio, Trade
from quantrun.domain.strategies import Schedule, Strategy
from quantrun.domain.webhooks import Delivery, Webhook


class WebhookStore(Protocol):
    """Webhooks and their deliveries (Cloud SQL / SQLite). Deliveries are made from the
    job store's events, so a job that ends while every dispatcher is down is still told."""

    def add(
        self, webhook: Webhook, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        """Kept with its secret sealed: a database dump does not give it away. False, and
        nothing stored, when the user already has ``most`` webhooks."""
        ...

    def for_user(self, user_id: str) -> list[Webhook]:
        """The user's live webhooks, their secrets left empty (a listing shows none)."""
        ...

    def get(self, webhook_id: str) -> Webhook | None:
        """A live webhook with its secret (a deleted one is None)."""
        ...

    def reseal(self) -> tuple[int, list[str]]:
        """Every stored secret sealed again with the current key: how many, and the ids
        of those that no configured key opens."""
        ...

    def delete(
        self, webhook_id: str, user_id: str, *, now: datetime, audit: AuditEntry | None = None
    ) -> bool: ...
    def make_deliveries(self, *, now: datetime, overlap: float) -> int:
        """A delivery for each live webhook of each job that ended, and each alert made
        (``PortfolioStore``), since the last scan
        (scanned again from ``overlap`` seconds before it: a transaction that committed
        late is not missed; a delivery already made is not made twice). How many new."""
        ...

    def alert(self, alert_id: str) -> Alert | None:
        """The alert a delivery tells of (``Delivery.job_id`` of an alert's delivery)."""
        ...

    def due(self, *, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose next attempt is due, oldest first."""
        ...

    def claim(self, delivery: Delivery, *, until: datetime) -> bool:
        """Take a due delivery for one attempt (its next attempt moves to ``until``, its
        attempts count one more); False when another dispatcher took it first."""
        ...

    def delivered(self, delivery_id: str, *, now: datetime) -> None: ...
    def retry(self, delivery_id: str, *, at: datetime, error: str) -> None: ...
    def give_up(self, delivery_id: str, *, now: datetime, error: str) -> None: ...


class WebhookTransport(Protocol):
    """Where webhook deliveries go out (HTTPS to the user's URL)."""

    def addresses(self, host: str) -> list[str]:
        """The IP addresses ``host`` resolves to now (empty when it does not resolve)."""
        ...

    def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
        address: str | None = None,
    ) -> int:
        """POST the body to ``address`` (the one checked; None: the URL's host as it
        resolves) within ``timeout`` seconds in all; the response's status code. Raises
        ``OSError`` when no response came (refused, reset, timed out)."""
        ...


class StrategyStore(Protocol):
    """Strategies and their schedules (Cloud SQL / SQLite); a deleted one is gone."""

    def add_strategy(
        self, strategy: Strategy, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        """False, and nothing stored, when the user already has ``most`` strategies."""
        ...

    def strategy(self, strategy_id: str, user_id: str | None = None) -> Strategy | None: ...
    def strategies(self, user_id: str) -> list[Strategy]: ...
    def update_strategy(self, strategy: Strategy, *, audit: AuditEntry | None = None) -> bool: ...
    def delete_strategy(
        self, strategy_id: str, user_id: str, *, now: datetime, audit: AuditEntry | None = None
    ) -> bool:
        """Delete it and its schedules."""
        ...

    def add_schedule(
        self, schedule: Schedule, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        """False, and nothing stored, when the user already has ``most`` schedules."""
        ...

    def schedule(self, schedule_id: str, user_id: str) -> Schedule | None: ...
    def schedules(self, user_id: str) -> list[Schedule]: ...
    def delete_schedule(
        self, schedule_id: str, user_id: str, *, now: datetime, audit: AuditEntry | None = None
    ) -> bool: ...
    def live_schedules(self) -> list[Schedule]:
        """Every schedule of an active strategy (what a tick looks at)."""
        ...

    def take_fire(self, schedule: Schedule, fire_at: datetime) -> bool:
        """Move the schedule's last fire time from what ``schedule`` read to ``fire_at``;
        False when another tick moved it first (that tick submits this fire time)."""
        ...


class PortfolioStore(Protocol):
    """Paper portfolios, their booked days, orders and closed trades, and alerts (Cloud
    SQL / SQLite); a deleted portfolio is gone from every read."""

    def add(
        self, portfolio: Portfolio, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        """False, and nothing stored, when the user already has ``most`` portfolios."""
        ...

    def get(self, portfolio_id: str, user_id: str | None = None) -> Portfolio | None: ...
    def for_user(self, user_id: str) -> list[Portfolio]: ...
    def live(self) -> list[Portfolio]:
        """Every portfolio not deleted (what a step of all looks at)."""
        ...

    def delete(
        self, portfolio_id: str, user_id: str, *, now: datetime, audit: AuditEntry | None = None
    ) -> bool: ...
    def last_day(self, portfolio_id: str) -> DayBooking | None: ...
    def book_day(
        self, booking: DayBooking, orders: list[Order], trades: list[Trade], alerts: list[Alert]
    ) -> bool:
        """Store the day with its orders, trades and alerts in one transaction, unless
        that portfolio's day is booked already (then nothing is written): False."""
        ...

    def add_alerts(self, alerts: list[Alert]) -> int:
        """Store the alerts whose key is new; how many."""
        ...

    def days(self, portfolio_id: str, *, limit: int, cursor: str | None) -> Page:
        """Booked days, oldest first."""
        ...

    def orders(self, portfolio_id: str, *, limit: int, cursor: str | None) -> Page: ...
    def trades(self, portfolio_id: str, *, limit: int, cursor: str | None) -> Page:
        """Closed round trips, in the order they closed."""
        ...


class AuditLog(Protocol):
    """The audit trail the stores write with each change (``domain/audit.py``)."""

    def entries(self, *, limit: int, cursor: str | None) -> Page:
        """Newest first."""
        ...

    def record(self, entry: AuditEntry) -> None:
        """An entry of a change made outside the job database (an instrument's)."""
        ...
