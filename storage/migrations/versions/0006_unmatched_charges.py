"""A charge that no open invoice explains (an invoice paid twice, or one whose booking is gone)
is recorded as a payment row of its own, with no appointment (and, when unknown, no patient or
doctor), so its refund is in the admins' owed list, the totals and the CSV.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = ("appointment_id", "patient_id", "doctor_id")


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        for column in COLUMNS:
            batch.alter_column(column, existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM payments WHERE appointment_id IS NULL"))
    with op.batch_alter_table("payments") as batch:
        for column in COLUMNS:
            batch.alter_column(column, existing_type=sa.Integer(), nullable=False)
