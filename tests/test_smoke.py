from conftest import revision

CLEAN = {
    "0001_author": revision(
        "0001",
        None,
        """
        op.create_table(
            "author",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(50), nullable=False, server_default="anonymous"),
        )
        """,
        'op.drop_table("author")',
    ),
    "0002_book": revision(
        "0002",
        "0001",
        """
        op.create_table(
            "book",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("author_id", sa.Integer(), sa.ForeignKey("author.id"), nullable=False),
            sa.Column("title", sa.String(100), nullable=False),
        )
        op.create_index("ix_book_title", "book", ["title"])
        """,
        'op.drop_table("book")',
    ),
}
MODELS = """
author = sa.Table(
    "author", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, server_default="anonymous"),
)
book = sa.Table(
    "book", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("author_id", sa.Integer(), sa.ForeignKey("author.id"), nullable=False),
    sa.Column("title", sa.String(100), nullable=False, index=True),
)
"""


def test_clean_project_passes_every_check(project, run_checks, engine):
    project(CLEAN, MODELS)
    result = run_checks(engines=engine)
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(
        [
            f"*test_model_matches_migrations[[]{engine}[]]*" if False else "*pytest-migrations summary*",
            f"{engine}: 2 revisions walked*",
        ]
    )
