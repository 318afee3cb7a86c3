"""Per-user job counts for the quotas (active jobs, jobs submitted today)"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0004", "0003"


def upgrade() -> None:
    op.create_table(
        "job_quotas",
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("submitted", sa.Integer(), nullable=False),
    )
    # the jobs already there count: active ones now, and today's (UTC) submissions
    # created_at is stored as naive UTC
    if op.get_bind().dialect.name == "postgresql":
        today, created_day = "(now() AT TIME ZONE 'UTC')::date", "created_at::date"
    else:
        today, created_day = "date('now')", "date(created_at)"
    op.execute(
        f"""
        INSERT INTO job_quotas (user_id, active, day, submitted)
        SELECT user_id,
               SUM(CASE WHEN status IN ('queued', 'running') THEN 1 ELSE 0 END),
               {today},
               SUM(CASE WHEN {created_day} = {today} THEN 1 ELSE 0 END)
        FROM jobs GROUP BY user_id
        """  # noqa: S608 (no user input: dialect-chosen SQL fragments)
    )


def downgrade() -> None:
    op.drop_table("job_quotas")
