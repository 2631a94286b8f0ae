"""The data check, test_data_preserved: every project runs once on all three engines.

Rows are seeded into every table before each upgrade; a migration that loses them (or a
downgrade that does not bring them back) fails the check, on the engines where it loses them.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from conftest import (
    ALL_ENGINES,
    ENGINES,
    assert_checks,
    failure_lines,
    item_failure,
    item_outcomes,
    item_reports,
    needs,
    revision,
)
from pytest_migrations.checks import CHECKS


def data_failures(engines: tuple[str, ...] = ENGINES) -> set[str]:
    return {f"test_data_preserved[{engine}]" for engine in engines}


PERSON = """
op.create_table(
    "person",
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("bio", sa.String(200), nullable=True),
)
"""


PERSON_MODEL = """
person = sa.Table(
    "person", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("bio", sa.String(200), nullable=True),
)
"""


# ------------------------------------------------------------- lost data

REBUILD_FORGETS_ROWS = {
    "0001_person": revision("0001", None, PERSON, 'op.drop_table("person")'),
    "0002_rebuild": revision(
        "0002",
        "0001",
        """
        op.create_table(
            "person_new",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(50), nullable=False),
            sa.Column("bio", sa.String(200), nullable=True),
            sa.Column("nickname", sa.String(30), nullable=True),
        )
        # forgotten: INSERT INTO person_new (id, name, bio) SELECT id, name, bio FROM person
        op.drop_table("person")
        op.rename_table("person_new", "person")
        """,
        """
        with op.batch_alter_table("person") as batch:
            batch.drop_column("nickname")
        """,
    ),
}
REBUILD_MODEL = PERSON_MODEL.replace(
    '    sa.Column("bio", sa.String(200), nullable=True),\n',
    '    sa.Column("bio", sa.String(200), nullable=True),\n    sa.Column("nickname", sa.String(30), nullable=True),\n',
)


def test_table_rebuild_that_forgets_to_copy_rows_is_caught_on_upgrade(project, run_checks):
    project(REBUILD_FORGETS_ROWS, REBUILD_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES, failed=data_failures())
    for engine in ENGINES:
        text = item_failure(result, f"test_data_preserved[{engine}]")
        assert "upgrade 0001 -> 0002 lost 3 of 3 rows of person" in text
        assert "0002_rebuild.py" in text


RENAME_THEN_READD_EMPTY = {
    "0001_person": revision("0001", None, PERSON, 'op.drop_table("person")'),
    "0002_rename": revision(
        "0002",
        "0001",
        'op.alter_column("person", "bio", new_column_name="about", existing_type=sa.String(200))',
        """
        op.drop_column("person", "about")
        op.add_column("person", sa.Column("bio", sa.String(200), nullable=True))
        """,
    ),
}
RENAME_MODEL = PERSON_MODEL.replace('"bio"', '"about"')


def test_downgrade_that_readds_a_column_without_its_values_is_caught(project, run_checks):
    """The schema round-trips (so the stepwise check passes) but the values are gone."""
    project(RENAME_THEN_READD_EMPTY, RENAME_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES, failed=data_failures())
    for engine in ENGINES:
        text = item_failure(result, f"test_data_preserved[{engine}]")
        assert "downgrade 0002 -> 0001 lost values of person.bio in 3 of 3 rows" in text
        assert "0002_rename.py" in text


ACCOUNT = """
op.create_table(
    "account",
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("balance", sa.Numeric(12, 4), nullable=False),
)
"""
SCALE_NARROWED = {
    "0001_account": revision("0001", None, ACCOUNT, 'op.drop_table("account")'),
    "0002_cents": revision(
        "0002",
        "0001",
        """
        with op.batch_alter_table("account") as batch:
            batch.alter_column("balance", type_=sa.Numeric(10, 2), existing_type=sa.Numeric(12, 4), existing_nullable=False)
        """,
        """
        with op.batch_alter_table("account") as batch:
            batch.alter_column("balance", type_=sa.Numeric(12, 4), existing_type=sa.Numeric(10, 2), existing_nullable=False)
        """,
    ),
}
CENTS_MODEL = """
account = sa.Table(
    "account", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("balance", sa.Numeric(10, 2), nullable=False),
)
"""


def test_narrowing_a_numeric_scale_rounds_values_and_is_caught_where_it_does(project, run_checks):
    # Seeded decimals use every decimal place, so 12.3457 -> 12.35 shows. SQLite keeps whatever it was given.
    project(SCALE_NARROWED, CENTS_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES, failed=data_failures(("postgresql", "mysql")))
    for engine in ("postgresql", "mysql"):
        # The upgrade rounded the values and the downgrade, widening the type again, leaves them so:
        # the change is the upgrade's.
        text = item_failure(result, f"test_data_preserved[{engine}]")
        assert (
            "upgrade 0001 -> 0002 changed values of account.balance in 3 of 3 rows: id=100001 10100001.0013 -> " in text
        )
        assert "(its downgrade leaves them so)" in text


MOVE_WITHOUT_MOVING_BACK = {
    "0001_person": revision("0001", None, PERSON, 'op.drop_table("person")'),
    "0002_profile": revision(
        "0002",
        "0001",
        """
        op.create_table(
            "profile",
            sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), primary_key=True, autoincrement=False),
            sa.Column("bio", sa.String(200), nullable=True),
        )
        op.execute("INSERT INTO profile (person_id, bio) SELECT id, bio FROM person")
        op.drop_column("person", "bio")
        """,
        """
        op.add_column("person", sa.Column("bio", sa.String(200), nullable=True))
        # forgotten: UPDATE person SET bio = (SELECT bio FROM profile WHERE profile.person_id = person.id)
        op.drop_table("profile")
        """,
    ),
}
PROFILE_MODEL = """
person = sa.Table(
    "person", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)
profile = sa.Table(
    "profile", metadata,
    sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), primary_key=True, autoincrement=False),
    sa.Column("bio", sa.String(200), nullable=True),
)
"""


def test_column_moved_to_another_table_and_not_moved_back_is_caught(project, run_checks):
    project(MOVE_WITHOUT_MOVING_BACK, PROFILE_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES, failed=data_failures())
    for engine in ENGINES:
        text = item_failure(result, f"test_data_preserved[{engine}]")
        assert "person.bio" in text
        assert "0002_profile.py" in text


def test_column_moved_to_another_table_and_not_moved_back_blames_the_downgrade(project, run_checks):
    project(MOVE_WITHOUT_MOVING_BACK, PROFILE_MODEL)
    result = run_checks()
    text = item_failure(result, "test_data_preserved[sqlite]")
    assert "downgrade 0002 -> 0001 lost values of person.bio in 3 of 3 rows" in text, text


NOT_NULL_WITHOUT_DEFAULT = {
    "0001_person": revision("0001", None, PERSON, 'op.drop_table("person")'),
    "0002_age": revision(
        "0002",
        "0001",
        'op.add_column("person", sa.Column("age", sa.Integer(), nullable=False))',
        'op.drop_column("person", "age")',
    ),
}
AGE_MODEL = PERSON_MODEL.replace(
    '    sa.Column("bio", sa.String(200), nullable=True),\n',
    '    sa.Column("bio", sa.String(200), nullable=True),\n    sa.Column("age", sa.Integer(), nullable=False),\n',
)


def test_not_null_column_without_default_fails_only_where_rows_break_it(project, run_checks):
    """SQLite and PostgreSQL refuse the column once the table has rows; MariaDB fills in 0."""
    project(NOT_NULL_WITHOUT_DEFAULT, AGE_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES, failed=data_failures(("sqlite", "postgresql")))
    for engine in ("sqlite", "postgresql"):
        text = item_failure(result, f"test_data_preserved[{engine}]")
        assert "upgrade to 0002" in text
        assert f"failed on {engine} with seeded rows in the tables" in text
        assert (
            "It succeeds on an empty database, so the rows are the cause: give new NOT NULL columns a "
            "server_default, or fill them before adding the constraint." in text
        )
        assert "Its upgrade was run on empty tables, and the revisions after 0002 were checked with rows again." in text


CONCATENATION = {
    "0001_person": revision("0001", None, PERSON, 'op.drop_table("person")'),
    # || joins strings on SQLite and PostgreSQL; on MySQL it is OR, and strict mode refuses the text as a number.
    "0002_bio": revision("0002", "0001", """op.execute("UPDATE person SET bio = name || ' (member)'")""", "pass"),
}


def test_a_data_migration_that_fails_only_on_rows_gets_no_not_null_advice(project, run_checks):
    project(CONCATENATION, PERSON_MODEL, pytest_ini="migrations_allow_data_loss = 0002\n")  # bio is overwritten
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES, failed=data_failures(("mysql",)))
    lines = failure_lines(result, "test_data_preserved[mysql]")
    assert "failed on mysql with seeded rows in the tables." in lines[1]
    assert lines[2] == (
        "It succeeds on an empty database, so the rows are the cause: what it does to existing rows fails (the "
        "database's error below says how); a migration has to handle every value its tables may hold."
    )
    assert "Truncated incorrect" in lines[-1]


# ------------------------------------------------------------- no false alarms

MOVE_AND_MOVE_BACK = {
    "0001_person": revision("0001", None, PERSON, 'op.drop_table("person")'),
    "0002_profile": revision(
        "0002",
        "0001",
        """
        op.create_table(
            "profile",
            sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), primary_key=True, autoincrement=False),
            sa.Column("bio", sa.String(200), nullable=True),
        )
        op.execute("INSERT INTO profile (person_id, bio) SELECT id, bio FROM person WHERE bio IS NOT NULL")
        op.drop_column("person", "bio")
        """,
        """
        op.add_column("person", sa.Column("bio", sa.String(200), nullable=True))
        op.execute("UPDATE person SET bio = (SELECT bio FROM profile WHERE profile.person_id = person.id)")
        op.drop_table("profile")
        """,
    ),
}
MIGRATOR_TEST = """
def test_bio_moves_to_profile(migrator):
    assert migrator.revisions == ["0001", "0002"]
    assert migrator.current() == ()
    migrator.upgrade("0001")
    assert migrator.current() == ("0001",)
    migrator.insert(
        "person",
        [{"id": 1, "name": "Ada Lovelace", "bio": "Analyst"}, {"id": 2, "name": "Alan Turing", "bio": None}],
    )
    migrator.upgrade("0002")
    assert migrator.current() == ("0002",)
    assert migrator.rows("person") == [{"id": 1, "name": "Ada Lovelace"}, {"id": 2, "name": "Alan Turing"}]
    assert migrator.rows("profile") == [{"person_id": 1, "bio": "Analyst"}]
    migrator.downgrade("0001")
    assert migrator.rows("person") == [
        {"id": 1, "name": "Ada Lovelace", "bio": "Analyst"},
        {"id": 2, "name": "Alan Turing", "bio": None},
    ]
    migrator.downgrade()
    assert migrator.current() == ()
"""


def test_correct_data_migration_passes_and_migrator_runs_on_every_engine(project, run_checks, pytester):
    project(MOVE_AND_MOVE_BACK, PROFILE_MODEL)
    pytester.makepyfile(test_profile=MIGRATOR_TEST)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES)
    got = item_reports(result)
    for engine in ENGINES:
        name = f"test_bio_moves_to_profile[{engine}]"
        assert got[name].outcome == "passed", got[name].longreprtext if name in got else f"{name} missing"
    result.assert_outcomes(passed=(len(CHECKS) - 1) * 3 + 1 + 3)  # test_single_head: one item per history


DECLARED_LOSS = {
    "0001_person": revision("0001", None, PERSON, 'op.drop_table("person")'),
    "0002_drop_bio": revision(
        "0002",
        "0001",
        'op.drop_column("person", "bio")',
        'op.add_column("person", sa.Column("bio", sa.String(200), nullable=True))',
    ),
}
NO_BIO_MODEL = """
person = sa.Table(
    "person", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)
"""


def test_a_dropped_column_its_downgrade_does_not_fill_again_is_told_by_both_lines(project, run_checks):
    """The upgrade dropped the values and the downgrade does not bring them back: either may be the culprit."""
    project(DECLARED_LOSS, NO_BIO_MODEL)
    result = run_checks()
    lines = failure_lines(result, "test_data_preserved[sqlite]")
    assert lines[1].startswith("upgrade 0001 -> 0002 dropped column person.bio holding values in 3 of 3 rows: ")
    assert lines[1].endswith(
        "; its downgrade does not bring them all back (next line)  [migrations/versions/0002_drop_bio.py]"
    )
    assert lines[2].startswith("downgrade 0002 -> 0001 lost values of person.bio in 3 of 3 rows: ")
    assert lines[3] == "If this loss is intended, declare it in the pytest ini: migrations_allow_data_loss = 0002"


NORMALIZED = {
    "0001_person": revision("0001", None, PERSON, 'op.drop_table("person")'),
    "0002_lower": revision("0002", "0001", 'op.execute("UPDATE person SET name = lower(name)")', "pass"),
}


def test_a_revision_that_lowercases_text_changes_values(project, run_checks):
    """Generated text has capitals, so a normalization a revision applies and cannot undo shows."""
    project(NORMALIZED, PERSON_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES, failed=data_failures())
    for engine in ENGINES:
        text = item_failure(result, f"test_data_preserved[{engine}]")
        assert "upgrade 0001 -> 0002 changed values of person.name in 3 of 3 rows" in text, text
        assert "(its downgrade leaves them so)" in text


BACKFILL = {
    "0001_person": revision("0001", None, PERSON, 'op.drop_table("person")'),
    "0002_nickname": revision(
        "0002",
        "0001",
        'op.add_column("person", sa.Column("nickname", sa.String(30), nullable=True))',
        'op.drop_column("person", "nickname")',
    ),
    # Fills the rows that had no nickname; nothing to undo, says the downgrade.
    "0003_backfill": revision(
        "0003", "0002", "op.execute(\"UPDATE person SET nickname = 'friend' WHERE nickname IS NULL\")", "pass"
    ),
}
NICKNAME_MODEL = PERSON_MODEL.replace(
    '    sa.Column("bio", sa.String(200), nullable=True),\n',
    '    sa.Column("bio", sa.String(200), nullable=True),\n    sa.Column("nickname", sa.String(30), nullable=True),\n',
)


def test_a_backfill_of_nulls_its_downgrade_leaves_filled_loses_nothing(project, run_checks):
    project(BACKFILL, NICKNAME_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES)


DROP_THEN_BROKEN_DOWNGRADE = {
    "0001_person": revision("0001", None, PERSON, 'op.drop_table("person")'),
    # The downgrade changes the schema before it fails: MySQL cannot undo that, and the walk starts again.
    "0002_drop_bio": revision(
        "0002",
        "0001",
        'op.drop_column("person", "bio")',
        'op.add_column("person", sa.Column("bio", sa.String(200), nullable=True))\n'
        'op.execute("SELECT no_such_function()")',
    ),
}


def test_values_an_upgrade_drops_are_lost_when_its_downgrade_fails_on_every_engine(project, run_checks):
    project(DROP_THEN_BROKEN_DOWNGRADE, NO_BIO_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    for engine in ENGINES:
        text = item_failure(result, f"test_data_preserved[{engine}]")
        assert "upgrade 0001 -> 0002 dropped column person.bio holding values in 3 of 3 rows" in text, (engine, text)


def test_declared_data_loss_passes_and_is_reported(project, run_checks):
    project(DECLARED_LOSS, NO_BIO_MODEL, pytest_ini="migrations_allow_data_loss = 0002\n")
    result = run_checks("-rA", engines=ALL_ENGINES)
    assert_checks(result, *ENGINES)
    result.stdout.fnmatch_lines(
        [
            "*pytest-migrations notes*",
            "*upgrade 0001 -> 0002 dropped column person.bio holding values in 3 of 3 rows*"
            "(allowed by migrations_allow_data_loss)*",
        ]
    )
    for engine in ENGINES:
        sections = dict(item_reports(result)[f"test_data_preserved[{engine}]"].sections)
        notes = next(text for title, text in sections.items() if "pytest-migrations notes" in title)
        assert "person.bio" in notes
        assert "allowed by migrations_allow_data_loss" in notes


TREE_AND_MEMBERS = {
    "0001_category": revision(
        "0001",
        None,
        """
        op.create_table(
            "category",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("parent_id", sa.Integer(), sa.ForeignKey("category.id"), nullable=True),
            sa.Column("name", sa.String(40), nullable=False),
        )
        """,
        'op.drop_table("category")',
    ),
    "0002_membership": revision(
        "0002",
        "0001",
        """
        op.create_table(
            "membership",
            sa.Column("category_id", sa.Integer(), sa.ForeignKey("category.id"), nullable=False),
            sa.Column("member", sa.String(20), nullable=False),
            sa.Column("role", sa.String(20), nullable=True),
            sa.PrimaryKeyConstraint("category_id", "member"),
        )
        """,
        'op.drop_table("membership")',
    ),
    "0003_more": revision(
        "0003",
        "0002",
        """
        op.add_column("category", sa.Column("slug", sa.String(40), nullable=True))
        op.add_column("membership", sa.Column("since", sa.Date(), nullable=True))
        """,
        """
        op.drop_column("membership", "since")
        op.drop_column("category", "slug")
        """,
    ),
}
TREE_MODEL = """
category = sa.Table(
    "category", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("parent_id", sa.Integer(), sa.ForeignKey("category.id"), nullable=True),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("slug", sa.String(40), nullable=True),
)
membership = sa.Table(
    "membership", metadata,
    sa.Column("category_id", sa.Integer(), sa.ForeignKey("category.id"), primary_key=True),
    sa.Column("member", sa.String(20), primary_key=True),
    sa.Column("role", sa.String(20), nullable=True),
    sa.Column("since", sa.Date(), nullable=True),
)
"""
TREE_LOSES_LINKS = {
    "0004_flatten": revision(
        "0004",
        "0003",
        """
        op.execute("DELETE FROM membership WHERE role IS NOT NULL")
        """,
        """
        op.execute("UPDATE category SET parent_id = NULL")
        """,
    ),
}


def test_self_referencing_and_composite_key_tables_are_seeded_and_pass(project, run_checks):
    project(TREE_AND_MEMBERS, TREE_MODEL)
    result = run_checks("-rA", engines=ALL_ENGINES)
    assert {outcome for name, outcome in item_outcomes(result).items() if "model" not in name} == {"passed"}
    assert "cannot be seeded" not in result.stdout.str()


def test_self_referencing_and_composite_key_tables_hold_rows_the_check_follows(project, run_checks):
    """The same tables, and a revision that loses their rows and links: the seeded rows reveal it."""
    project({**TREE_AND_MEMBERS, **TREE_LOSES_LINKS}, TREE_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES, failed=data_failures())
    for engine in ENGINES:
        text = item_failure(result, f"test_data_preserved[{engine}]")
        assert "upgrade 0003 -> 0004 lost" in text and "rows of membership: category_id=" in text, text
        assert "downgrade 0004 -> 0003 lost values of category.parent_id" in text, text


# ------------------------------------------------------------- the rows hook

CODED = {
    "0001_coded": revision(
        "0001",
        None,
        """
        op.create_table(
            "coded",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
            sa.Column("code", sa.String(10), nullable=False),
            sa.CheckConstraint("substr(code, 1, 1) = 'X'", name="ck_coded_code"),
        )
        """,
        'op.drop_table("coded")',
    ),
    "0002_audit": revision(
        "0002",
        "0001",
        """
        op.create_table(
            "audit",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("what", sa.String(40), nullable=False),
        )
        """,
        """
        op.drop_table("audit")
        op.execute("DELETE FROM coded WHERE id = 7")
        """,
    ),
    "0003_note": revision(
        "0003",
        "0002",
        'op.add_column("audit", sa.Column("note", sa.String(40), nullable=True))',
        'op.drop_column("audit", "note")',
    ),
}
CODED_CONFTEST = """
import pathlib


def pytest_migrations_rows(revision, table):
    with open(pathlib.Path(__file__).parent / "hook-calls.txt", "a") as calls:
        calls.write(f"{revision} {table}\\n")
    if table != "coded":
        return None  # generated rows
    if revision == "0001":
        return [{"id": n, "code": f"X{n}"} for n in (7, 8, 9)]
    return []
"""


def test_rows_hook_supplies_rows_generation_cannot_make(project, run_checks, pytester):
    project(CODED)
    pytester.makeconftest(CODED_CONFTEST)
    result = run_checks("-rA", engines=ALL_ENGINES)
    got = item_reports(result)
    assert got["test_single_head"].outcome == "passed"
    for engine in ENGINES:
        for check in CHECKS[1:-1]:
            assert got[f"{check}[{engine}]"].outcome in ("passed", "skipped"), f"{check}[{engine}]"
        text = item_failure(result, f"test_data_preserved[{engine}]")
        # Only the hook's rows have id 7; generated keys start far above.
        assert "downgrade 0002 -> 0001 lost 1 of 3 rows of coded: id=7" in text, text
    assert "cannot be seeded" not in result.stdout.str()
    # Asked before each upgrade, for each table that exists then: coded at 0001 and 0002, audit at 0002.
    calls = (pytester.path / "hook-calls.txt").read_text().splitlines()
    assert sorted(set(calls)) == ["0001 coded", "0002 audit", "0002 coded"]


CODED_KEPT = {
    **CODED,
    "0002_audit": CODED["0002_audit"].replace('    op.execute("DELETE FROM coded WHERE id = 7")\n', ""),
}


def test_rows_hook_may_return_the_same_rows_every_time(project, run_checks, pytester):
    # Asked again when a table's schema changes; rows whose key is already there are not inserted twice.
    project(CODED_KEPT)
    pytester.makeconftest(
        """
        def pytest_migrations_rows(revision, table):
            if table == "coded":
                return [{"id": 1, "code": "X-1"}, {"id": 2, "code": "X-2"}]
        """
    )
    result = run_checks("-rA", engines=ALL_ENGINES)
    assert {outcome for name, outcome in item_outcomes(result).items() if "model" not in name} == {"passed"}
    assert "cannot be seeded" not in result.stdout.str()


COUPONS = {
    "0001_coupon": revision(
        "0001",
        None,
        """
        op.create_table(
            "coupon",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("code", sa.String(10), nullable=False, unique=True),
            sa.Column("note", sa.String(20), nullable=True),
        )
        op.create_table(
            "ticket",
            sa.Column("id", sa.Uuid(), primary_key=True),
            sa.Column("code", sa.String(10), nullable=False, unique=True),
        )
        """,
        """
        op.drop_table("ticket")
        op.drop_table("coupon")
        """,
    ),
    "0002_extra": revision(
        "0002",
        "0001",
        """
        op.add_column("coupon", sa.Column("extra", sa.Integer(), nullable=True))
        op.add_column("ticket", sa.Column("extra", sa.Integer(), nullable=True))
        """,
        """
        op.drop_column("ticket", "extra")
        op.drop_column("coupon", "extra")
        """,
    ),
}
COUPONS["0003_index"] = revision(
    "0003",
    "0002",
    'op.create_index("ix_coupon_note", "coupon", ["note"])',
    'op.drop_index("ix_coupon_note", table_name="coupon")',
)
COUPON_HOOK = """
def pytest_migrations_rows(revision, table):
    if table == "coupon":  # no key on one row, another row of a different shape
        return [{"code": "X-1"}, {"id": 7, "code": "X-7", "note": "seven"}]
    if table == "ticket":  # a UUID key given as a string; drivers give it back as they like
        return [{"id": "12345678-1234-5678-1234-567812345678", "code": "T-1"}]
"""


@needs("SQLAlchemy", "2.0", "a revision using sa.Uuid")
def test_rows_hook_rows_without_keys_of_mixed_shapes_and_string_uuids(project, run_checks, pytester):
    # The hook is asked before every upgrade while its tables hold few rows: at 0001 and again at 0002.
    project(COUPONS)
    pytester.makeconftest(COUPON_HOOK)
    result = run_checks("-rA", engines=ALL_ENGINES)
    assert {outcome for name, outcome in item_outcomes(result).items() if "model" not in name} == {"passed"}
    assert "cannot be inserted" not in result.stdout.str()
    assert "cannot be seeded" not in result.stdout.str()


@pytest.mark.parametrize(
    ("rows", "engines", "complaint"),
    [
        (
            '[{"id": 1, "kode": "X-1"}]',
            "sqlite",
            "pytest_migrations_rows gave rows for coded at 0001 that name columns it does not have: kode "
            "(its columns: id, code)",
        ),
        (
            '{"kode": "X-1"}["code"]',
            "sqlite",
            "pytest_migrations_rows raised for coded at 0001: KeyError: 'code' (at ",
        ),
        (
            '[{"id": 1, "code": "Y-1"}]',
            ALL_ENGINES,
            "pytest_migrations_rows gave rows for coded at 0001 that cannot be inserted "
            "(return rows that fit the table as it is at that revision): ",
        ),
    ],
)
def test_rows_hook_rows_that_cannot_go_in_fail_the_data_check(project, run_checks, pytester, rows, engines, complaint):
    project(CODED_KEPT)
    pytester.makeconftest(
        f"""
        def pytest_migrations_rows(revision, table):
            if table == "coded":
                return {rows}
        """
    )
    result = run_checks(engines=engines)
    for engine in engines.split(","):
        assert item_outcomes(result)[f"test_data_preserved[{engine}]"] == "failed"
        assert complaint in item_failure(result, f"test_data_preserved[{engine}]")


CASCADE = {
    "0001_person": revision("0001", None, PERSON, 'op.drop_table("person")'),
    "0002_pet": revision(
        "0002",
        "0001",
        """
        op.create_table(
            "pet",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("owner_id", sa.Integer(), sa.ForeignKey("person.id", ondelete="CASCADE"), nullable=False),
        )
        """,
        'op.drop_table("pet")',
    ),
    "0003_purge": revision("0003", "0002", 'op.execute("DELETE FROM person")', "pass"),
}
CASCADE_MODEL = (
    PERSON_MODEL
    + """
pet = sa.Table(
    "pet", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("owner_id", sa.Integer(), sa.ForeignKey("person.id", ondelete="CASCADE"), nullable=False),
)
"""
)


def test_rows_removed_by_on_delete_cascade_are_caught_in_the_table_no_statement_names(project, run_checks):
    """`DELETE FROM person` names only person; where the engine enforces the foreign key, pet loses its rows too."""
    project(CASCADE, CASCADE_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES, failed=data_failures())
    for engine in ENGINES:
        text = item_failure(result, f"test_data_preserved[{engine}]")
        assert "upgrade 0002 -> 0003 lost 6 of 6 rows of person" in text
        # SQLite enforces foreign keys only under PRAGMA foreign_keys = ON: there the pets stay.
        assert ("upgrade 0002 -> 0003 lost 3 of 3 rows of pet" in text) == (engine != "sqlite"), text


PATTERN_COUPONS = {
    "0001_coupon": revision(
        "0001",
        None,
        """
        op.create_table(
            "coupon",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("code", sa.String(20), nullable=False),
            sa.CheckConstraint("substr(code, 1, 2) = 'X-'", name="ck_coupon_code"),
        )
        """,
        'op.drop_table("coupon")',
    ),
    "0002_touch": revision("0002", "0001", 'op.execute("UPDATE coupon SET code = code")', ""),
}
PATTERN_COUPON_MODEL = """
coupon = sa.Table(
    "coupon", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("code", sa.String(20), nullable=False),
    sa.CheckConstraint("substr(code, 1, 2) = 'X-'", name="ck_coupon_code"),
)
"""


def test_a_table_generation_cannot_fill_is_named_in_the_summary_of_a_passing_run(project, run_checks):
    """The check goes on with the other tables, but a passing verdict must not hide what it could not test."""
    project(PATTERN_COUPONS, PATTERN_COUPON_MODEL)
    result = run_checks()
    assert item_outcomes(result)["test_data_preserved[sqlite]"] == "passed"
    result.stdout.fnmatch_lines(
        [
            "*pytest-migrations summary*",
            "  note (test_data_preserved): table coupon at * cannot be seeded: CHECK constraint failed: "
            "ck_coupon_code; supply rows with the pytest_migrations_rows hook",
        ]
    )


SHIFTED = {
    "0001_person": revision("0001", None, PERSON, 'op.drop_table("person")'),
    # A hand-written data fix with a bug: it copies name into bio for every row. Nothing to undo, says the downgrade.
    "0002_fix_bios": revision("0002", "0001", 'op.execute("UPDATE person SET bio = name")', "pass", message="fix bios"),
}


def test_values_an_upgrade_changed_are_the_upgrades_not_its_empty_downgrades(project, run_checks):
    project(SHIFTED, PERSON_MODEL)
    result = run_checks()
    lines = failure_lines(result, "test_data_preserved[sqlite]")
    assert lines[1].startswith("upgrade 0001 -> 0002 changed values of person.bio in 3 of 3 rows: id=100001 ")
    assert lines[1].endswith("(its downgrade leaves them so)  [migrations/versions/0002_fix_bios.py]")
    assert not any(line.startswith("downgrade 0002") for line in lines), lines


STRING_ENUMS = {
    # The revision's own Enum, stored as a VARCHAR on every engine (native_enum=False, no CHECK).
    "0001_ticket": revision(
        "0001",
        None,
        """
        op.create_table(
            "ticket",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("state", sa.Enum("open", "closed", native_enum=False, name="state", length=6)),
        )
        op.create_table("issue", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("kind", sa.String(5)))
        """,
        'op.drop_table("issue")\nop.drop_table("ticket")',
    ),
    # A data migration that reads both back through their Enums: any other value raises LookupError.
    "0002_read": revision(
        "0002",
        "0001",
        """
        conn = op.get_bind()
        ticket = sa.table("ticket", sa.column("state", sa.Enum("open", "closed", native_enum=False, length=6)))
        issue = sa.table("issue", sa.column("kind", sa.Enum("bug", "task", native_enum=False, length=5)))
        conn.execute(sa.select(ticket.c.state)).scalars().all()
        conn.execute(sa.select(issue.c.kind)).scalars().all()
        """,
        "pass",
    ),
}
# The model's Enum for issue.kind: its revision wrote a plain String.
STRING_ENUM_MODEL = """
ticket = sa.Table(
    "ticket", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("state", sa.Enum("open", "closed", native_enum=False, name="state", length=6)),
)
issue = sa.Table(
    "issue", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("kind", sa.Enum("bug", "task", native_enum=False, length=5)),
)
"""


def test_string_stored_enums_get_only_their_values_from_the_revisions_and_the_model(project, run_checks):
    """A VARCHAR enum read back through its Enum must hold one of its values, never a generated string."""
    project(STRING_ENUMS, STRING_ENUM_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES)
    assert "LookupError" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*data coverage: tables 2/2 seeded, columns 4/4 held a value, revisions 2/2 checked"])


UNSEEDABLE_PARENTS = {
    "0001_tables": revision(
        "0001",
        None,
        """
        # Codes must start with X, said in a form the generator does not read (a function of the
        # column): neither parent table can be seeded.
        for name in ("voucher", "campaign"):
            op.create_table(
                name,
                sa.Column("id", sa.Integer(), primary_key=True),
                sa.Column("code", sa.String(20), nullable=False),
                sa.CheckConstraint("substr(code, 1, 1) = 'X'", name=f"ck_{name}_code"),
            )
        op.execute("INSERT INTO voucher (id, code) VALUES (1, 'X1')")  # a row of the migration's own
        op.create_table(
            "redemption",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("voucher_id", sa.Integer(), sa.ForeignKey("voucher.id"), nullable=False),
        )
        op.create_table(
            "mailing",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=True),
        )
        """,
        'op.drop_table("mailing")\nop.drop_table("redemption")\nop.drop_table("campaign")\nop.drop_table("voucher")',
    ),
    "0002_drop_mailing_link": revision(
        "0002",
        "0001",
        'with op.batch_alter_table("mailing") as batch_op:\n    batch_op.drop_column("campaign_id")',
        'with op.batch_alter_table("mailing") as batch_op:\n'
        '    batch_op.add_column(sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id", name="fk_c")))',
    ),
}


def test_children_of_a_table_that_cannot_be_seeded_are_seeded_and_the_summary_names_the_gap(project, run_checks):
    """A parent generation cannot fill does not silence its children: they refer to the rows the
    parent does hold, or take NULL where the link is nullable; the coverage line names the gap."""
    project(UNSEEDABLE_PARENTS)
    result = run_checks()
    assert item_outcomes(result)["test_data_preserved[sqlite]"] == "passed"
    result.stdout.fnmatch_lines(
        [
            "  data coverage: tables 3/4 seeded, columns 5/8 held a value, revisions 1/2 checked; "
            "never seeded: campaign; never held a value: mailing.campaign_id",
        ]
    )


# Shapes found on real projects that generated rows used to break, each read back or constrained the
# way the application does it.
REAL_SHAPES = {
    "0001_shapes": revision(
        "0001",
        None,
        """
        op.create_table(
            "tax_rate",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("rate", sa.Numeric(4, 4), nullable=False),  # 0.9999 at most
        )
        op.create_table(
            "ledger",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("debit", sa.Integer()),
            sa.Column("partner_ref", sa.BigInteger()),
            sa.Column("username", sa.String(50)),
            sa.Column("starts_at", sa.DateTime(), nullable=False),
            sa.Column("ends_at", sa.DateTime()),
            # PostgreSQL echoes these bounds quoted ('-1'::integer); MariaDB and SQLite keep BETWEEN.
            sa.CheckConstraint("debit <= -1", name="ck_ledger_debit"),
            sa.CheckConstraint("partner_ref >= 1000000000000", name="ck_ledger_partner"),
            sa.CheckConstraint("length(username) BETWEEN 3 AND 20", name="ck_ledger_username"),
            sa.CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ck_ledger_period"),
        )
        op.create_table(
            "api_key",
            sa.Column("id", sa.Uuid(), primary_key=True),  # CHAR(32) where there is no UUID type
            sa.Column("state", sa.Enum("pending", "paid", native_enum=False, name="state", length=10)),
        )
        """,
        'op.drop_table("api_key")\nop.drop_table("ledger")\nop.drop_table("tax_rate")',
    ),
    # Reads both back through the types of its time: a Uuid, and the Enum before 'refunded' existed.
    "0002_read": revision(
        "0002",
        "0001",
        """
        keys = sa.table(
            "api_key",
            sa.column("id", sa.Uuid()),
            sa.column("state", sa.Enum("pending", "paid", native_enum=False, length=10)),
        )
        for key_id, state in op.get_bind().execute(sa.select(keys.c.id, keys.c.state)).all():
            key_id.hex
        """,
        "pass",
    ),
    "0003_refunded": revision(
        "0003",
        "0002",
        'with op.batch_alter_table("api_key") as batch_op:\n'
        '    batch_op.alter_column("state", type_=sa.Enum("pending", "paid", "refunded", native_enum=False, '
        'name="state", length=10), existing_type=sa.String(10))',
        "pass",
    ),
}
REAL_SHAPES_MODEL = """
tax_rate = sa.Table(
    "tax_rate", metadata, sa.Column("id", sa.Integer(), primary_key=True), sa.Column("rate", sa.Numeric(4, 4), nullable=False)
)
ledger = sa.Table(
    "ledger", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("debit", sa.Integer()),
    sa.Column("partner_ref", sa.BigInteger()),
    sa.Column("username", sa.String(50)),
    sa.Column("starts_at", sa.DateTime(), nullable=False),
    sa.Column("ends_at", sa.DateTime()),
    sa.CheckConstraint("debit <= -1", name="ck_ledger_debit"),
    sa.CheckConstraint("partner_ref >= 1000000000000", name="ck_ledger_partner"),
    sa.CheckConstraint("length(username) BETWEEN 3 AND 20", name="ck_ledger_username"),
    sa.CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ck_ledger_period"),
)
api_key = sa.Table(
    "api_key", metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("state", sa.Enum("pending", "paid", "refunded", native_enum=False, name="state", length=10)),
)
"""


def test_real_schema_shapes_are_seeded_and_read_back_on_every_engine(project, run_checks):
    """NUMERIC(p, p), quoted and BETWEEN bounds, an end after its start, a UUID without a native type,
    and an enum a later revision widens: every table seeded, and no data migration trips on our rows."""
    if not hasattr(sa, "Uuid"):
        pytest.skip(f"sa.Uuid needs SQLAlchemy >= 2.0; this stack has SQLAlchemy {sa.__version__}")
    project(REAL_SHAPES, REAL_SHAPES_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES)
    for line in result.stdout.lines:
        if "data coverage" in line:
            assert line.strip().startswith("data coverage: tables 3/3 seeded, columns 10/10 held a value"), line
    assert "cannot be seeded" not in result.stdout.str()


KEYLESS = {
    "0001_link": revision(
        "0001",
        None,
        """
        link = op.create_table("link", sa.Column("p_id", sa.Integer()), sa.Column("tag", sa.String(10)))
        op.bulk_insert(link, [{"p_id": 1, "tag": "a"}] * 3 + [{"p_id": 2, "tag": "b"}, {"p_id": 3, "tag": "c"}])
        """,
        'op.drop_table("link")',
    ),
    "0002_dedup": revision(
        "0002",
        "0001",
        """
        op.execute("CREATE TABLE link_dedup AS SELECT DISTINCT p_id, tag FROM link")
        op.execute("DELETE FROM link")
        op.execute("INSERT INTO link (p_id, tag) SELECT p_id, tag FROM link_dedup")
        op.drop_table("link_dedup")
        """,
        "pass",
        message="drop duplicate links",
    ),
}


def test_a_table_without_a_key_is_compared_as_a_multiset(project, run_checks, engine):
    # Deleting two of three equal rows loses two rows, and changes no value of any other row.
    project(KEYLESS)
    result = run_checks(engines=engine)
    lines = failure_lines(result, f"test_data_preserved[{engine}]")
    text = "\n".join(lines)
    assert "lost 2 of " in text and "rows of link: row (p_id=1, tag='a')" in text, text
    assert "changed values" not in text and "lost values" not in text, text


JSON_TEXT_MODEL = """
import json


class JSONText(sa.TypeDecorator):
    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(value)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


event = sa.Table(
    "event", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("payload", JSONText(), nullable=False),
    sa.Column("size", sa.Integer(), nullable=True),
)
"""
JSON_TEXT = {
    "0001_event": revision(
        "0001",
        None,
        'op.create_table("event", sa.Column("id", sa.Integer(), primary_key=True), '
        'sa.Column("payload", sa.Text(), nullable=False))',
        'op.drop_table("event")',
    ),
    "0002_size": revision(
        "0002",
        "0001",
        """
        import json
        op.add_column("event", sa.Column("size", sa.Integer(), nullable=True))
        conn = op.get_bind()
        for id_, payload in conn.execute(sa.text("SELECT id, payload FROM event")).fetchall():
            size = len(json.loads(payload))  # the application only ever writes JSON here
            conn.execute(sa.text("UPDATE event SET size = :size WHERE id = :id"), {"size": size, "id": id_})
        """,
        'op.drop_column("event", "size")',
        message="payload size",
    ),
}


def test_values_go_in_as_the_models_type_decorator_writes_them(project, run_checks, engine):
    # Plain generated text in a column the model fills with JSON made the data migration fail "only with rows".
    project(JSON_TEXT, JSON_TEXT_MODEL)
    result = run_checks(engines=engine)
    assert_checks(result, engine)


WIDENED = {
    "0001_note": revision(
        "0001",
        None,
        'op.create_table("note", sa.Column("id", sa.Integer(), primary_key=True), '
        'sa.Column("body", sa.String(256), nullable=False), sa.Column("total", sa.Numeric(8, 2), nullable=False), '
        'sa.Column("hits", sa.Integer(), nullable=False))',
        'op.drop_table("note")',
    ),
    "0002_widen": revision(
        "0002",
        "0001",
        """
        op.alter_column("note", "body", existing_type=sa.String(256), type_=sa.Text())
        op.alter_column("note", "total", existing_type=sa.Numeric(8, 2), type_=sa.Numeric(12, 2))
        op.alter_column("note", "hits", existing_type=sa.Integer(), type_=sa.BigInteger())
        """,
        """
        op.alter_column("note", "body", existing_type=sa.Text(), type_=sa.String(256))
        """,
        message="widen",
    ),
}


@pytest.mark.parametrize(
    ("narrowed", "error"),
    [
        ("body", {"postgresql": "value too long for type character varying(256)", "mysql": "Data too long"}),
        ("total", {"postgresql": "numeric field overflow", "mysql": "Out of range value"}),
        ("hits", {"postgresql": "integer out of range", "mysql": "Out of range value"}),
    ],
)
@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_a_downgrade_that_narrows_a_column_meets_values_as_wide_as_its_widest_type(
    project, run_checks, engine, narrowed, error
):
    # The downgrade narrows the column back; the rows seeded while it was wide hold values only the wide type
    # takes, as production would, so the narrowing fails the data check, naming the revision and the column.
    types = {"body": ("sa.Text()", "sa.String(256)"), "total": ("sa.Numeric(12, 2)", "sa.Numeric(8, 2)")}
    types["hits"] = ("sa.BigInteger()", "sa.Integer()")
    wide, narrow = types[narrowed]
    history = dict(WIDENED)
    history["0002_widen"] = WIDENED["0002_widen"].replace(
        'op.alter_column("note", "body", existing_type=sa.Text(), type_=sa.String(256))',
        f'op.alter_column("note", "{narrowed}", existing_type={wide}, type_={narrow})',
    )
    project(history)
    result = run_checks(engines=engine)
    text = item_failure(result, f"test_data_preserved[{engine}]")
    assert 'downgrade of 0002 ("widen", migrations/versions/0002_widen.py) fails only with rows present' in text
    assert narrowed in text.split("while running: ")[1] and error[engine] in text, text
    if engine == "mysql":  # found by replay with rows: MySQL cannot undo the DDL to try it on empty tables
        assert (
            "To see it by hand: alembic upgrade 0002 (then insert rows into its tables) && alembic downgrade -1" in text
        )


UUID_KEYS = {
    "0001_t": revision(
        "0001",
        None,
        'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(40)))',
        'op.drop_table("t")',
    ),
    "0002_uuid": revision(
        "0002",
        "0001",
        """
        op.create_table("t_new", sa.Column("id", sa.String(36), primary_key=True), sa.Column("name", sa.String(40)))
        op.execute("INSERT INTO t_new (id, name) SELECT 'u-' || id, name FROM t")
        op.drop_table("t")
        op.rename_table("t_new", "t")
        """,
        """
        op.create_table("t_old", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(40)))
        op.execute("INSERT INTO t_old (name) SELECT name FROM t ORDER BY name")  # numbered afresh
        op.drop_table("t")
        op.rename_table("t_old", "t")
        """,
        message="uuid keys",
    ),
}


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])  # MySQL's || is OR
def test_replaced_primary_keys_are_told_as_such_in_one_line(project, run_checks, engine):
    project(UUID_KEYS)
    result = run_checks(engines=engine)
    lines = failure_lines(result, f"test_data_preserved[{engine}]")
    assert lines[1].startswith(
        "upgrade 0001 -> 0002 replaced the primary key values of 3 of 3 rows of t: id=100001 -> id='u-100001'"
    ), lines
    assert lines[1].endswith("; its downgrade does not restore them  [migrations/versions/0002_uuid.py]"), lines
    assert not [line for line in lines if " lost " in line], lines
    assert len(lines) == 3, lines  # the line, and how to declare it intended


def test_a_changed_long_value_is_shown_around_where_it_differs(project, run_checks):
    # The values differ at their 40th character: cut at the start, both sides would print the same.
    project(
        {
            "0001_t": revision(
                "0001",
                None,
                'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("body", sa.String(80)))',
                'op.drop_table("t")',
            ),
            "0002_touch": revision(
                "0002",
                "0001",
                "op.execute(\"UPDATE t SET body = substr(body, 1, 39) || '#' || substr(body, 41)\")",
                "pass",
            ),
        }
    )
    result = run_checks(engines="sqlite")
    line = next(
        line for line in failure_lines(result, "test_data_preserved[sqlite]") if "changed values of t.body" in line
    )
    before, after = line.split(": id=100001 ", 1)[1].split(" (its downgrade leaves them so)")[0].split(" -> ")
    assert before != after, line
    assert "#" in after and "#" not in before, line
