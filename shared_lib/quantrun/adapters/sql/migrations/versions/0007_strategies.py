"""Strategies and schedules; a job names the strategy (and schedule) it came from

The jobs' new columns have no foreign key, as ``parent_id`` (0005): SQLite adds only
plain columns in place.
"""

import sqlalchemy as sa
from alembic import op

from quantrun.adapters.sql.schema import JsonDoc, UTCDateTime

revision, down_revision = "0007", "0006"


def upgrade() -> None:
    op.create_table(
        "strategies",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("params", JsonDoc, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_strategies_user_id", "strategies", ["user_id"])
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("strategy_id", sa.String(36), sa.ForeignKey("strategies.id"), nullable=False),
        sa.Column("cron", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_fire_at", UTCDateTime(), nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_schedules_user_id", "schedules", ["user_id"])
    op.add_column("jobs", sa.Column("strategy_id", sa.String(36), nullable=True))
    op.add_column("jobs", sa.Column("schedule_id", sa.String(36), nullable=True))
    op.create_index("ix_jobs_strategy_id", "jobs", ["strategy_id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_strategy_id", table_name="jobs")
    op.drop_column("jobs", "schedule_id")
    op.drop_column("jobs", "strategy_id")
    op.drop_index("ix_schedules_user_id", table_name="schedules")
    op.drop_table("schedules")
    op.drop_index("ix_strategies_user_id", table_name="strategies")
    op.drop_table("strategies")
