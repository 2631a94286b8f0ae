"""Projects the plugin cannot use as they are: each gets a clear message, and nothing is left behind."""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import SERVER_URLS, failed_checks, failure_lines, item_outcomes, revision, skip_reason
from pytest_migrations.checks import CHECKS, WALK_CHECKS

# ------------------------------------------------------------ leftovers


_DRIVERS = {"postgresql": "psycopg2", "mysql": "pymysql"}


def _leftovers() -> set[str]:
    """Temp dirs and server databases this process's runs created and have not removed."""
    pid = os.getpid()
    found = {str(path) for path in Path(tempfile.gettempdir()).glob(f"pytest-migrations-{pid}-*")}
    queries = {
        "postgresql": "SELECT datname FROM pg_database WHERE datname LIKE 'pytest\\_migrations\\_%'",
        "mysql": "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'pytest\\_migrations\\_%'",
    }
    for engine, raw in SERVER_URLS.items():
        url = sa.engine.make_url(raw)
        if "+" not in url.drivername:  # the drivers installed here, whatever SQLAlchemy's default
            url = url.set(drivername=f"{url.drivername}+{_DRIVERS[engine]}")
        admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with admin.connect() as conn:
                names = [row[0] for row in conn.execute(sa.text(queries[engine]))]
        finally:
            admin.dispose()
        found |= {f"{engine} database {name}" for name in names if f"_{pid}_" in name}
    return found


@pytest.fixture
def nothing_left_behind() -> Callable[[], None]:
    """Call it after a run: fails if the run left a temp dir or a database of this process behind."""
    before = _leftovers()

    def check() -> None:
        left = _leftovers() - before
        assert not left, f"left behind: {sorted(left)}"

    return check


# ------------------------------------------------------------- projects

AUTHOR = revision(
    "0001",
    None,
    """
    op.create_table(
        "author",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
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
    )
    """,
    'op.drop_table("book")',
    message="create book",
)
CLEAN = {"0001_author": AUTHOR, "0002_book": BOOK}
MODELS = """
author = sa.Table(
    "author", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)
book = sa.Table(
    "book", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("author_id", sa.Integer(), sa.ForeignKey("author.id"), nullable=False),
)
"""


def usage_error(result: pytest.RunResult) -> str:
    """The one-paragraph usage error: asserts the exit code and that no item ran."""
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    assert item_outcomes(result) == {}
    text = result.stderr.str()
    assert "pytest-migrations: " in text
    return " ".join(text.split())


# ------------------------------------------------------------- usage errors


def test_no_alembic_ini(project, run_checks, pytester, nothing_left_behind):
    root = project(CLEAN, MODELS)
    (root / "alembic.ini").unlink()
    error = usage_error(run_checks())
    assert f"no Alembic config found: looked for {root / 'alembic.ini'}" in error
    assert "Run pytest from the directory that holds alembic.ini, or set --migrations-config PATH" in error
    nothing_left_behind()


def test_migrations_config_naming_a_missing_file(project, run_checks, nothing_left_behind):
    root = project(CLEAN, MODELS, pytest_ini="migrations_config = db/alembic.ini\n")
    error = usage_error(run_checks())
    assert f"no Alembic config found: looked for {root / 'db' / 'alembic.ini'} (the migrations_config ini key)" in error
    nothing_left_behind()


def test_alembic_ini_without_script_location(project, run_checks, nothing_left_behind):
    root = project(CLEAN, MODELS)
    ini = root / "alembic.ini"
    ini.write_text(ini.read_text().replace("script_location = %(here)s/migrations\n", ""))
    error = usage_error(run_checks())
    assert f"{ini} has no script_location in its [alembic] section" in error
    assert "add e.g. `script_location = %(here)s/migrations`" in error
    nothing_left_behind()


def test_relative_script_location_from_another_directory_suggests_here(pytester, run_checks, nothing_left_behind):
    from conftest import write_project

    sub = pytester.path / "backend"
    sub.mkdir()
    write_project(sub, CLEAN, MODELS)
    ini = sub / "alembic.ini"
    ini.write_text(ini.read_text().replace("script_location = %(here)s/migrations", "script_location = migrations"))
    error = usage_error(run_checks("--migrations-config", "backend/alembic.ini"))
    assert "Path doesn't exist" in error
    assert (
        "script_location = migrations is relative to the directory pytest runs in, not to alembic.ini; "
        "write `script_location = %(here)s/migrations` to make it relative to the config file."
    ) in error
    nothing_left_behind()


def test_revision_with_a_syntax_error(project, run_checks, nothing_left_behind):
    root = project({**CLEAN, "0002_book": BOOK.replace("def upgrade():", "def upgrade(:")}, MODELS)
    error = usage_error(run_checks())
    path = root / "migrations" / "versions" / "0002_book.py"
    assert "a revision file does not compile: SyntaxError:" in error
    assert re.search(re.escape(str(path)) + r", line \d+", error), error
    assert "Fix the file, then run again." in error
    nothing_left_behind()


def test_revision_importing_a_missing_module_names_the_file(project, run_checks, nothing_left_behind):
    project(
        {
            **CLEAN,
            "0002_book": BOOK.replace("import sqlalchemy as sa\n", "import sqlalchemy as sa\nimport nosuchmodule\n"),
        }
    )
    error = usage_error(run_checks())
    assert (
        "a revision file fails to import: ModuleNotFoundError: No module named 'nosuchmodule' "
        "(at migrations/versions/0002_book.py:8). Fix that file or what it imports, then run again."
    ) in error
    nothing_left_behind()


def test_model_module_raising_on_import_points_at_the_model_module(project, run_checks, pytester, nothing_left_behind):
    root = project(CLEAN, MODELS)
    (root / "models.py").write_text((root / "models.py").read_text() + '\nraise RuntimeError("no DATABASE_URL")\n')
    line = len((root / "models.py").read_text().splitlines())
    result = run_checks()
    assert failure_lines(result, "test_upgrade[sqlite]")[1:] == [
        f"env.py ({root / 'migrations'}/env.py) failed before running any migration on sqlite.",
        f"at {root / 'models.py'}:{line}",
        "RuntimeError: no DATABASE_URL",
    ]
    nothing_left_behind()


@pytest.mark.filterwarnings("ignore:Revision nope referenced from")
def test_down_revision_that_does_not_exist(project, run_checks, nothing_left_behind):
    book = revision("0002", "nope", 'op.create_table("book", sa.Column("id", sa.Integer(), primary_key=True))', "")
    root = project({"0001_author": AUTHOR, "0002_book": book}, MODELS)
    error = usage_error(run_checks())
    assert f"the revision history in {root / 'migrations' / 'versions'} cannot be read" in error
    assert "'nope'" in error
    assert "Check the down_revision and depends_on of the revisions it names." in error
    nothing_left_behind()


def test_down_revision_that_does_not_exist_names_the_revision_file(project, run_checks):
    book = revision("0002", "nope", 'op.create_table("book", sa.Column("id", sa.Integer(), primary_key=True))', "")
    project({"0001_author": AUTHOR, "0002_book": book}, MODELS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_checks()
    error = usage_error(result)
    assert "0002_book.py" in error
    # One cause, one message: Alembic's own warning about the same revision does not come first.
    assert not [w for w in caught if "is not present" in str(w.message)]
    assert "is not present" not in result.stdout.str() + result.stderr.str()


def test_cycle_in_the_history(project, run_checks, nothing_left_behind):
    first = revision("0001", "0002", 'op.create_table("a", sa.Column("id", sa.Integer(), primary_key=True))', "")
    second = revision("0002", "0001", 'op.create_table("b", sa.Column("id", sa.Integer(), primary_key=True))', "")
    root = project({"0001_a": first, "0002_b": second})
    error = usage_error(run_checks())
    assert f"the revision history in {root / 'migrations' / 'versions'} cannot be read" in error
    assert "Cycle" in error
    assert "0001" in error
    assert "0002" in error
    nothing_left_behind()


@pytest.mark.parametrize("key", ["migrations_irreversible", "migrations_allow_data_loss"])
def test_ini_key_naming_an_unknown_revision(project, run_checks, key, nothing_left_behind):
    project(CLEAN, MODELS, pytest_ini=f"{key} = nope\n")
    error = usage_error(run_checks())
    assert f"pytest-migrations: {key} names revision 'nope', which the history does not have" in error
    nothing_left_behind()


@pytest.mark.parametrize(
    ("rule", "complaint"),
    [
        ("server_defualt:author.name", "unknown kind 'server_defualt' in 'server_defualt:author.name'; the kinds are "),
        ("nullable:", "'nullable:' names no table after the colon; write nullable alone to ignore it everywhere"),
    ],
)
def test_ignore_rule_with_a_misspelt_kind(project, run_checks, rule, complaint, nothing_left_behind):
    project(CLEAN, MODELS, pytest_ini=f"migrations_ignore =\n    {rule}\n")
    error = usage_error(run_checks())
    assert f"pytest-migrations: migrations_ignore: {complaint}" in error
    nothing_left_behind()


def test_metadata_that_does_not_import(project, run_checks, nothing_left_behind):
    project(CLEAN, MODELS)
    error = usage_error(run_checks("--migrations-metadata", "nosuch:meta"))
    assert "--migrations-metadata / migrations_metadata = 'nosuch:meta': cannot import 'nosuch'" in error
    assert "ModuleNotFoundError: No module named 'nosuch'" in error
    nothing_left_behind()


def test_metadata_attribute_that_does_not_exist(project, run_checks, nothing_left_behind):
    project(CLEAN, MODELS, pytest_ini="migrations_metadata = models:nosuch\n")
    error = usage_error(run_checks())
    assert "--migrations-metadata / migrations_metadata = 'models:nosuch': 'models' has no attribute 'nosuch'" in error
    nothing_left_behind()


def test_metadata_without_a_colon(project, run_checks, nothing_left_behind):
    project(CLEAN, MODELS)
    error = usage_error(run_checks("--migrations-metadata", "models.metadata"))
    assert "must look like module:attribute, got 'models.metadata'" in error
    nothing_left_behind()


def test_usage_error_on_a_server_matrix_leaves_nothing(project, run_checks, nothing_left_behind):
    project(CLEAN, MODELS)
    error = usage_error(run_checks("--migrations-metadata", "nosuch:meta", engines="sqlite,postgresql,mysql"))
    assert "cannot import 'nosuch'" in error
    nothing_left_behind()


def test_metadata_naming_a_declarative_base_uses_its_metadata(project, run_checks):
    # Naming the Base instead of Base.metadata is the usual slip; what it holds is what was meant.
    project(CLEAN, MODELS + "\n\nclass Base:\n    metadata = metadata\n")
    result = run_checks("--migrations-metadata", "models:Base")
    assert item_outcomes(result)["test_model_matches_migrations[sqlite]"] == "passed"


def test_metadata_naming_something_else_says_what_to_name(project, run_checks, nothing_left_behind):
    project(CLEAN, MODELS + "\nauthor_count = 2\n")
    error = usage_error(run_checks("--migrations-metadata", "models:author_count"))
    assert (
        "--migrations-metadata / migrations_metadata = 'models:author_count' is 'int', not a SQLAlchemy MetaData; "
        "name the MetaData itself, e.g. myapp.models:Base.metadata" in error
    )
    nothing_left_behind()


@pytest.mark.parametrize("rows", ["0", "-3", "2.5", "many"])
def test_rows_per_table_below_one_or_not_whole_is_a_usage_error(project, run_checks, rows, nothing_left_behind):
    project(CLEAN, MODELS, pytest_ini=f"migrations_rows_per_table = {rows}\n")
    error = usage_error(run_checks())
    assert "migrations_rows_per_table must be a whole number of at least 1" in error
    nothing_left_behind()


def test_settings_in_pyproject_toml_may_be_lists_and_numbers(project, pytester):
    project(CLEAN, MODELS)
    (pytester.path / "pytest.ini").unlink()
    (pytester.path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nmigrations_engines = ["sqlite", "postgresql"]\nmigrations_rows_per_table = 5\n'
    )
    result = pytester.runpytest("--migrations", "--co", "-q", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*test_upgrade[[]sqlite[]]", "*test_upgrade[[]postgresql[]]"])


# -------------------------------------------------------- failing items


def test_env_py_raising_on_import(project, run_checks, engine, nothing_left_behind):
    root = project(CLEAN, MODELS)
    env = root / "migrations" / "env.py"
    text = env.read_text()
    marker = "from models import metadata as target_metadata\n"
    assert marker in text
    env.write_text(text.replace(marker, marker + 'raise RuntimeError("boom")\n'))
    line = env.read_text().splitlines().index('raise RuntimeError("boom")') + 1

    result = run_checks(engines=engine)
    found = item_outcomes(result)
    assert found.pop("test_single_head") == "passed"  # reads the files only
    assert found.pop(f"test_model_matches_migrations[{engine}]") in ("failed", "skipped")  # see the test below
    assert found == {
        f"{check}[{engine}]": "failed" if check == "test_upgrade" else "skipped"
        for check in WALK_CHECKS
        if check != CHECKS[5]
    }
    # One cause, one failure: test_upgrade tells it, the others are skipped and point there.
    assert failure_lines(result, f"test_upgrade[{engine}]") == [
        f"test_upgrade[{engine}] failed:",
        f"env.py ({root / 'migrations'}/env.py) failed before running any migration on {engine}.",
        f"at {env}:{line}",
        "RuntimeError: boom",
    ]
    for check in ("test_downgrade", "test_roundtrip", "test_stepwise_roundtrip", "test_data_preserved"):
        assert skip_reason(result, f"{check}[{engine}]") == f"not checked: see test_upgrade[{engine}]."
    # The short summary shows each item's reason, not only its name.
    result.stdout.fnmatch_lines([f"FAILED alembic.ini::test_upgrade[[]{engine}] - env.py (*"])
    nothing_left_behind()


def test_env_py_raising_on_import_fails_the_model_check_too(project, run_checks, nothing_left_behind):
    root = project(CLEAN, MODELS)
    env = root / "migrations" / "env.py"
    marker = "from models import metadata as target_metadata\n"
    env.write_text(env.read_text().replace(marker, marker + 'raise RuntimeError("boom")\n'))
    result = run_checks()
    nothing_left_behind()
    assert skip_reason(result, "test_model_matches_migrations[sqlite]") == "not checked: see test_upgrade[sqlite]."
    # Without test_upgrade in the run, the model check fails, carrying the cause itself.
    result = run_checks("--deselect", "alembic.ini::test_upgrade[sqlite]")
    message = failure_lines(result, "test_model_matches_migrations[sqlite]")
    assert message[1] == "not checked: see test_upgrade[sqlite]."
    assert message[-1] == "RuntimeError: boom"


_DB_ERRORS = {
    "sqlite": "sqlite3.OperationalError: no such table: nosuch",
    # The plugin names the driver package and the exception class, then the database's own words.
    "postgresql": 'psycopg2.UndefinedTable: relation "nosuch" does not exist LINE 1: INSERT INTO nosuch (id) VALUES (1) ^',
    "mysql": "pymysql.ProgrammingError: (1146, \"Table 'pytest_migrations_*.nosuch' doesn't exist\")",
}


def test_upgrade_raising_a_database_error(project, run_checks, engine, nothing_left_behind):
    broken = revision(
        "0003",
        "0002",
        """
        op.add_column("author", sa.Column("email", sa.String(100)))
        op.execute("INSERT INTO nosuch (id) VALUES (1)")
        """,
        'op.drop_column("author", "email")',
        message="backfill",
    )
    root = project({**CLEAN, "0003_backfill": broken}, MODELS)
    path = root / "migrations" / "versions" / "0003_backfill.py"
    line = path.read_text().splitlines().index('    op.execute("INSERT INTO nosuch (id) VALUES (1)")') + 1

    result = run_checks(engines=engine)
    found = item_outcomes(result)
    assert found == {
        "test_single_head": "passed",
        **{f"{check}[{engine}]": "failed" if check == "test_upgrade" else "skipped" for check in WALK_CHECKS},
    }
    message = failure_lines(result, f"test_upgrade[{engine}]")
    assert message[0] == f"test_upgrade[{engine}] failed:"
    assert message[1] == f'upgrade to 0003 ("backfill", migrations/versions/0003_backfill.py) failed on {engine}.'
    assert f"at {path}:{line}" in message
    # The original database error, as the database said it, is the last line.
    assert re.fullmatch(_glob(_DB_ERRORS[engine]), message[-1]), message[-1]
    for check in ("test_downgrade", "test_roundtrip", "test_stepwise_roundtrip", "test_model_matches_migrations"):
        assert (
            skip_reason(result, f"{check}[{engine}]")
            == f"not checked: the upgrade to 0003 fails (see test_upgrade[{engine}])."
        )
    assert skip_reason(result, f"test_data_preserved[{engine}]") == (
        f"not checked from 0003 on: its upgrade fails without seeded rows too, so the rows are not the cause "
        f"(see test_upgrade[{engine}])."
    )
    nothing_left_behind()


def _glob(pattern: str) -> str:
    return ".*".join(re.escape(part) for part in pattern.split("*"))


def test_a_revision_file_that_exits_while_it_loads_names_the_file(project, run_checks, nothing_left_behind):
    # e.g. a revision that imports a module calling sys.exit() when its settings are missing.
    project(
        {
            **CLEAN,
            "0002_book": BOOK.replace(
                "import sqlalchemy as sa\n", "import sqlalchemy as sa\nimport sys\nsys.exit(3)\n"
            ),
        }
    )
    error = usage_error(run_checks())
    assert (
        "a revision file fails to import: SystemExit: 3 (at migrations/versions/0002_book.py:9). "
        "Fix that file or what it imports, then run again."
    ) in error
    nothing_left_behind()


def test_env_py_that_exits_is_told_as_env_pys_failure(project, run_checks, nothing_left_behind):
    root = project(CLEAN, MODELS)
    env = root / "migrations" / "env.py"
    marker = "from models import metadata as target_metadata\n"
    env.write_text(env.read_text().replace(marker, marker + "import sys\nsys.exit('no DATABASE_URL')\n"))
    result = run_checks()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    lines = failure_lines(result, "test_upgrade[sqlite]")
    assert lines[1] == f"env.py ({root / 'migrations'}/env.py) failed before running any migration on sqlite."
    assert lines[2].startswith(f"at {env}:")
    assert lines[3] == "SystemExit: no DATABASE_URL"
    nothing_left_behind()


def test_env_py_that_fails_when_run_again_says_it_was_a_later_run(project, run_checks, nothing_left_behind):
    # e.g. an app factory that registers a module-level blueprint: the second call in one process raises.
    root = project(CLEAN, MODELS)
    env = root / "migrations" / "env.py"
    marker = "from models import metadata as target_metadata\n"
    token = f"_pytest_migrations_env_ran_{secrets.token_hex(4)}"
    once = (
        f"import sys\nif {token!r} in sys.modules:\n"
        "    raise RuntimeError(\"The setup method 'register' can no longer be called on the blueprint 'main'.\")\n"
        f"sys.modules[{token!r}] = sys\n"
    )
    env.write_text(env.read_text().replace(marker, marker + once))
    result = run_checks(engines="sqlite,postgresql")
    assert failed_checks(result, "sqlite") == set()
    lines = failure_lines(result, "test_upgrade[postgresql]")
    assert lines[1].startswith(
        f"env.py ({root / 'migrations'}/env.py) failed before running any migration on postgresql, in a later run: "
        "it already ran 1 time in this process and migrated."
    ), lines
    assert "build the app once and reuse it" in lines[1]
    assert lines[-1].startswith("RuntimeError: The setup method 'register' can no longer be called")
    nothing_left_behind()


def test_a_misspelt_ini_key_is_a_usage_error_with_the_closest_key(project, run_checks, nothing_left_behind):
    project(CLEAN, pytest_ini="migrations_engine = postgresql\n")
    result = run_checks()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown ini key migrations_engine (did you mean migrations_engines?)" in result.stderr.str()
    assert item_outcomes(result) == {}
    nothing_left_behind()


@pytest.mark.parametrize("arg", ["--migrations-engine=postgresql", "--migrations-egnines"])
def test_a_misspelt_option_is_a_usage_error_with_the_closest_option(project, run_checks, arg, nothing_left_behind):
    project(CLEAN)
    result = run_checks(arg)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    name = arg.split("=")[0]
    assert f"unknown option {name} (did you mean --migrations-engines?)" in result.stderr.str()
    assert "unrecognized arguments" not in result.stderr.str()  # one cause, one message
    assert "passed" not in result.stdout.str()
    nothing_left_behind()
