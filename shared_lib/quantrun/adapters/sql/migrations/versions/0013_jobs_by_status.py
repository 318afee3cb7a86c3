"""An index for a user's jobs in one state, newest first (``GET /v1/jobs?status=``)

Without it a status-filtered page walked the user's jobs newest first until it had a
page of that state: every one of them when there were few or none (the console's
"running" filter, a client waiting for a burst to end). Partial, as the list: a sharded
job's shards are never listed.

Built inside the migrations' transaction, which holds writes to ``jobs`` while it runs.
On a large table, build it first by hand without that (``CREATE INDEX CONCURRENTLY
ix_jobs_user_status_created ON jobs (user_id, status, created_at, id) WHERE parent_id
IS NULL``): the migration then finds it and leaves it.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0013", "0012"

_NAME = "ix_jobs_user_status_created"


def upgrade() -> None:
    shards_left_out = sa.text("parent_id IS NULL")
    op.create_index(
        _NAME,
        "jobs",
        ["user_id", "status", "created_at", "id"],
        if_not_exists=True,
        postgresql_where=shards_left_out,
        sqlite_where=shards_left_out,
    )


def downgrade() -> None:
    op.drop_index(_NAME, table_name="jobs")
