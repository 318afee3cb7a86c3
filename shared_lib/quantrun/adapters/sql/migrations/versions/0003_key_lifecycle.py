"""API keys expire, and remember when they were last used"""

import sqlalchemy as sa
from alembic import op

from quantrun.adapters.sql.schema import UTCDateTime

revision, down_revision = "0003", "0002"


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("expires_at", UTCDateTime(), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", UTCDateTime(), nullable=True))
    op.create_index("ix_api_keys_prefix", "api_keys", ["prefix"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_prefix", table_name="api_keys")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
