"""A succeeded job's manifest is kept in its row (CONTRACT 5.4)

``jobs.manifest`` holds ``manifest.json``, written by the transaction that finishes the
job: a job is never succeeded without it, and its worker writes nothing to the bucket
for it (a job without other artifacts writes nothing there at all). Jobs finished before
keep theirs in the bucket (their artifact reference says where).
"""

import sqlalchemy as sa
from alembic import op

from quantrun.adapters.sql.schema import JsonDoc

revision, down_revision = "0012", "0011"


def upgrade() -> None:
    op.add_column("jobs", sa.Column("manifest", JsonDoc, nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite has it since 3.35), as 0009's
    op.drop_column("jobs", "manifest")
