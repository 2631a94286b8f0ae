"""Failure messages: what failed, what is known of why, what to do, the SQL, the database's error last."""

from __future__ import annotations

import os
import re
import traceback

import sqlalchemy as sa

from pytest_migrations.checks.hints import left_behind_hint, missing_table_hint, rename_hint, second_connection_hint
from pytest_migrations.checks.verdicts import DATA, PHASE_OWNER, CheckOptions, Verdict
from pytest_migrations.guard import ForeignDatabase
from pytest_migrations.project import Project, user_code_location
from pytest_migrations.replay import Claim, plain_commands
from pytest_migrations.walk import (
    Move,
    StepResult,
    describe_error,
)


def parents_label(project: Project, revision: str) -> str:
    parents = project.by_id[revision].parents
    return "+".join(parents) if parents else "base"


def attribute_losses(upgrade: list[tuple[str, str]], downgrade: list[tuple[str, str]]) -> list[str]:
    """Decide which losses to report for one revision.

    Values an upgrade drops but its downgrade brings back were moved, not lost (a column split,
    a table rebuilt under another name), so an upgrade loss counts only where the downgrade
    cannot restore the table. Then both lines are reported: either step may be the culprit (the
    upgrade discarded the values, or it moved them and the downgrade does not move them back).
    """
    keys_kept = {table for table, text in downgrade if _KEYS_NOT_RESTORED in text}
    unrestored = {table for table, _text in downgrade}
    told = []
    for table, text in upgrade:
        if _KEYS_REPLACED in text and table in keys_kept:
            told.append(f"{text}; its downgrade does not restore them")  # one fact: one line
        elif table in unrestored:
            told.append(f"{text}; its downgrade does not bring them all back (next line)")
    replaced = {table for table, text in upgrade if _KEYS_REPLACED in text}
    return told + [text for table, text in downgrade if not (_KEYS_NOT_RESTORED in text and table in replaced)]


_KEYS_REPLACED = " replaced the primary key values of "
_KEYS_NOT_RESTORED = " did not restore the primary key values of "


_EXPLICIT_DROP = re.compile(r" dropped (table|column) ")


def data_findings(verdict: Verdict, losses: list[str], rev: str, options: CheckOptions, project: Project) -> None:
    """Losses of one revision: notes where declared intended, else one problem that says how to declare them.

    A revision declared irreversible that drops a table or a column holding data means to: that is
    a note. Rows gone from tables that survive, and changed values, are failures even there.
    """
    if not losses:
        return
    if rev in options.allow_data_loss:
        for loss in losses:
            verdict.note(f"{loss} (allowed by migrations_allow_data_loss)")
        return
    rest = []
    for loss in losses:
        if rev in options.irreversible and _EXPLICIT_DROP.search(loss):
            verdict.note(f"{loss} (intended: {rev} is declared in migrations_irreversible)")
        else:
            rest.append(loss)
    if rest:
        path = project.by_id[rev].path
        verdict.problem(
            "\n".join(f"{loss}  [{path}]" for loss in rest)
            + f"\nIf this loss is intended, declare it in the pytest ini: migrations_allow_data_loss = {rev}"
        )


def _rows_hint(error_text: str) -> str:
    """What to do about a move that fails only with rows, by the kind of error the database gave."""
    text = error_text.lower()
    if any(
        words in text
        for words in ("value too long", "data too long", "out of range", "numeric field overflow", "data truncat")
    ):
        return (
            "the column is narrowed while it holds values only the wider type takes (values as wide as the widest "
            "type the column had, as production may hold): make them fit first in the same migration (e.g. "
            "UPDATE t SET c = substr(c, 1, N)), or declare the revision in migrations_irreversible if it must "
            "never run on such data."
        )
    if any(words in text for words in ("not null", "notnull", "cannot be null", "null value", "contains null")):
        return "give new NOT NULL columns a server_default, or fill them before adding the constraint."
    if any(words in text for words in ("unique", "duplicate")):
        return "make the existing rows unique in the new unique columns before adding the constraint."
    if "check constraint" in text or ("constraint" in text and "failed" in text):
        return "make the existing rows satisfy the new check constraint before adding it."
    return (
        "what it does to existing rows fails (the database's error below says how); a migration has to handle "
        "every value its tables may hold."
    )


def step_failure(
    project: Project,
    engine: str,
    move: Move,
    error: BaseException,
    with_rows: bool,
    left_behind: list[str] | tuple[str, ...] = (),
    hints: bool = True,
    start: str = "base",
) -> str:
    """One failed move, as a paragraph: what failed, what is known of why, what to do, the SQL, the database's error.

    `hints=False` leaves out the line error_hint would add, for a caller that tells the cause itself.
    """
    rev = project.by_id[move.revision]
    if move.phase == "stepwise" and move.direction == "upgrade":
        what = f"upgrade to {rev.describe()}, run again after its downgrade,"
    elif move.direction == "upgrade":
        what = f"upgrade to {rev.describe()}"
    else:
        what = f"downgrade of {rev.describe()}"
    on = "" if move.bind is None else f" [bind {move.bind or 'default'}]"
    lines = [f"{what}{on} failed on {engine}{' with seeded rows in the tables' if with_rows else ''}."]
    text = describe_error(error)
    cause_told = False  # a cause the walk has evidence for: the hint for the same error would say it again
    if move.direction == "downgrade":
        lines.append(
            f"If {rev.id} is meant to be irreversible, declare it in the pytest ini: migrations_irreversible = {rev.id}"
        )
    elif move.phase == "stepwise" and left_behind_hint(rev.id, left_behind):  # only when the snapshots show it
        cause_told = True
        lines.extend(left_behind_hint(rev.id, left_behind))
    elif with_rows:
        rename = rename_hint(project, rev.id, failing_statement(error, limit=10_000))
        lines.append(f"It succeeds on an empty database, so the rows are the cause: {rename or _rows_hint(text)}")
        if move.phase == "upgrade":
            lines.append(
                f"Its upgrade was run on empty tables, and the revisions after {rev.id} were checked with rows again."
            )
    if "unsafe use of new value" in text:
        lines.append(
            "PostgreSQL lets a transaction use an enum value only once the ALTER TYPE ... ADD VALUE that added it "
            "is committed: add the value inside `with op.get_context().autocommit_block():`. The walk commits "
            "between an upgrade and a downgrade, as separate alembic commands would, unless env.py holds the "
            "transaction itself (e.g. `with engine.begin() as connection:`)."
        )
    statement = failing_statement(error)
    if hints:
        for hint in (
            error_hint(engine, move, error, statement, type_told=cause_told),
            missing_table_hint(project, rev.id, text) if move.direction == "upgrade" else None,
            second_connection_hint(engine, error, text),
        ):
            if hint:
                lines.append(hint)
                break
    commands = by_hand(project, move, with_rows, start)
    if commands:
        lines.append(f"To see it by hand: {commands}")
    location = user_code_location(error, project.code_roots)
    if location:
        lines.append(f"at {location}")
    if statement:
        lines.append(f"while running: {statement}")
    lines.append(text)
    return "\n".join(lines)


def by_hand(project: Project, move: Move, with_rows: bool, start: str = "base") -> str | None:
    """The plain `alembic` (or `flask db`) commands that make the same move on a fresh database, one at a time.

    None where they would not be one unambiguous line: several heads, a merge revision.
    """
    rev = project.by_id[move.revision]
    if len(project.heads) > 1 or len(rev.parents) > 1:
        return None
    tool = "flask db" if project.config_factory is not None else "alembic"
    parent = rev.parents[0] if rev.parents else "base"
    if start == "base" and not with_rows:  # what replay runs, word for word
        commands = plain_commands(project, move.revision, move.phase, move.direction)
        return " && ".join(f"{tool} {verb} {target}" for verb, target in commands) if commands else None
    if start == "create_all":  # the database metadata.create_all builds, stamped at head, then down from there
        ready = f"(on a database built by metadata.create_all) {tool} stamp heads && {tool} downgrade {parent}"
        if move.phase == "stepwise" and move.direction == "upgrade":
            return f"{ready} && {tool} upgrade {rev.id}"
        if move.phase == "stepwise":
            return f"{ready} && {tool} upgrade {rev.id} && {tool} downgrade -1"
        if move.phase == "downgrade":
            return ready
        return None
    # With rows: the way up stops at the parent, for rows to go in before the move.
    up_to = f"{tool} upgrade {parent} (then insert rows into its tables) && {tool} upgrade {rev.id}"
    if move.phase in ("upgrade", "replay"):
        return up_to
    if move.phase == "stepwise" and move.direction == "downgrade":  # rows at the revision too: a widened column's
        return f"{up_to} (then insert rows into its tables again) && {tool} downgrade -1"
    if move.phase == "stepwise":
        return f"{up_to} && {tool} downgrade -1 && {tool} upgrade +1"
    return None


def error_hint(
    engine: str, move: Move, error: BaseException, statement: str | None, type_told: bool = False
) -> str | None:
    """What a common database error means and how to fix it, only when the error's own code and text say so."""
    orig = getattr(error, "orig", None)
    message = str(orig if orig is not None else error)
    if orig is None and _drop_constraint_without_name(error):
        return (
            "op.drop_constraint() was given no name (None, as autogenerate writes for a constraint the model "
            "left unnamed), and the database needs one: write the name the database gave the constraint, or give "
            "the MetaData a naming_convention so that autogenerate writes names."
        )
    if engine == "mysql" and orig is not None and orig.args and orig.args[0] == 1553:
        found = re.search(r"Cannot drop index '([^']+)'", message)
        index = f"the index {found.group(1)}" if found else "an index"
        return (
            f"MySQL/MariaDB will not drop {index} while a foreign key needs it (error 1553): drop the foreign key "
            'first (op.drop_constraint(..., type_="foreignkey")), or, where the table is dropped anyway, leave the '
            "index to drop_table (autogenerate writes drop_index before drop_table, the order that fails here)."
        )
    if engine == "postgresql" and _sqlstate(orig) == "2BP01":
        found = re.match(r"cannot drop (.+?) because other objects depend on (?:it|them)", message)
        if found:
            what = found.group(1)
            target = "what this drops" if what.startswith("desired object") else what
            detail = _pg_detail(orig)
            return (
                f"Other objects depend on {target}{': ' + detail + '.' if detail else '.'} Drop them first "
                "(tables in the reverse order of their creation); CASCADE drops them too, so use it only when "
                "that is intended."
            )
    if engine == "sqlite" and (
        (isinstance(error, NotImplementedError) and "No support for ALTER of constraints in SQLite" in message)
        or (
            statement is not None
            and re.match(r"ALTER\s+TABLE\s", statement, re.IGNORECASE)
            and re.fullmatch(r'near "[^"]+": syntax error', message.strip())
        )
    ):
        table = _altered_table(statement) or "..."
        return (
            "SQLite's ALTER TABLE cannot do this (it only renames tables and columns, and adds and drops columns): "
            f'use batch mode, which copies the table: `with op.batch_alter_table("{table}") as batch_op:` and the '
            "same operation on batch_op; for autogenerate, pass render_as_batch=True to context.configure in env.py."
        )
    if engine == "postgresql" and move.direction == "upgrade" and not type_told and _sqlstate(orig) == "42710":
        found = re.match(r'type "([^"]+)" already exists', message)
        if found:
            name = found.group(1)
            return (
                f'The type "{name}" already exists when this upgrade creates it: an earlier revision (or an earlier '
                "statement of this one) created it, or a downgrade left it behind. Create it once and use it "
                f'elsewhere with create_type=False (postgresql.ENUM(..., name="{name}", create_type=False)), and '
                f'drop it in the downgrade that drops its last table (sa.Enum(name="{name}").drop(op.get_bind())).'
            )
    if engine == "postgresql" and _sqlstate(orig) == "42704" and statement is not None:
        found = re.match(r'type "([^"]+)" does not exist', message)
        if found and re.match(r"ALTER\s+TABLE\s", statement, re.IGNORECASE):
            name = found.group(1)
            return (
                f'The type "{name}" does not exist yet: op.add_column and op.alter_column do not create the enum '
                f"types their columns use (op.create_table does). Create it first in this revision, "
                f'sa.Enum(..., name="{name}").create(op.get_bind(), checkfirst=True), and drop it in the downgrade '
                "after the column."
            )
    return None


def _drop_constraint_without_name(error: BaseException) -> bool:
    """Alembic's drop_constraint ran with constraint_name=None when `error` was raised (found in its frames)."""
    tb = error.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "drop_constraint" and "constraint_name" in frame.f_locals:
            return frame.f_locals["constraint_name"] is None
        tb = tb.tb_next
    return False


def _sqlstate(orig: BaseException | None) -> str | None:
    """PostgreSQL's SQLSTATE of a driver error: psycopg2 (pgcode), psycopg 3 and SQLAlchemy's asyncpg adapter."""
    for attribute in ("pgcode", "sqlstate"):
        code = getattr(orig, attribute, None)
        if isinstance(code, str):
            return code
    return None


def _pg_detail(orig: BaseException | None) -> str | None:
    """PostgreSQL's DETAIL of the error (what depends on what), on one line: from the driver, else from its text."""
    diag = getattr(orig, "diag", None)  # psycopg2, psycopg 3
    detail = getattr(diag, "message_detail", None) or getattr(getattr(orig, "__cause__", None), "detail", None)
    if not isinstance(detail, str):
        found = re.search(r"DETAIL:\s*(.*?)(?:\nHINT:|$)", str(orig), re.DOTALL)
        detail = found.group(1) if found else None
    if not detail or not detail.strip():
        return None
    return "; ".join(line.strip() for line in detail.strip().splitlines() if line.strip())


def _altered_table(statement: str | None) -> str | None:
    found = re.match(r'ALTER\s+TABLE\s+(?:"([^"]+)"|([^\s(]+))', statement or "", re.IGNORECASE)
    return (found.group(1) or found.group(2)) if found else None


def only_in_one_command(project: Project, engine: str, move: Move, error: BaseException) -> str:
    text = step_failure(project, engine, move, error, with_rows=False, hints=False).splitlines()
    rev = move.revision
    return "\n".join(
        [
            text[0].replace(" failed on ", " fails on ", 1).rstrip(".")
            + " when it runs in an `alembic upgrade` command of its own, and passes only in one command with "
            "the revisions before it.",
            "Alembic remembers the types (PostgreSQL enums) a command has created and does not create them "
            f"again, so `alembic upgrade head` hides this; a database upgraded in two steps (`alembic upgrade "
            f"{parents_label(project, rev)}`, later `alembic upgrade head`) fails here. Create the type in one "
            "revision only, and in the others use it with create_type=False (postgresql.ENUM) or an existing "
            "type.",
            *text[1:],
        ]
    )


def failing_statement(error: BaseException, limit: int = 300) -> str | None:
    """The SQL the database refused, on one line and trimmed; its parameters are never shown."""
    statement = getattr(error, "statement", None)
    if not isinstance(statement, str) or not statement.strip():
        return None
    flat = " ".join(statement.split())
    driver = type(getattr(error, "orig", None)).__module__
    if not driver.startswith(("sqlite3", "asyncpg", "aiosqlite", "builtins")):
        flat = flat.replace("%%", "%")  # a format-style driver's escape, not what the revision wrote
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def move_failed(
    verdicts: dict[str, Verdict],
    project: Project,
    engine: str,
    move: Move,
    result: StepResult,
    left_behind: list[str] | tuple[str, ...] = (),
    start: str = "base",
    rows_present: bool = False,
) -> Claim | None:
    """Record a tolerant move's failure with the check that owns it: the data check if only the rows made it fail.

    Returns the claim replay must confirm: the failure and the plain commands that give it (none for a
    failure only rows cause, or from create_all, which no one line of commands gives).
    """
    assert result.error is not None
    if result.passes_without_rows:
        verdicts[DATA].problem(
            rows_only(step_failure(project, engine, move, result.error, with_rows=True, start=start))
        )
        return None
    check = PHASE_OWNER[move.phase]
    text = step_failure(project, engine, move, result.error, with_rows=False, left_behind=left_behind, start=start)
    verdicts[check].problem(text)
    commands = plain_commands(project, move.revision, move.phase, move.direction) if start == "base" else None
    rows_text = None
    if rows_present and result.passes_without_rows is None:  # rows were there, and not taken out
        rows_text = rows_only(step_failure(project, engine, move, result.error, with_rows=True, start=start))
    return Claim(check, text, commands, rows_text) if commands else None


def rows_only(text: str) -> str:
    """A failure with rows present, told as one that does not happen on empty tables."""
    return text.replace("failed on", "fails only with rows present on", 1).replace(
        " with seeded rows in the tables.", ": on empty tables it passes.", 1
    )


ISSUES_URL = "https://github.com/pytest-migrations/pytest-migrations/issues"


def between_moves_failure(engine: str, error: BaseException) -> str:
    """An error raised between two moves, while the plugin read or compared the database.

    The database refusing the plugin's reads is told as such; any other exception there is a bug of
    pytest-migrations, told as one, with where it happened and where to report it: never as the
    user's migrations' fault, nor the database's.
    """
    if isinstance(error, sa.exc.SQLAlchemyError):
        return f"pytest-migrations could not inspect the database on {engine}: {describe_error(error)}"
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ours = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename.startswith(package)]
    where = f"at {ours[-1].filename}:{ours[-1].lineno} ({ours[-1].name})\n" if ours else ""
    return (
        f"internal error of pytest-migrations on {engine}, while it compared the database between two moves: "
        "a bug in the plugin, not in your migrations. The checks of this engine could not go on. Please report "
        f"it at {ISSUES_URL} with the traceback (run with --tb=long to see it).\n{where}{describe_error(error)}"
    )


def env_failure(project: Project, engine: str, error: BaseException) -> str:
    where = user_code_location(error, project.code_roots)
    if isinstance(error, ForeignDatabase):
        what, why = f"did not connect to the throwaway {engine} database; nothing was run.", str(error)
    elif project.env_runs:
        what, why = (
            f"failed before running any migration on {engine}, in a later run: it already ran "
            f"{project.env_runs} time{'s' if project.env_runs > 1 else ''} in this process and migrated. "
            "pytest-migrations runs env.py once per walk and per replayed command, as separate `alembic` "
            "commands would run it in separate processes; an env.py that fails the second time does something "
            "once per process at most (an app factory registering a module-level blueprint or extension, a "
            "listener added twice): build the app once and reuse it, or make what it registers check whether it "
            "is registered already.",
            describe_error(error),
        )
    else:
        what, why = f"failed before running any migration on {engine}.", describe_error(error)
    return f"env.py ({project.script.dir}/env.py) {what}\n" + (f"at {where}\n" if where else "") + why
