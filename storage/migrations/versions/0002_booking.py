"""Doctors, invites, specialties, availability and appointments.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)
ACTIVE = sa.text("status IN ('booked', 'in_consultation')")


DEFAULT_SPECIALTIES = (
    "General practice",
    "Cardiology",
    "Dermatology",
    "Paediatrics",
    "Psychiatry",
    "Gynaecology",
    "Neurology",
    "Orthopaedics",
)


def upgrade() -> None:
    specialties = op.create_table(
        "specialties",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
    )
    # A starting list; admins extend it with /admin.
    created = datetime(2026, 12, 3, tzinfo=UTC)
    op.bulk_insert(
        specialties, [{"name": name, "created_at": created} for name in DEFAULT_SPECIALTIES]
    )
    op.create_table(
        "doctor_invites",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("used_at", UTC_DATETIME, nullable=True),
        sa.Column("used_by", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "doctors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, unique=True),
        sa.Column("specialty_id", sa.Integer(), sa.ForeignKey("specialties.id"), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("fee_minor", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_minutes", sa.Integer(), nullable=False),
        sa.Column("min_notice_minutes", sa.Integer(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("decided_at", UTC_DATETIME, nullable=True),
    )
    op.create_table(
        "working_hours",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("doctor_id", sa.Integer(), sa.ForeignKey("doctors.id"), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start", sa.String(5), nullable=False),
        sa.Column("end", sa.String(5), nullable=False),
    )
    op.create_index("ix_working_hours_doctor_id", "working_hours", ["doctor_id"])
    op.create_table(
        "days_off",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("doctor_id", sa.Integer(), sa.ForeignKey("doctors.id"), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
    )
    op.create_index("ix_days_off_doctor_id", "days_off", ["doctor_id"])
    op.create_table(
        "time_blocks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("doctor_id", sa.Integer(), sa.ForeignKey("doctors.id"), nullable=False),
        sa.Column("starts_at", UTC_DATETIME, nullable=False),
        sa.Column("ends_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_time_blocks_doctor_id", "time_blocks", ["doctor_id"])
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("doctor_id", sa.Integer(), sa.ForeignKey("doctors.id"), nullable=False),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("starts_at", UTC_DATETIME, nullable=False),
        sa.Column("ends_at", UTC_DATETIME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("cancelled_by", sa.String(16), nullable=True),
        sa.Column("late_cancellation", sa.Boolean(), nullable=False),
        sa.Column(
            "rescheduled_from_id", sa.Integer(), sa.ForeignKey("appointments.id"), nullable=True
        ),
    )
    op.create_index("ix_appointments_patient_id", "appointments", ["patient_id"])
    op.create_index("ix_appointments_doctor_start", "appointments", ["doctor_id", "starts_at"])
    op.create_index(
        "uq_appointments_active_slot",
        "appointments",
        ["doctor_id", "starts_at"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_table("appointments")
    op.drop_table("time_blocks")
    op.drop_table("days_off")
    op.drop_table("working_hours")
    op.drop_table("doctors")
    op.drop_table("doctor_invites")
    op.drop_table("specialties")
