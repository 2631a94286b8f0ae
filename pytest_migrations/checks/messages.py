"""Failure messages: what failed, what is known of why, what to do, the SQL, the database's error last."""

from __future__ import annotations

import re

from pytest_migrations.checks.verdicts import DATA, PHASE_OWNER, CheckOptions, Verdict
from pytest_migrations.guard import ForeignDatabase
from pytest_migrations.project import Project, user_code_location
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
    unrestored = {table for table, _text in downgrade}
    return [text for table, text in upgrade if table in unrestored] + [text for _table, text in downgrade]


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


def step_failure(
    project: Project,
    engine: str,
    move: Move,
    error: BaseException,
    with_rows: bool,
    left_behind: list[str] | tuple[str, ...] = (),
) -> str:
    """One failed move, as a paragraph: what failed, what is known of why, what to do, the SQL, the database's error."""
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
    if move.direction == "downgrade":
        lines.append(
            f"If {rev.id} is meant to be irreversible, declare it in the pytest ini: migrations_irreversible = {rev.id}"
        )
    elif move.phase == "stepwise" and left_behind:  # only when the snapshots show it
        lines.append(f"The downgrade of {rev.id} left behind what its upgrade creates again (listed above).")
        if any(line.startswith("enum type ") for line in left_behind):
            lines.append(
                "On PostgreSQL, drop_table does not drop the enum types its columns use: drop them in the "
                'downgrade too, e.g. sa.Enum(name="...").drop(op.get_bind()).'
            )
    elif with_rows:
        lines.append(
            "It succeeds on an empty database: give new NOT NULL columns a server_default (or fill them before "
            "adding the constraint), and make sure existing rows satisfy new unique and check constraints."
        )
        if move.phase == "upgrade":
            lines.append(
                f"The revisions after {rev.id} were walked without rows, so their data is not checked until this "
                "is fixed."
            )
    if "unsafe use of new value" in text:
        lines.append(
            "PostgreSQL lets a transaction use an enum value only once the ALTER TYPE ... ADD VALUE that added it "
            "is committed: add the value inside `with op.get_context().autocommit_block():`. The walk commits "
            "between an upgrade and a downgrade, as separate alembic commands would, unless env.py holds the "
            "transaction itself (e.g. `with engine.begin() as connection:`)."
        )
    location = user_code_location(error, project.code_roots)
    if location:
        lines.append(f"at {location}")
    statement = failing_statement(error)
    if statement:
        lines.append(f"while running: {statement}")
    lines.append(text)
    return "\n".join(lines)


def only_in_one_command(project: Project, engine: str, move: Move, error: BaseException) -> str:
    text = step_failure(project, engine, move, error, with_rows=False).splitlines()
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
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def move_failed(
    verdicts: dict[str, Verdict],
    project: Project,
    engine: str,
    move: Move,
    result: StepResult,
    left_behind: list[str] | tuple[str, ...] = (),
) -> None:
    """Record a tolerant move's failure with the check that owns it: the data check if only the rows made it fail."""
    assert result.error is not None
    if result.passes_without_rows:
        verdicts[DATA].problem(
            step_failure(project, engine, move, result.error, with_rows=True)
            .replace("failed on", "fails only with rows present on", 1)
            .replace(" with seeded rows in the tables.", ": on empty tables it passes.", 1)
        )
        return
    verdicts[PHASE_OWNER[move.phase]].problem(
        step_failure(project, engine, move, result.error, with_rows=False, left_behind=left_behind)
    )


def env_failure(project: Project, engine: str, error: BaseException) -> str:
    where = user_code_location(error, project.code_roots)
    if isinstance(error, ForeignDatabase):
        what, why = f"did not connect to the throwaway {engine} database; nothing was run.", str(error)
    else:
        what, why = f"failed before running any migration on {engine}.", describe_error(error)
    return f"env.py ({project.script.dir}/env.py) {what}\n" + (f"at {where}\n" if where else "") + why
