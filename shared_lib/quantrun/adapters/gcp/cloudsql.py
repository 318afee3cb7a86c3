"""The job store's engine on Cloud SQL for PostgreSQL through the Cloud SQL Python
Connector (pg8000, IAM database authentication). Built only on that path: the
connector needs Google credentials at construction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from quantrun.adapters.sql.engine import pg8000_url, postgres_engine


def cloudsql_engine(
    instance: str,
    *,
    user: str,
    database: str,
    password: str | None = None,
    private_ip: bool = False,
    pool_size: int = 5,
    prepared_statements: bool = True,
) -> tuple[Engine, Any]:
    """Returns the engine and the connector (close it at shutdown)."""
    from google.cloud.sql.connector import Connector, IPTypes

    connector = Connector(refresh_strategy="lazy")

    def connect() -> Any:
        return connector.connect(
            instance,
            "pg8000",
            user=user,
            db=database,
            password=password,
            enable_iam_auth=password is None,
            ip_type=IPTypes.PRIVATE if private_ip else IPTypes.PUBLIC,
        )

    # Cloud Run: few connections per instance (pool_size)
    engine = postgres_engine(
        pg8000_url("", prepared_statements=prepared_statements),
        pool_size=pool_size,
        creator=connect,
    )
    return engine, connector
