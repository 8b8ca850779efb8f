"""Admin and privacy (bans, PIN sessions, erasure, broadcasts, unreadable values) and
payments (slot holds, invoices, refunds).

A held slot counts as taken: the partial unique index over active appointments now includes
'held', so the database refuses a booking of a slot on hold exactly as of a booked one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)
OLD_ACTIVE = sa.text("status IN ('booked', 'in_consultation')")
NEW_ACTIVE = sa.text("status IN ('held', 'booked', 'in_consultation')")


def _active_index(where: sa.TextClause) -> None:
    op.create_index(
        "uq_appointments_active_slot",
        "appointments",
        ["doctor_id", "starts_at"],
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("banned_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("pin_hash", sa.String(255), nullable=True))
        batch.add_column(
            sa.Column("pin_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("pin_locked_until", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("session_active_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("erased_at", UTC_DATETIME, nullable=True))
    with op.batch_alter_table("appointments") as batch:
        batch.add_column(sa.Column("hold_expires_at", UTC_DATETIME, nullable=True))
    op.drop_index("uq_appointments_active_slot", table_name="appointments")
    _active_index(NEW_ACTIVE)
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "appointment_id",
            sa.Integer(),
            sa.ForeignKey("appointments.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("doctor_id", sa.Integer(), sa.ForeignKey("doctors.id"), nullable=False),
        sa.Column("payload", sa.String(64), nullable=False, unique=True),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("telegram_charge_id", sa.String(255), nullable=True, unique=True),
        sa.Column("provider_charge_id", sa.String(255), nullable=True),
        sa.Column("invoiced_at", UTC_DATETIME, nullable=False),
        sa.Column("paid_at", UTC_DATETIME, nullable=True),
        sa.Column("refund_status", sa.String(16), nullable=True),
        sa.Column("refund_minor", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("refund_reason", sa.String(32), nullable=True),
        sa.Column("refunded_at", UTC_DATETIME, nullable=True),
    )
    op.create_index("ix_payments_patient_id", "payments", ["patient_id"])
    op.create_index("ix_payments_doctor_id", "payments", ["doctor_id"])
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("delivered", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("blocked", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("status_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("status_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
    )
    op.create_table(
        "unreadable_values",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("column_name", sa.String(64), nullable=False),
        sa.Column("row_key", sa.String(64), nullable=False),
        sa.Column("found_at", UTC_DATETIME, nullable=False),
    )
    op.create_index(
        "uq_unreadable_value",
        "unreadable_values",
        ["table_name", "column_name", "row_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("unreadable_values")
    op.drop_table("broadcasts")
    op.drop_table("payments")
    op.drop_index("uq_appointments_active_slot", table_name="appointments")
    _active_index(OLD_ACTIVE)
    with op.batch_alter_table("appointments") as batch:
        batch.drop_column("hold_expires_at")
    with op.batch_alter_table("users") as batch:
        for column in (
            "erased_at",
            "session_active_at",
            "pin_locked_until",
            "pin_failures",
            "pin_hash",
            "banned_at",
        ):
            batch.drop_column(column)
