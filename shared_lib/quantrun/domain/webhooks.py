"""Webhooks (CONTRACT 5.4, 6.1): a user's URLs told when their jobs end or an alert is
made, and the deliveries.

A delivery is made once per webhook, job and event type; its id is the same on every
retry. It is retried with exponential backoff (the first retry after
``first_retry_seconds``, each next one twice as long, at most an hour apart) until
``give_up_after`` has passed since it was made. The body is signed with the webhook's
secret: ``X-QuantRun-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from quantrun.domain.portfolios import ALERT_TYPES

JOB_EVENT_TYPES = ("job.succeeded", "job.failed", "job.cancelled")
# alerts (CONTRACT 6.1; ``domain/portfolios.py``): a delivery of one names the alert
EVENT_TYPES = (*JOB_EVENT_TYPES, *ALERT_TYPES)
LONGEST_WAIT = timedelta(hours=1)
SIGNATURE_HEADER = "X-QuantRun-Signature"
EVENT_HEADER = "X-QuantRun-Event"
DELIVERY_HEADER = "X-QuantRun-Delivery"


@dataclass(frozen=True)
class Webhook:
    id: str
    user_id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: datetime


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up


@dataclass(frozen=True)
class Delivery:
    id: str
    webhook_id: str
    job_id: str  # the job, or for an alert's delivery the alert
    type: str
    created_at: datetime
    next_attempt_at: datetime
    attempts: int
    status: DeliveryStatus = DeliveryStatus.PENDING
    last_error: str | None = None
    user_id: str | None = None  # the webhook's owner (``WebhookStore.due`` fills it)


def url_pattern(*, allow_http: bool) -> str:
    """The shape of a webhook URL (the OpenAPI document publishes it; registration
    checks it): https (or http where private addresses are allowed), a host by name or
    address, an optional port, then printable ASCII."""
    scheme = "https?" if allow_http else "https"
    host = r"(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])"
    return rf"^{scheme}://{host}(?::[0-9]{{1,5}})?(?:[/?#][!-~]*)?$"


def retry_at(attempts: int, now: datetime, first_retry: timedelta) -> datetime:
    """When a delivery that has failed ``attempts`` times is tried next."""
    wait: timedelta = min(first_retry * (2 ** min(max(0, attempts - 1), 20)), LONGEST_WAIT)
    return now + wait


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052's well-known prefix
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, NAT64, 6to4, Teredo, compatible)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def private_address(address: str) -> bool:
    """Whether an IP address is not on the public internet: any address that is not
    global (loopback, private ranges, link-local such as the metadata server
    169.254.169.254, shared, reserved, unspecified), multicast, IPv6 site-local, or an
    IPv6 form of such an IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo, compatible)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return True
        embedded = _embedded_ipv4(ip)
        if embedded is not None and private_address(str(embedded)):
            return True
    return not ip.is_global or ip.is_multicast
