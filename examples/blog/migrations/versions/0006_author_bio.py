"""author bio

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-06 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("author", sa.Column("bio", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("author") as batch:
        batch.drop_column("bio")
