"""Consultations, relayed messages, prescriptions, record documents, audit log, doctor focus.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "consultations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "appointment_id",
            sa.Integer(),
            sa.ForeignKey("appointments.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("reference", sa.String(24), nullable=False, unique=True),
        sa.Column("video_room", sa.Text(), nullable=True),
        sa.Column("opened_at", UTC_DATETIME, nullable=False),
        sa.Column("closed_at", UTC_DATETIME, nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("private_notes", sa.Text(), nullable=True),
        sa.Column("follow_up_days", sa.Integer(), nullable=True),
        sa.Column("header_to_patient", sa.Boolean(), nullable=False),
        sa.Column("header_to_doctor", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "relayed_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "consultation_id", sa.Integer(), sa.ForeignKey("consultations.id"), nullable=False
        ),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("source_message_id", sa.BigInteger(), nullable=False),
        sa.Column("copy_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("copy_message_id", sa.BigInteger(), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("files", sa.Text(), nullable=True),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("edited_at", UTC_DATETIME, nullable=True),
    )
    op.create_index("ix_relayed_messages_consultation_id", "relayed_messages", ["consultation_id"])
    op.create_index(
        "ix_relayed_source", "relayed_messages", ["source_chat_id", "source_message_id"]
    )
    op.create_index("ix_relayed_copy", "relayed_messages", ["copy_chat_id", "copy_message_id"])
    op.create_table(
        "prescriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "consultation_id", sa.Integer(), sa.ForeignKey("consultations.id"), nullable=False
        ),
        sa.Column("medicine", sa.Text(), nullable=False),
        sa.Column("strength", sa.Text(), nullable=False),
        sa.Column("dose", sa.Text(), nullable=False),
        sa.Column("frequency", sa.Text(), nullable=False),
        sa.Column("duration", sa.Text(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_prescriptions_consultation_id", "prescriptions", ["consultation_id"])
    op.create_table(
        "record_documents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("file_id", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_record_documents_patient_id", "record_documents", ["patient_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("actor_telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("subject_user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("target", sa.String(64), nullable=True),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_audit_log_actor_telegram_id", "audit_log", ["actor_telegram_id"])
    op.create_index("ix_audit_log_subject_user_id", "audit_log", ["subject_user_id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "doctor_focus",
        sa.Column("doctor_id", sa.Integer(), sa.ForeignKey("doctors.id"), primary_key=True),
        sa.Column(
            "consultation_id", sa.Integer(), sa.ForeignKey("consultations.id"), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_table("doctor_focus")
    op.drop_table("audit_log")
    op.drop_table("record_documents")
    op.drop_table("prescriptions")
    op.drop_table("relayed_messages")
    op.drop_table("consultations")
