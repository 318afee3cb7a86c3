"""The list's own index (``ix_jobs_user_created``) without shards, as the filtered ones of
0013

The job list (``GET /v1/jobs``) never shows a sharded job's shards, but the index it
pages through held every shard beside its job: a page of sharded jobs walked past each
one's shards (up to 256 a job, a heap read each to find them not listed), and every
shard a job made cost an index entry nobody reads. Partial now (``WHERE parent_id IS
NULL``): the page reads its own jobs, and a shard costs one index fewer to write.

Rebuilt inside the migrations' transaction, which holds writes to ``jobs`` while it
builds. On a large table, do it by hand first without that: ``CREATE INDEX CONCURRENTLY
ix_jobs_user_created_new ON jobs (user_id, created_at, id) WHERE parent_id IS NULL``,
``DROP INDEX CONCURRENTLY ix_jobs_user_created``, ``ALTER INDEX ix_jobs_user_created_new
RENAME TO ix_jobs_user_created``: the migration then finds it partial and leaves it.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0014", "0013"

NAME = "ix_jobs_user_created"
COLUMNS = ["user_id", "created_at", "id"]


def _definition() -> str:
    """The index as the database declares it (its CREATE statement)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
    else:
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
    return str(bind.execute(sa.text(query), {"name": NAME}).scalar() or "")


def upgrade() -> None:
    if "WHERE" in _definition().upper():
        return  # built by hand already (see above)
    op.drop_index(NAME, table_name="jobs", if_exists=True)
    shards_left_out = sa.text("parent_id IS NULL")
    op.create_index(
        NAME, "jobs", COLUMNS, postgresql_where=shards_left_out, sqlite_where=shards_left_out
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="jobs")
    op.create_index(NAME, "jobs", COLUMNS)
