"""Sharded jobs: a shard names its job and its index; a job counts its shards

``parent_id`` has no foreign key: SQLite adds and drops only plain columns in place
(a constraint would rebuild ``jobs``, which ``job_events`` references); the job store
writes it only with its job's id, in the transaction that creates both.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0005", "0004"

COUNTS = ("shards_done", "shards_failed")


def upgrade() -> None:
    op.add_column("jobs", sa.Column("parent_id", sa.String(36), nullable=True))
    op.add_column("jobs", sa.Column("shard_index", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("shards_total", sa.Integer(), nullable=True))
    for name in COUNTS:
        op.add_column("jobs", sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_jobs_parent_id", "jobs", ["parent_id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_parent_id", table_name="jobs")
    for name in ("parent_id", "shard_index", "shards_total", *COUNTS):
        op.drop_column("jobs", name)
