"""Replay: a failure is told only once plain Alembic commands, one per step, give it too.

The walk runs the user's env.py once and drives it move by move; a failure it meets is a claim
until the same moves, run as `alembic upgrade` / `alembic downgrade` commands would run them (one
run of env.py each, on a database nobody else touched), fail the same way. Claims are replayed
after the walks, in history order, on one database that only goes up (the shared way up): for
each claim it is brought to the claim's first target, cloned (PostgreSQL `CREATE DATABASE ...
TEMPLATE`, a file copy on SQLite), and the claim's other commands run on the clone, which is then
dropped; on PostgreSQL a claim of one failing command runs on the shared database itself, which
rolls the failed command back whole. MySQL's copies are table by table and lose foreign keys: there each claim runs on a fresh
database. A green history has no claims and pays nothing.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_migrations.environment import run_env
from pytest_migrations.project import Project

Command = tuple[str, str]  # ("upgrade" | "downgrade", target), as `alembic VERB TARGET` takes them


class ReplayMismatch(UserWarning):
    """The walk met a failure that plain Alembic, one command at a time, does not give: the plugin's problem."""


@dataclass(frozen=True)
class Claim:
    """A failure the walk told, and the commands that must reproduce it (the last one fails)."""

    check: str
    text: str
    commands: tuple[Command, ...]
    # The failure told as one rows cause, for a move that failed with seeded rows present where the walk could
    # not try it on empty tables (MySQL cannot undo DDL): told instead if plain Alembic fails only with rows too.
    rows_text: str | None = None


def plain_commands(project: Project, revision: str, phase: str, direction: str) -> tuple[Command, ...] | None:
    """The commands that make a from-base walk's move on a fresh database; None where no one line says it.

    Several heads or a merge revision have no unambiguous `-1` / `+1`.
    """
    rev = project.by_id[revision]
    if len(project.heads) > 1 or len(rev.parents) > 1:
        return None
    parent = rev.parents[0] if rev.parents else "base"
    if phase in ("upgrade", "replay"):
        return (("upgrade", revision),)
    if phase == "stepwise":
        again = (("upgrade", "+1"),) if direction == "upgrade" else ()
        return (("upgrade", revision), ("downgrade", "-1"), *again)
    if phase == "downgrade":
        return (("upgrade", "heads"), ("downgrade", parent))
    if phase == "roundtrip":
        return (("upgrade", "heads"), ("downgrade", "base"), ("upgrade", revision))
    return None


def run_command(project: Project, url: Any, server: Any, command: Command, found: list[Any]) -> BaseException | None:
    """One `alembic upgrade|downgrade TARGET` on `url`, through the project's env.py; its error, or None."""
    verb, target = command

    def steps(rev: Any, context: Any) -> Any:
        script = context.script or project.script
        if verb == "upgrade":
            return script._upgrade_revs(target, rev)
        return script._downgrade_revs(target, rev)

    try:
        run_env(project, url, server, found, fn=steps, as_sql=False, destination_rev=target)
    except (Exception, SystemExit) as exc:  # SystemExit: env.py's or a revision's sys.exit()
        return exc
    return None


def fails_last(project: Project, url: Any, server: Any, commands: tuple[Command, ...], found: list[Any]) -> bool:
    """Whether, run in order on `url`, every command but the last succeeds and the last fails."""
    for number, command in enumerate(commands, start=1):
        failed = run_command(project, url, server, command, found) is not None
        if failed or number == len(commands):
            return failed and number == len(commands)
    return False


def confirm(
    project: Project,
    server: Any,
    claims: list[Claim],
    fresh: Callable[[], Any],
    found: list[Any],
) -> list[Claim]:
    """The claims plain Alembic does not reproduce. `fresh()` gives a new throwaway database at base."""
    if not claims:
        return []
    unconfirmed: list[Claim] = []
    if server.engine == "mysql":  # its copies are table by table, without foreign keys: a fresh database each
        for claim in claims:
            database = fresh()
            try:
                if not fails_last(project, database.url, server, claim.commands, found):
                    unconfirmed.append(claim)
            finally:
                database.drop()
        return unconfirmed
    order = {rev.id: index for index, rev in enumerate(project.revisions)}
    shared = fresh()
    at: str | None = None  # the target the shared database was last brought to
    try:
        for claim in sorted(claims, key=lambda claim: order.get(claim.commands[0][1], len(order))):  # heads last
            first, rest = claim.commands[0], claim.commands[1:]
            if rest and first[1] != at:
                if run_command(project, shared.url, server, first, found) is not None:
                    unconfirmed.append(claim)  # the way up itself fails: not what the walk met
                    continue
                at = first[1]
            if server.engine == "postgresql" and len(rest) == 1:
                # One failing command on PostgreSQL is rolled back whole: the shared database stays where it
                # was, and needs no clone (each costs the server a quarter of a second).
                if run_command(project, shared.url, server, rest[0], found) is None:
                    unconfirmed.append(claim)
                    shared.drop()  # it moved: start the way up again
                    shared, at = fresh(), None
                continue
            try:
                clone = server.create_database(template=shared)
            except Exception:  # e.g. an app's pool still holds a connection to it: the claim stands as told
                continue
            try:
                if not fails_last(project, clone.url, server, rest or (first,), found):
                    unconfirmed.append(claim)
            finally:
                clone.drop()
    finally:
        shared.drop()
    return unconfirmed


def fails_with_rows(
    project: Project,
    server: Any,
    claim: Claim,
    fresh: Callable[[], Any],
    found: list[Any],
    seed_rows: Callable[[Any, str], None],
) -> bool:
    """Whether the claim's commands fail as told once rows are put in before the last one, as a user would:
    `alembic upgrade REV`, insert rows into its tables, then the failing command."""
    database = fresh()
    try:
        for command in claim.commands[:-1]:
            if run_command(project, database.url, server, command, found) is not None:
                return False
        seed_rows(database.url, claim.commands[0][1])
        return run_command(project, database.url, server, claim.commands[-1], found) is not None
    finally:
        database.drop()


def with_rows_by_hand(text: str, claim: Claim, tool: str) -> str:
    """`text` with its "To see it by hand" line saying what fails_with_rows ran."""
    *before, last = claim.commands
    steps = [f"{tool} {verb} {target}" for verb, target in before]
    if steps:
        steps[-1] += " (then insert rows into its tables)"
    line = "To see it by hand: " + " && ".join([*steps, f"{tool} {last[0]} {last[1]}"])
    lines = text.splitlines()
    lines = [line if each.startswith("To see it by hand: ") else each for each in lines]
    return "\n".join(lines)


def mismatch_warning(claim: Claim, engine: str) -> warnings.WarningMessage:
    """What replaces a claim plain Alembic does not reproduce: a warning that says it is the plugin's problem."""
    commands = " && ".join(f"alembic {verb} {target}" for verb, target in claim.commands)
    text = (
        f"pytest-migrations met a failure on {engine} that plain Alembic does not give when it runs the same "
        f"moves one command at a time ({commands}): it is not reported as a failure of {claim.check}. This is a "
        "problem of pytest-migrations; please report it at https://github.com/pytest-migrations/pytest-migrations/"
        f"issues with this message. What the walk met:\n{claim.text}"
    )
    return warnings.WarningMessage(ReplayMismatch(text), ReplayMismatch, __file__, 0)
