"""The ports: what the use cases need from the outside world, as typed Protocols.

Protocols only; they speak the domain's types (``quantrun.domain``) and import nothing
else of QuantRun. Each port has one adapter per mode (``adapters/``), built only by the
composition root (``bootstrap``), and an in-memory fake for unit tests (``tests/fakes.py``)
where the use cases need one. A contract test suite runs against every adapter of a port.

By area: ``jobs`` (the job database's users, jobs and shards; the queue), ``market``
(prices and what feeds them), ``features`` (webhooks, strategies, portfolios, audit),
``platform`` (artifacts, secrets, request verifiers). Import them from here.
"""

from quantrun.ports.features import (
    AuditLog,
    PortfolioStore,
    StrategyStore,
    WebhookStore,
    WebhookTransport,
)
from quantrun.ports.jobs import JobQueue, JobRows, JobStore, ShardStore, UserStore
from quantrun.ports.market import PriceProvider, PriceStore, UploadedFiles
from quantrun.ports.platform import ArtifactStore, IdentityVerifier, PushVerifier, Secrets

__all__ = [
    "ArtifactStore",
    "AuditLog",
    "IdentityVerifier",
    "JobQueue",
    "JobRows",
    "JobStore",
    "PortfolioStore",
    "PriceProvider",
    "PriceStore",
    "PushVerifier",
    "Secrets",
    "ShardStore",
    "StrategyStore",
    "UploadedFiles",
    "UserStore",
    "WebhookStore",
    "WebhookTransport",
]
