"""create post

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["author.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_post_author_id", "post", ["author_id"])


def downgrade() -> None:
    # Dropping the table drops its indexes. Dropping ix_post_author_id first fails on
    # MySQL/MariaDB (error 1553): the foreign key on author_id needs an index.
    op.drop_table("post")
