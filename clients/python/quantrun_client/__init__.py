"""QuantRun's Python client: jobs, results as DataFrames, prices, strategies, schedules
and webhooks, from scripts and notebooks (CONTRACT 6.3).

    from quantrun_client import Client
    client = Client()                          # QUANTRUN_URL, QUANTRUN_API_KEY
    job = client.submit("backtest", params).wait()
    job.frame("results")

Needs httpx and pandas only; ``[parquet]`` adds pyarrow, ``[progress]`` tqdm.
"""

from quantrun_client._calls import RetryPolicy
from quantrun_client.aio import AsyncClient, AsyncJob
from quantrun_client.client import Client
from quantrun_client.errors import (
    AuthenticationError,
    BadRequest,
    Conflict,
    ConnectionFailed,
    InputTooLarge,
    JobCancelled,
    JobFailed,
    JobNotFinished,
    NotFound,
    PermissionDenied,
    QuantRunError,
    RateLimited,
    ServerError,
    ValidationError,
    WaitTimeout,
)
from quantrun_client.job import Job
from quantrun_client.version import __version__

__all__ = [
    "AsyncClient",
    "AsyncJob",
    "AuthenticationError",
    "BadRequest",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "InputTooLarge",
    "Job",
    "JobCancelled",
    "JobFailed",
    "JobNotFinished",
    "NotFound",
    "PermissionDenied",
    "QuantRunError",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "ValidationError",
    "WaitTimeout",
    "__version__",
]
