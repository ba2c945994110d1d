"""Deliveries keep the jobs they were accepted for, so a reconciler can publish them again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 21:20:00

The jobs are the Celery task keyword arguments (ids and small strings, never the payload).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook_deliveries", sa.Column("jobs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("jobs")
