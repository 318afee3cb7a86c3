"""A job keeps its submitting request's trace (CONTRACT 6.4)

``jobs.trace`` holds the W3C ``traceparent`` of the request that made the job, so the
worker's log lines for it join the request's trace. Jobs made before stay NULL.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0009", "0008"


def upgrade() -> None:
    op.add_column("jobs", sa.Column("trace", sa.String(55), nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite has it since 3.35): a batch copy of jobs would trip the
    # foreign keys that point at it
    op.drop_column("jobs", "trace")
