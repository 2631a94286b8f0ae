"""The blog's models: what `metadata.create_all` builds must equal what the migrations build.

Written in the declarative style SQLAlchemy 1.4 and 2.x both read, as the plugin supports both.
"""

import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

Base = declarative_base()


post_tag = sa.Table(
    "post_tag",
    Base.metadata,
    sa.Column("post_id", sa.ForeignKey("post.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
)


class Author(Base):
    __tablename__ = "author"

    id = sa.Column(sa.Integer, primary_key=True)
    first_name = sa.Column(sa.String(120), nullable=False)
    last_name = sa.Column(sa.String(120), nullable=False)
    email = sa.Column(sa.String(120), nullable=False, unique=True)
    bio = sa.Column(sa.Text)


class Post(Base):
    __tablename__ = "post"

    id = sa.Column(sa.Integer, primary_key=True)
    author_id = sa.Column(sa.ForeignKey("author.id"), nullable=False, index=True)
    title = sa.Column(sa.String(200), nullable=False)
    body = sa.Column(sa.Text, nullable=False)
    status = sa.Column(sa.String(20), nullable=False, server_default="draft")
    published_at = sa.Column(sa.DateTime)


class Tag(Base):
    __tablename__ = "tag"

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(50), nullable=False, unique=True)
