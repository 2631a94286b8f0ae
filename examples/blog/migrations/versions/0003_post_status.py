"""add post status and publication date

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-03 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("post", sa.Column("status", sa.String(length=20), server_default="draft", nullable=False))
    op.add_column("post", sa.Column("published_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("post") as batch:
        batch.drop_column("published_at")
        batch.drop_column("status")
