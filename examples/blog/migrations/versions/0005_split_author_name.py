"""split author name into first and last name (a data migration)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-05 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

author = sa.table(
    "author",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("first_name", sa.String),
    sa.column("last_name", sa.String),
)


def upgrade() -> None:
    op.add_column("author", sa.Column("first_name", sa.String(length=120), nullable=True))
    op.add_column("author", sa.Column("last_name", sa.String(length=120), nullable=True))
    conn = op.get_bind()
    for row in conn.execute(sa.select(author.c.id, author.c.name)).all():
        first, _, last = row.name.partition(" ")
        conn.execute(author.update().where(author.c.id == row.id).values(first_name=first, last_name=last))
    with op.batch_alter_table("author") as batch:
        batch.alter_column("first_name", existing_type=sa.String(length=120), nullable=False)
        batch.alter_column("last_name", existing_type=sa.String(length=120), nullable=False)
        batch.drop_column("name")


def downgrade() -> None:
    op.add_column("author", sa.Column("name", sa.String(length=120), nullable=True))
    conn = op.get_bind()
    for row in conn.execute(sa.select(author.c.id, author.c.first_name, author.c.last_name)).all():
        name = f"{row.first_name} {row.last_name}" if row.last_name else row.first_name
        conn.execute(author.update().where(author.c.id == row.id).values(name=name))
    with op.batch_alter_table("author") as batch:
        batch.alter_column("name", existing_type=sa.String(length=120), nullable=False)
        batch.drop_column("last_name")
        batch.drop_column("first_name")
