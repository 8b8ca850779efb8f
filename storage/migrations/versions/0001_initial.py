"""Users, conversations, handled update ids and the key canary.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=True),
        sa.Column("date_of_birth", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("phone_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("consent_version", sa.String(32), nullable=True),
        sa.Column("consent_at", UTC_DATETIME, nullable=True),
        sa.Column("registered_at", UTC_DATETIME, nullable=True),
        sa.Column("unreachable_since", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )
    op.create_table(
        "conversations",
        sa.Column("telegram_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("flow", sa.String(32), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("token", sa.String(12), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )
    op.create_table(
        "processed_updates",
        sa.Column("update_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("handled_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_processed_updates_handled_at", "processed_updates", ["handled_at"])
    op.create_table(
        "key_canary",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("key_canary")
    op.drop_index("ix_processed_updates_handled_at", table_name="processed_updates")
    op.drop_table("processed_updates")
    op.drop_table("conversations")
    op.drop_table("users")
