"""Webhooks (CONTRACT 5.4): registering them, where a delivery may go, and what it says.

A user registers a URL for some of ``job.succeeded``, ``job.failed``, ``job.cancelled``
and the alerts (``signal.changed``, ``order.filled``, ``portfolio.drawdown``,
``data.stale``) and gets a secret once. Only ``https`` URLs whose host resolves to public
addresses are accepted, unless ``allow_private`` (QUANTRUN_WEBHOOK_ALLOW_PRIVATE: local development,
tests), which also allows ``http``; the address is checked again at every delivery (a
name may come to resolve elsewhere) and the delivery connects to the address checked;
redirects are not followed. A delivery's body is ``{"id", "type", "created_at",
"sent_at", "job"}`` (the job as ``GET /v1/jobs/{id}`` shows it, without ``params`` and
``result``), or for an alert its fields (``portfolio``/``instrument``, ``order``,
``symbol``, ``signal``, ``drawdown``) instead of ``job``. The dispatcher that sends
them: ``app/webhook_dispatch.py``.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from quantrun.app.audit import entry
from quantrun.app.owned import admitted, removed
from quantrun.domain.errors import InvalidInput
from quantrun.domain.jobs import Job
from quantrun.domain.portfolios import Alert
from quantrun.domain.users import User
from quantrun.domain.webhooks import (
    EVENT_TYPES,
    Delivery,
    Webhook,
    private_address,
    url_pattern,
)
from quantrun.logging import get_logger
from quantrun.ports import WebhookStore, WebhookTransport

log = get_logger(__name__)

MAX_URL = 2048


@dataclass(frozen=True)
class WebhookPolicy:
    allow_private: bool = False
    first_retry: timedelta = timedelta(seconds=10)
    give_up_after: timedelta = timedelta(hours=24)
    # one deadline for a delivery's connect, TLS, send and read together
    timeout_seconds: float = 10.0
    # the scan reads job events again from this long before where it stopped
    overlap_seconds: float = 10.0
    batch: int = 100
    senders: int = 8
    # at most this many of one user's deliveries are sent at once: a user's slow
    # receivers hold that many senders at most, never everyone's
    senders_per_user: int = 2


@dataclass(frozen=True)
class NewWebhook:
    webhook: Webhook  # its secret is shown this once


def destination_problem(url: str, transport: WebhookTransport, policy: WebhookPolicy) -> str | None:
    """Why a delivery may not go to ``url`` (None: it may)."""
    return checked_destination(url, transport, policy)[0]


def checked_destination(
    url: str, transport: WebhookTransport, policy: WebhookPolicy
) -> tuple[str | None, str | None]:
    """(why a delivery may not go to ``url``, the checked address to connect to). The
    address is the one the check resolved: the delivery connects there and nowhere else,
    so a second DNS answer cannot move it (rebinding). With ``allow_private`` nothing is
    resolved here (None: connect to the name)."""
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # each raises on a malformed netloc
    except ValueError as exc:
        return f"is not a URL ({exc})", None
    schemes = ("https", "http") if policy.allow_private else ("https",)
    if parts.scheme not in schemes:
        return f"must be an {' or '.join(schemes)} URL", None
    if not host:
        return "must name a host", None
    if parts.username or parts.password:
        return "must not carry credentials", None
    if not url.isascii():
        return "must be ASCII (percent-encode the rest)", None
    if not re.fullmatch(url_pattern(allow_http=policy.allow_private), url):
        return "must be scheme://host[:port][/path] with a host name or address", None
    if policy.allow_private:
        return None, None
    addresses = transport.addresses(host)
    if not addresses:
        return f"host {host} does not resolve", None
    private = [a for a in addresses if private_address(a)]
    if private:
        return (
            f"host {host} resolves to a private address ({private[0]}); only public "
            "addresses are allowed (QUANTRUN_WEBHOOK_ALLOW_PRIVATE)"
        ), None
    return None, addresses[0]


def register(
    *,
    store: WebhookStore,
    transport: WebhookTransport,
    user: User,
    url: str,
    events: list[str],
    policy: WebhookPolicy,
    now: datetime,
    most: int | None = None,
) -> NewWebhook:
    if len(url) > MAX_URL:
        raise InvalidInput(f"url: at most {MAX_URL} characters", field="url")
    problem = destination_problem(url, transport, policy)
    if problem:
        raise InvalidInput(f"url: {problem}", field="url")
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise InvalidInput(
            f"events: choose one or more of {', '.join(EVENT_TYPES)}", field="events"
        )
    webhook = Webhook(
        id=str(uuid.uuid4()),
        user_id=user.id,
        url=url,
        events=tuple(e for e in EVENT_TYPES if e in events),
        secret="whsec_" + secrets.token_urlsafe(32),
        created_at=now,
    )
    audit = entry(user, "webhook.create", webhook.id, now, url=url, events=list(webhook.events))
    admitted(store.add(webhook, most=most, audit=audit), "webhooks", most, now)
    return NewWebhook(webhook)


def delete(*, store: WebhookStore, user: User, webhook_id: str, now: datetime) -> None:
    audit = entry(user, "webhook.delete", webhook_id, now)
    removed(store.delete(webhook_id, user.id, now=now, audit=audit), f"webhook {webhook_id}")


def _time(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def job_document(job: Job) -> dict[str, Any]:
    """The job as a delivery carries it (its params and result left out)."""
    return {
        "id": job.id,
        "model": job.model,
        "status": job.status.value,
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "progress": job.progress,
        "attempts": job.attempts,
        "error": None if job.error is None else job.error.document(),
        "artifacts": [
            {
                "name": a.name,
                "content_type": a.content_type,
                "size_bytes": a.size_bytes,
                "url": f"/v1/jobs/{job.id}/artifacts/{a.name}",
            }
            for a in job.artifacts
        ],
        "shards": job.shards,
    }


def delivery_body(delivery: Delivery, about: Job | Alert, sent_at: datetime) -> bytes:
    """The signed body. ``sent_at`` is this attempt's time (``created_at`` is the same on
    every retry): a receiver refuses a body whose ``sent_at`` is older than a few minutes
    and remembers the ``id``s it took within that window, so a captured delivery cannot
    be replayed (README, Webhooks)."""
    document = {
        "id": delivery.id,
        "type": delivery.type,
        "created_at": _time(delivery.created_at),
        "sent_at": _time(sent_at),
        **({"job": job_document(about)} if isinstance(about, Job) else about.body),
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
