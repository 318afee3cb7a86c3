"""Paper portfolios, their booked days, orders and trades; alerts (CONTRACT 6.1)"""

import sqlalchemy as sa
from alembic import op

from quantrun.adapters.sql.schema import JsonDoc, UTCDateTime

revision, down_revision = "0010", "0009"


def upgrade() -> None:
    op.create_table(
        "portfolios",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("strategy_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("cash", sa.Float(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("params", JsonDoc, nullable=False),
        sa.Column("max_drawdown_alert", sa.Float(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_portfolios_user_id", "portfolios", ["user_id"])
    op.create_table(
        "portfolio_days",
        sa.Column("portfolio_id", sa.String(36), sa.ForeignKey("portfolios.id"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("equity", sa.Float(), nullable=False),
        sa.Column("cash", sa.Float(), nullable=False),
        sa.Column("drawdown", sa.Float(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("carried", sa.String(2000), nullable=False),
        sa.UniqueConstraint("portfolio_id", "seq", name="uq_portfolio_days_seq"),
    )
    op.create_table(
        "portfolio_orders",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("portfolio_id", sa.String(36), sa.ForeignKey("portfolios.id"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("notional", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
    )
    op.create_index("ix_portfolio_orders_portfolio", "portfolio_orders", ["portfolio_id", "id"])
    op.create_table(
        "portfolio_trades",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("portfolio_id", sa.String(36), sa.ForeignKey("portfolios.id"), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("entry_price", sa.Float(), nullable=False),
        sa.Column("exit_date", sa.Date(), nullable=False),
        sa.Column("exit_price", sa.Float(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("pnl", sa.Float(), nullable=False),
        sa.Column("trade_return", sa.Float(), nullable=False),
        sa.Column("days_held", sa.Integer(), nullable=False),
        sa.Column("exit_reason", sa.String(16), nullable=False),
    )
    op.create_index("ix_portfolio_trades_portfolio", "portfolio_trades", ["portfolio_id", "id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("body", JsonDoc, nullable=False),
    )
    op.create_index("ix_alerts_created_at", "alerts", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_created_at", table_name="alerts")
    op.drop_table("alerts")
    op.drop_index("ix_portfolio_trades_portfolio", table_name="portfolio_trades")
    op.drop_table("portfolio_trades")
    op.drop_index("ix_portfolio_orders_portfolio", table_name="portfolio_orders")
    op.drop_table("portfolio_orders")
    op.drop_table("portfolio_days")
    op.drop_index("ix_portfolios_user_id", table_name="portfolios")
    op.drop_table("portfolios")
