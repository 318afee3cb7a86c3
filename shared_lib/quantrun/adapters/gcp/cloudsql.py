"""The job store's engine on Cloud SQL for PostgreSQL through the Cloud SQL Python
Connector (pg8000, IAM database authentication). Built only on that path: the
connector needs Google credentials at construction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine

from quantrun.adapters.sql.engine import PG_DRIVER, parse_timestamps_natively, ping_when_idle


def cloudsql_engine(
    instance: str,
    *,
    user: str,
    database: str,
    password: str | None = None,
    private_ip: bool = True,
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

    # Cloud Run: few connections per instance, recycled before Cloud SQL drops idle ones.
    engine = create_engine(
        f"{PG_DRIVER}://" if prepared_statements else "postgresql+pg8000://",
        creator=connect,
        pool_size=pool_size,
        max_overflow=0,  # as make_engine: no connect per request under load
        pool_timeout=30,
        pool_recycle=1800,
    )
    ping_when_idle(engine)
    parse_timestamps_natively(engine)
    return engine, connector
