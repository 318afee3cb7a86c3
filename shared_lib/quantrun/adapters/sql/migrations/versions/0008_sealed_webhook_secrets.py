"""Webhook secrets are stored sealed (AES-GCM, ``adapters/sealed.py``): a wider column

A sealed secret is about 110 characters. Secrets stored before this revision stay as
they are and are read as plain text.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0008", "0007"


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(100), type_=sa.String(400), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(400), type_=sa.String(100), existing_nullable=False
        )
