"""The built-in checks, each shown the mistake it exists to catch, on small pytester projects."""

from __future__ import annotations

import gc

import pytest

from conftest import ALL_ENGINES, expected_outcomes, failure_lines, item_outcomes, revision, skip_reason

# ------------------------------------------------------------------ projects

AUTHOR = revision(
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
    message="create author",
)
BOOK = revision(
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
    """
    op.drop_index("ix_book_title", table_name="book")
    op.drop_table("book")
    """,
    message="create book",
)
AUTHOR_MODEL = """
author = sa.Table(
    "author", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, server_default="anonymous"),
)
"""
BOOK_MODEL = """
book = sa.Table(
    "book", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("author_id", sa.Integer(), sa.ForeignKey("author.id"), nullable=False),
    sa.Column("title", sa.String(100), nullable=False, index=True),
)
"""
CLEAN = {"0001_author": AUTHOR, "0002_book": BOOK}
CLEAN_MODELS = AUTHOR_MODEL + BOOK_MODEL


def author_model(*columns: str) -> str:
    """The author table with `id` and extra column definitions."""
    body = "".join(f"    {column},\n" for column in columns)
    return (
        f'author = sa.Table(\n    "author", metadata,\n    sa.Column("id", sa.Integer(), primary_key=True),\n{body})\n'
    )


def author_revisions(*columns: str) -> dict[str, str]:
    """One revision creating the author table with `id` and the given column definitions."""
    body = "".join(f"    {column},\n" for column in columns)
    return {
        "0001_author": revision(
            "0001",
            None,
            f'op.create_table(\n    "author",\n    sa.Column("id", sa.Integer(), primary_key=True),\n{body})',
            'op.drop_table("author")',
            message="create author",
        )
    }


# ------------------------------------------------------------------- the checks


def test_clean_project_passes_every_check(project, run_checks, engine):
    project(CLEAN, CLEAN_MODELS)
    result = run_checks(engines=engine)
    assert item_outcomes(result) == expected_outcomes(engine)
    result.assert_outcomes(passed=7)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*pytest-migrations summary*",
            f"{engine}: 2 revisions walked in *s (1 walk)",
            "  passed  test_single_head, test_upgrade, test_downgrade, test_roundtrip, "
            "test_stepwise_roundtrip, test_model_matches_migrations, test_data_preserved",
        ]
    )


def test_downgrade_forgetting_a_column_fails_stepwise_roundtrip(project, run_checks, engine):
    email = revision(
        "0003",
        "0002",
        'op.add_column("author", sa.Column("email", sa.String(100)))',
        "pass  # forgot op.drop_column",
        message="author email",
    )
    project(
        {**CLEAN, "0003_email": email},
        author_model(
            'sa.Column("name", sa.String(50), nullable=False, server_default="anonymous")',
            'sa.Column("email", sa.String(100))',
        )
        + BOOK_MODEL,
    )
    result = run_checks(engines=engine)
    # The column is left behind by the downgrade of 0003 alone: 0001's downgrade drops the
    # whole table, so head -> base -> head is clean and test_downgrade / test_roundtrip pass.
    # The upgrade of 0003 run again fails (the column exists); the walk goes on from a database
    # rebuilt to 0003, as a user would start again.
    assert item_outcomes(result) == expected_outcomes(engine, test_stepwise_roundtrip="failed")
    lines = failure_lines(result, f"test_stepwise_roundtrip[{engine}]")
    notes = [line for line in lines if line.startswith("note: ")]
    # Its upgrade failed after its downgrade ran: the walk goes on from a database rebuilt to 0003.
    assert notes == [
        "note: after 0003 (its upgrade failed after its downgrade had run), a fresh database was brought to 0003 "
        "with plain upgrades, and the checks went on from there"
    ]
    message = [line for line in lines if line not in notes]
    assert message[:4] == [
        f"test_stepwise_roundtrip[{engine}] failed:",
        'downgrade of 0003 ("author email", migrations/versions/0003_email.py) does not restore the schema it started from:',
        "  author.email: present after downgrade of 0003, absent before",
        "",
    ]
    assert message[4] == (
        'upgrade to 0003 ("author email", migrations/versions/0003_email.py), run again after its downgrade, '
        f"failed on {engine}."
    )
    assert message[5] == "The downgrade of 0003 left behind what its upgrade creates again (listed above)."
    assert message[6] == "To see it by hand: alembic upgrade 0003 && alembic downgrade -1 && alembic upgrade +1"
    assert message[7].startswith("at ") and message[7].endswith("0003_email.py:17")
    assert message[8].startswith("while running: ALTER TABLE") and "email" in message[8]
    assert message[-1].startswith(("sqlite3.", "psycopg2.", "psycopg.", "pymysql.")), "the database error comes last"
    # The downgrade ran and was committed, as `alembic downgrade -1` commits: a second walk rebuilds 0001..0003.
    assert f"{engine}: 3 revisions walked" in result.stdout.str() and "(2 walks)" in result.stdout.str()


def test_downgrade_leaving_a_server_default_fails_stepwise_roundtrip(project, run_checks, engine):
    default = revision(
        "0003",
        "0002",
        """
        with op.batch_alter_table("book") as batch:
            batch.alter_column("title", existing_type=sa.String(100), server_default="untitled")
        """,
        "pass  # forgot to remove the server default",
        message="title default",
    )
    project(
        {**CLEAN, "0003_default": default},
        AUTHOR_MODEL
        + BOOK_MODEL.replace("nullable=False, index=True", 'nullable=False, index=True, server_default="untitled"'),
    )
    result = run_checks(engines=engine)
    assert item_outcomes(result) == expected_outcomes(engine, test_stepwise_roundtrip="failed")
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"test_stepwise_roundtrip[[]{engine}[]] failed:",
            'downgrade of 0003 ("title default", migrations/versions/0003_default.py) does not restore the schema it started from:',
            "  book.title: server default 'untitled' after downgrade of 0003, none before",
        ]
    )


def test_model_column_no_migration_creates(project, run_checks):
    project(
        author_revisions('sa.Column("name", sa.String(50))'),
        author_model('sa.Column("name", sa.String(50))', 'sa.Column("email", sa.String(100))'),
    )
    result = run_checks()
    assert item_outcomes(result) == expected_outcomes(test_model_matches_migrations="failed")
    result.assert_outcomes(passed=6, failed=1)
    message = failure_lines(result, "test_model_matches_migrations[sqlite]")
    assert message == [
        "test_model_matches_migrations[sqlite] failed:",
        "the schema the migrations build differs from what metadata.create_all builds "
        '(add a migration, e.g. `alembic revision --autogenerate -m "..."`, or fix the model):',
        "  author.email: absent at head, present in the model",
    ]


def test_nullability_mismatch_fails_model_check(project, run_checks):
    project(
        author_revisions('sa.Column("name", sa.String(50), nullable=True)'),
        author_model('sa.Column("name", sa.String(50), nullable=False)'),
    )
    result = run_checks()
    assert item_outcomes(result) == expected_outcomes(test_model_matches_migrations="failed")
    result.assert_outcomes(passed=6, failed=1)
    assert failure_lines(result, "test_model_matches_migrations[sqlite]")[2:] == [
        "  author.name: nullable at head, NOT NULL in the model"
    ]


def test_missing_index_fails_model_check(project, run_checks):
    project(
        author_revisions('sa.Column("name", sa.String(50))'),
        author_model('sa.Column("name", sa.String(50), index=True)'),
    )
    result = run_checks()
    assert item_outcomes(result) == expected_outcomes(test_model_matches_migrations="failed")
    result.assert_outcomes(passed=6, failed=1)
    assert failure_lines(result, "test_model_matches_migrations[sqlite]")[2:] == [
        "  author: index ix_author_name on (name) absent at head, present in the model"
    ]


def test_server_default_only_in_model_is_a_note_when_autogenerate_does_not_compare_it(project, run_checks):
    # env.py as `alembic init` writes it leaves compare_server_default off: `alembic check` passes, and so
    # does the model check, telling the difference as a note with how to write it by hand.
    project(
        author_revisions('sa.Column("name", sa.String(50))'),
        author_model('sa.Column("name", sa.String(50), server_default="anonymous")'),
    )
    result = run_checks()
    assert item_outcomes(result) == expected_outcomes()
    result.stdout.fnmatch_lines(
        [
            "  note (test_model_matches_migrations): differences from the model that `alembic check` does not "
            "report (not failed; `migrations_model_strict = server_default` makes them failures):",
            "      author.name: server default none at head, 'anonymous' in the model",
            "    server_default: autogenerate compares server defaults only when env.py's context.configure has "
            "compare_server_default=True*",
        ]
    )


@pytest.mark.parametrize(
    "how",
    [{"configure": "compare_server_default=True"}, {"pytest_ini": "migrations_model_strict = server_default check"}],
    ids=["compare_server_default", "migrations_model_strict"],
)
def test_server_default_only_in_model_fails_when_compared(project, run_checks, how):
    project(
        author_revisions('sa.Column("name", sa.String(50))'),
        author_model('sa.Column("name", sa.String(50), server_default="anonymous")'),
        **how,
    )
    result = run_checks()
    assert item_outcomes(result) == expected_outcomes(test_model_matches_migrations="failed")
    result.assert_outcomes(passed=6, failed=1)
    lines = failure_lines(result, "test_model_matches_migrations[sqlite]")
    assert "  author.name: server default none at head, 'anonymous' in the model" in lines
    # Autogenerate is advised only where it would write the migration.
    assert ("alembic revision --autogenerate" in lines[1]) == ("configure" in how)


def test_misspelt_strict_kind_is_a_usage_error(project, run_checks):
    project(CLEAN, pytest_ini="migrations_model_strict = server-default\n")
    result = run_checks()
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*migrations_model_strict names server-default, which is not a kind*"])


def test_no_target_metadata_skips_model_check(project, run_checks):
    project(CLEAN)  # env.py as `alembic init` wrote it: target_metadata = None
    result = run_checks("-rs")
    assert item_outcomes(result) == expected_outcomes(test_model_matches_migrations="skipped")
    result.assert_outcomes(passed=6, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] *: test_model_matches_migrations[[]sqlite[]]: no target metadata: "
            "env.py passes target_metadata=None and neither --migrations-metadata nor the migrations_metadata "
            "ini key names one",
        ]
    )


def test_two_heads_fail_single_head_only(project, run_checks):
    tag = revision(
        "0003",
        "0001",
        'op.create_table("tag", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.drop_table("tag")',
        message="create tag",
    )
    project(
        {**CLEAN, "0003_tag": tag},
        CLEAN_MODELS + 'tag = sa.Table("tag", metadata, sa.Column("id", sa.Integer(), primary_key=True))\n',
    )
    result = run_checks()
    assert item_outcomes(result) == expected_outcomes(test_single_head="failed")
    result.assert_outcomes(passed=6, failed=1)
    message = failure_lines(result, "test_single_head")
    assert message[1] == "the history has 2 heads; it must have exactly one, or one per labelled branch:"
    assert sorted(message[2:4]) == [
        '  0002 ("create book", migrations/versions/0002_book.py)',
        '  0003 ("create tag", migrations/versions/0003_tag.py)',
    ]
    assert message[4] in (
        'Merge them: alembic merge -m "merge heads" 0002 0003',
        'Merge them: alembic merge -m "merge heads" 0003 0002',
    )
    assert message[5].startswith("If they are separate branches by design, give each branch its own branch_labels")
    assert len(message) == 6


def branches(first_label: str | None, second_label: str | None) -> dict[str, str]:
    """Two branches from base, as plugin-per-branch applications keep them: each upgraded by `upgrade heads`."""
    return {
        "0001_core": revision(
            "0001",
            None,
            'op.create_table("core", sa.Column("id", sa.Integer(), primary_key=True))',
            'op.drop_table("core")',
            branch_labels=(first_label,) if first_label else None,
        ),
        "0002_core": revision(
            "0002", "0001", 'op.add_column("core", sa.Column("n", sa.Integer()))', 'op.drop_column("core", "n")'
        ),
        "0003_plugin": revision(
            "0003",
            None,
            'op.create_table("plugin", sa.Column("id", sa.Integer(), primary_key=True))',
            'op.drop_table("plugin")',
            branch_labels=(second_label,) if second_label else None,
        ),
    }


def test_labelled_branches_by_design_pass_single_head_on_every_engine(project, run_checks):
    project(branches("core", "plugin"))
    result = run_checks(engines=ALL_ENGINES)
    assert item_outcomes(result) == expected_outcomes(ALL_ENGINES, test_model_matches_migrations="skipped")
    result.stdout.fnmatch_lines(
        [
            "  note (test_single_head): 2 branches by design, each head on a branch of its own: 0002 (core), 0003 (plugin)"
        ]
    )
    # Every walk check went over both branches.
    result.stdout.fnmatch_lines(["  revisions checked: upgraded 3/3, cycled 3/3, downgraded 3/3*"])


def test_an_unlabelled_second_head_still_fails(project, run_checks):
    project(branches("core", None))
    result = run_checks()
    message = failure_lines(result, "test_single_head")
    assert '  0003 ("revision 0003", migrations/versions/0003_plugin.py)' in message
    assert '  0002 ("revision 0002", migrations/versions/0002_core.py) on branch core' in message


@pytest.mark.parametrize(("declared", "outcome"), [("2", "passed"), ("3", "failed")])
def test_migrations_heads_declares_the_count(project, run_checks, declared, outcome):
    project(branches(None, None), pytest_ini=f"migrations_heads = {declared}\n")
    result = run_checks()
    assert item_outcomes(result)["test_single_head"] == outcome
    if outcome == "failed":
        assert failure_lines(result, "test_single_head")[1] == "the history has 2 heads; migrations_heads declares 3:"


IRREVERSIBLE = revision(
    "0003",
    "0002",
    'op.drop_column("author", "name")',
    'raise NotImplementedError("the names are gone")',
    message="drop names",
)
IRREVERSIBLE_MODELS = author_model() + BOOK_MODEL


def test_undeclared_irreversible_downgrade_fails_and_says_how_to_declare_it(project, run_checks):
    """One walk: the failing downgrade is named once in full, the tail stops there and points at it."""
    root = project({**CLEAN, "0003_drop_names": IRREVERSIBLE}, IRREVERSIBLE_MODELS)
    result = run_checks()
    assert item_outcomes(result) == expected_outcomes(
        test_downgrade="skipped",  # one cause, one failure: they point at test_stepwise_roundtrip
        test_stepwise_roundtrip="failed",
        test_data_preserved="failed",
        test_roundtrip="skipped",
    )
    assert failure_lines(result, "test_stepwise_roundtrip[sqlite]") == [
        "test_stepwise_roundtrip[sqlite] failed:",
        'downgrade of 0003 ("drop names", migrations/versions/0003_drop_names.py) failed on sqlite.',
        "If 0003 is meant to be irreversible, declare it in the pytest ini: migrations_irreversible = 0003",
        "To see it by hand: alembic upgrade 0003 && alembic downgrade -1",
        f"at {root / 'migrations' / 'versions' / '0003_drop_names.py'}:21",
        "NotImplementedError: the names are gone",
    ]
    assert (
        skip_reason(result, "test_downgrade[sqlite]")
        == "the downgrade of 0003 fails (see test_stepwise_roundtrip[sqlite]); head -> base stops there."
    )
    # The round trip cannot reach base: it does not pass over what it did not check.
    assert skip_reason(result, "test_roundtrip[sqlite]") == (
        "not checked: 0003 and the 2 below it (3 of 3 revisions): the walk down from head stops at 0003, whose "
        "downgrade fails (see test_downgrade[sqlite]); if it is meant to be irreversible, declare it: "
        "migrations_irreversible = 0003"
    )
    data = failure_lines(result, "test_data_preserved[sqlite]")
    assert data[1].startswith("upgrade 0002 -> 0003 dropped column author.name holding values in ")
    assert data[-1] == "If this loss is intended, declare it in the pytest ini: migrations_allow_data_loss = 0003"
    assert "(1 walk)" in result.stdout.str()


def test_declared_irreversible_downgrade_passes(project, run_checks):
    project(
        {**CLEAN, "0003_drop_names": IRREVERSIBLE},
        IRREVERSIBLE_MODELS,
        # Dropping the names loses them on purpose too, so the data check is told as well.
        pytest_ini="migrations_irreversible = 0003\nmigrations_allow_data_loss = 0003\n",
    )
    result = run_checks("-rP")
    assert item_outcomes(result) == expected_outcomes()
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(
        [
            "*_ test_downgrade[[]sqlite[]] _*",
            "*Captured pytest-migrations notes call*",
            "stopped at 0003: declared irreversible in migrations_irreversible",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*_ test_data_preserved[[]sqlite[]] _*",
            "*Captured pytest-migrations notes call*",
            "upgrade 0002 -> 0003 dropped column author.name holding values in * (allowed by migrations_allow_data_loss)",
        ]
    )


def test_branch_and_merge_history_passes(project, run_checks, engine):
    tag = revision(
        "0003",
        "0001",
        'op.create_table("tag", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("label", sa.String(20)))',
        'op.drop_table("tag")',
        message="create tag",
    )
    merge = revision("0004", ("0002", "0003"), "", "", message="merge book and tag")
    project(
        {**CLEAN, "0003_tag": tag, "0004_merge": merge},
        CLEAN_MODELS
        + 'tag = sa.Table("tag", metadata, sa.Column("id", sa.Integer(), primary_key=True), sa.Column("label", sa.String(20)))\n',
    )
    result = run_checks(engines=engine)
    assert item_outcomes(result) == expected_outcomes(engine)
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines([f"{engine}: 4 revisions walked in *s (1 walk)"])


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])  # PostgreSQL refuses a foreign key to a missing table
def test_depends_on_history_passes(project, run_checks, engine):
    # A second root whose first revision needs the author table: depends_on orders it after 0001.
    book = revision(
        "0101",
        None,
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
        message="create book",
        depends_on="0001",
        branch_labels="books",
    )
    merge = revision("0200", ("0001", "0101"), "", "", message="merge")
    project({"0001_author": AUTHOR, "0101_book": book, "0200_merge": merge}, CLEAN_MODELS)
    result = run_checks(engines=engine)
    assert item_outcomes(result) == expected_outcomes(engine)
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines([f"{engine}: 3 revisions walked in *s (1 walk)"])


@pytest.mark.parametrize(
    "rule",
    ["server_default", "server_default:author.name", "server_default:*.name", "author.name", "author"],
)
def test_ignore_rule_silences_a_known_difference(project, run_checks, rule):
    project(
        author_revisions('sa.Column("name", sa.String(50))'),
        author_model('sa.Column("name", sa.String(50), server_default="anonymous")'),
        pytest_ini=f"migrations_ignore =\n    {rule}\n",
    )
    result = run_checks()
    assert item_outcomes(result) == expected_outcomes()
    result.assert_outcomes(passed=7)


@pytest.mark.parametrize("rule", ["nullable", "server_default:author.email", "book", "author.email"])
def test_ignore_rule_for_something_else_does_not_silence_it(project, run_checks, rule):
    project(
        author_revisions('sa.Column("name", sa.String(50))'),
        author_model('sa.Column("name", sa.String(50), server_default="anonymous")'),
        pytest_ini=f"migrations_ignore =\n    {rule}\n",
        configure="compare_server_default=True",
    )
    result = run_checks()
    assert item_outcomes(result) == expected_outcomes(test_model_matches_migrations="failed")
    result.stdout.fnmatch_lines(["  author.name: server default none at head, 'anonymous' in the model"])


# ------------------------------------------------------------------- the session around the walk


def test_walk_leaves_the_garbage_collector_as_it_found_it(project, run_checks):
    # The walk freezes what existed before it so full collections skip it; the in-process run
    # shares this process's collector, so a freeze left behind would show here.
    project(CLEAN, CLEAN_MODELS)
    assert gc.get_freeze_count() == 0
    result = run_checks()
    result.assert_outcomes(passed=7)
    assert gc.get_freeze_count() == 0


def test_walk_keeps_a_freeze_it_did_not_make(project, run_checks):
    project(CLEAN, CLEAN_MODELS)
    marker: list[object] = []
    assert any(obj is marker for obj in gc.get_objects())
    gc.freeze()  # as an app's startup code may do: frozen objects are out of gc.get_objects()' sight
    try:
        result = run_checks()
        result.assert_outcomes(passed=7)
        assert not any(obj is marker for obj in gc.get_objects())
    finally:
        gc.unfreeze()


def test_localtimestamp_is_not_current_timestamp(project, run_checks):
    # LOCALTIMESTAMP has no time zone: a downgrade that leaves it where CURRENT_TIMESTAMP was changed the schema.
    project(
        {
            "0001_t": revision(
                "0001",
                None,
                'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True), '
                'sa.Column("at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP")))',
                'op.drop_table("t")',
            ),
            "0002_local": revision(
                "0002",
                "0001",
                'op.alter_column("t", "at", server_default=sa.text("LOCALTIMESTAMP"))',
                "pass",
            ),
        }
    )
    result = run_checks(engines="postgresql")
    lines = failure_lines(result, "test_stepwise_roundtrip[postgresql]")
    assert "  t.at: server default LOCALTIMESTAMP after downgrade of 0002, CURRENT_TIMESTAMP before" in lines, lines
