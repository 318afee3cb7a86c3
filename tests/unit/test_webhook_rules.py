"""The webhook rules that need no I/O (domain/webhooks.py): the retry schedule, the
signature, which addresses are private."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from quantrun.domain.webhooks import private_address, retry_at, signature

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_retries_double_from_the_first_and_wait_at_most_an_hour() -> None:
    first = timedelta(seconds=10)
    waits = [(retry_at(n, T0, first) - T0).total_seconds() for n in range(1, 12)]
    assert waits[:5] == [10, 20, 40, 80, 160]
    assert waits[-1] == 3600 and max(waits) == 3600
    assert retry_at(10_000, T0, first) - T0 == timedelta(hours=1)  # no overflow
    # retried for 24 h: about 30 attempts, the first retry within 30 s (CONTRACT 5.4)
    at, attempts = T0, 0
    while at - T0 < timedelta(hours=24):
        attempts += 1
        at = retry_at(attempts, at, first)
    assert 25 <= attempts <= 35


def test_the_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"id":"d1","type":"job.failed"}'
    expected = hmac.new(b"whsec_k", body, hashlib.sha256).hexdigest()
    assert signature("whsec_k", body) == f"sha256={expected}"
    assert signature("whsec_k", body + b" ") != signature("whsec_k", body)


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("127.0.0.1", True),
        ("10.0.0.7", True),
        ("172.16.5.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # the metadata server
        ("100.64.0.1", True),  # carrier-grade NAT
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("::1", True),
        ("fd00::1", True),
        ("fe80::1", True),
        ("::ffff:10.0.0.1", True),
        # IPv6 forms that carry a private IPv4 address, and site-local: each passed as
        # public before (ipaddress calls NAT64's well-known prefix global)
        ("64:ff9b::a00:1", True),  # NAT64 of 10.0.0.1
        ("64:ff9b::a9fe:a9fe", True),  # NAT64 of the metadata server
        ("2002:7f00:1::", True),  # 6to4 of 127.0.0.1
        ("::127.0.0.1", True),  # IPv4-compatible loopback
        ("fec0::1", True),  # site-local
        ("::", True),
        ("64:ff9b::808:808", False),  # NAT64 of a public address stays public
        ("2002:808:808::1", False),
        ("8.8.8.8", False),
        ("93.184.216.34", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_private_addresses(address: str, private: bool) -> None:
    assert private_address(address) is private
