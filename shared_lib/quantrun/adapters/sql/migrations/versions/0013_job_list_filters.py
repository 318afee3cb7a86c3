"""Indexes for a user's jobs in one state, or of one model, newest first
(``GET /v1/jobs?status=``, ``?model=``)

Without them a filtered page walked the user's jobs newest first until it had a page
that matched: every one of them when few or none did (the console's "running" or
"risk_metrics" filter, a client waiting for a burst to end). Partial, as the list: a
sharded job's shards are never listed.

Built inside the migrations' transaction, which holds writes to ``jobs`` while they
build. On a large table, build them first by hand without that (``CREATE INDEX
CONCURRENTLY ix_jobs_user_status_created ON jobs (user_id, status, created_at, id)
WHERE parent_id IS NULL``, and ``ix_jobs_user_model_created`` on ``model``): the
migration then finds them and leaves them.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0013", "0012"

_INDEXES = {"ix_jobs_user_status_created": "status", "ix_jobs_user_model_created": "model"}


def upgrade() -> None:
    shards_left_out = sa.text("parent_id IS NULL")
    for name, column in _INDEXES.items():
        op.create_index(
            name,
            "jobs",
            ["user_id", column, "created_at", "id"],
            if_not_exists=True,
            postgresql_where=shards_left_out,
            sqlite_where=shards_left_out,
        )


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="jobs")
