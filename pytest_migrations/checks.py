"""The built-in checks, served by one walk through the history per engine.

One walk goes base -> head one revision at a time; at each revision it seeds
rows, upgrades, downgrades and upgrades again, comparing schema and data as it
goes (test_upgrade, test_stepwise_roundtrip, test_data_preserved). At head it
compares with the model (test_model_matches_migrations), then goes back to
base and up again (test_downgrade, test_roundtrip). Every check's verdict is
read off that walk. Only when a step fails does a second walk run, to tell a
failure caused by the seeded rows from one that happens on an empty database,
or to step over a broken revision so the other revisions still get checked.
"""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event

from pytest_migrations import schema as schemas
from pytest_migrations import seeding
from pytest_migrations.environment import record_warning
from pytest_migrations.guard import ForeignDatabase
from pytest_migrations.project import Project, user_code_location
from pytest_migrations.providers import Server
from pytest_migrations.walk import (
    DriveOutcome,
    Move,
    PrepareFailed,
    Preparer,
    StepResult,
    WalkRestart,
    describe_error,
    drive,
    fresh_database,
)

SINGLE_HEAD = "test_single_head"
UPGRADE = "test_upgrade"
DOWNGRADE = "test_downgrade"
ROUNDTRIP = "test_roundtrip"
STEPWISE = "test_stepwise_roundtrip"
MODEL = "test_model_matches_migrations"
DATA = "test_data_preserved"
CHECKS = (SINGLE_HEAD, UPGRADE, DOWNGRADE, ROUNDTRIP, STEPWISE, MODEL, DATA)
WALK_CHECKS = CHECKS[1:]
PHASE_OWNER = {
    "upgrade": UPGRADE,
    "stamp": UPGRADE,
    "replay": UPGRADE,
    "stepwise": STEPWISE,
    "downgrade": DOWNGRADE,
    "roundtrip": ROUNDTRIP,
}


@dataclass
class Verdict:
    check: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skip_reason: str | None = None

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


@dataclass
class EngineReport:
    engine: str
    verdicts: dict[str, Verdict]
    revisions: int
    upgrade_seconds: dict[str, float] = field(default_factory=dict)
    walks: int = 0
    seconds: float = 0.0
    warnings: list[Any] = field(default_factory=list)  # raised by env.py and revisions, for pytest's summary


@dataclass(frozen=True)
class CheckOptions:
    """What the checks were told: the parts of Settings they need, already resolved to revision ids."""

    irreversible: frozenset[str] = frozenset()
    allow_data_loss: frozenset[str] = frozenset()
    ignore_rules: tuple[str, ...] = ()
    rows_per_table: int = 3
    seed: int = 0
    start: str = "base"  # migrations_start: "base", or "create_all" (the model's tables, stamped at head)


@dataclass
class Walk:
    """One walk's plan and what it found."""

    seed: bool
    skip_cycle: frozenset[str]
    verdicts: dict[str, Verdict]
    outcome: DriveOutcome | None = None
    replay_through: str | None = None  # rebuild the state up to this revision with plain upgrades first
    failed_downgrades: set[str] = field(default_factory=set)  # in the stepwise cycle: the tail points there
    failed_reupgrades: set[str] = field(default_factory=set)
    only_in_one_command: set[str] = field(default_factory=set)  # first upgrades Alembic's memo carried
    heads: dict[str | None, schemas.Snapshot] = field(default_factory=dict)  # per bind
    metadata: dict[str | None, Any] = field(default_factory=dict)  # per bind, as env.py passed it
    seed_state: seeding.SeedState | None = None


@dataclass
class ModelBuild:
    """What metadata.create_all builds on a throwaway database of its own, or why it could not."""

    snapshot: schemas.Snapshot | None = None
    error: str | None = None


def single_head_verdict(project: Project) -> Verdict:
    verdict = Verdict(SINGLE_HEAD)
    if len(project.heads) > 1:
        lines = [f"the history has {len(project.heads)} heads; it must have exactly one:"]
        for head in project.heads:
            lines.append(f"  {project.by_id[head].describe()}")
        merge = "flask db merge" if project.config_factory is not None else "alembic merge"  # Flask-Migrate's config
        lines.append(f'Merge them: {merge} -m "merge heads" {" ".join(project.heads)}')
        verdict.problem("\n".join(lines))
    elif not project.heads:
        verdict.problem(f"the history in {project.script.versions} has no revisions.")
    return verdict


# ----------------------------------------------------------------- the walk


def _parents_label(project: Project, revision: str) -> str:
    parents = project.by_id[revision].parents
    return "+".join(parents) if parents else "base"


def walk_program(
    project: Project,
    walk: Walk,
    options: CheckOptions,
    reader: schemas.SchemaReader,
    supply: seeding.RowSupplier | None,
    on_metadata: Callable[[str | None, Any], None] = lambda bind, metadata: None,
    engine: str = "",
    given_metadata: Any = None,
):
    """`on_metadata(bind, target_metadata)` is called as soon as env.py has configured each bind."""
    order = [rev.id for rev in project.revisions]
    verdicts = walk.verdicts
    rules = options.ignore_rules

    def differences(
        before: schemas.Snapshot, after: schemas.Snapshot, before_label: str, after_label: str
    ) -> list[str]:
        return [d.text for d in schemas.diff(before, after, before_label, after_label) if not schemas.ignored(d, rules)]

    def program(conn: sa.Connection, context: MigrationContext) -> Generator[Move, StepResult | None, None]:
        schema = context.version_table_schema
        reader.version_table = f"{schema}.{context.version_table}" if schema else context.version_table
        bind = bind_of(context)
        on = "" if bind is None else f" [bind {bind or 'default'}]"
        walk.metadata[bind] = context.opts.get("target_metadata")
        on_metadata(bind, walk.metadata[bind])
        statements: list[str] = []
        capture = {"on": False}
        moves = {"count": 0}

        @event.listens_for(conn, "before_cursor_execute")
        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if capture["on"]:
                statements.append(statement)

        def apply(move: Move) -> Generator[Move, StepResult | None, StepResult]:
            statements.clear()
            capture["on"] = True
            result = yield move
            capture["on"] = False
            moves["count"] += 1
            if moves["count"] % 30 == 0:
                _clear_compiled_cache(conn)
            return result or StepResult()

        def unchanged_since(expected: schemas.Snapshot, ran: list[str]) -> bool:
            """After a failed move that could not be rolled back: did it change the schema before it failed?"""
            return not seeding.changes_schema(ran) or not differences(
                expected, reader.snapshot(conn, expected, ran), "", ""
            )

        state = seeding.SeedState(seed=options.seed, rows_per_table=options.rows_per_table) if walk.seed else None
        walk.seed_state = state
        initial = reader.snapshot(conn)
        current = initial
        at_revision: dict[str, schemas.Snapshot] = {}

        def refresh(names: set[str], snapshot: schemas.Snapshot) -> dict[str, seeding.TableRows | None]:
            assert state is not None
            fresh: dict[str, seeding.TableRows | None] = {}
            for name in names:
                if name in snapshot.tables:
                    fresh[name] = seeding.read_rows(conn, snapshot.tables[name])
                    state.known[name] = fresh[name]  # type: ignore[assignment]
                else:
                    fresh[name] = None
                    state.forget(name)
            return fresh

        def emptier(snapshot: schemas.Snapshot) -> Callable[[sa.Connection], None] | None:
            if state is None:
                return None
            return lambda connection: seeding.delete_all_rows(connection, snapshot.tables)

        if options.start == "create_all":
            yield from from_the_model(conn, bind, on, apply, unchanged_since, refresh, emptier, state, statements)
            return

        replaying = walk.replay_through is not None
        for rev in order:
            parent = _parents_label(project, rev)
            if replaying:  # rebuilding the state a failed move could not undo: plain upgrades, no checks
                yield from apply(Move("upgrade", rev, "replay", bind))
                replaying = rev != walk.replay_through
                if rev in options.irreversible or not replaying:
                    current = reader.snapshot(conn)
                    at_revision[rev] = current
                continue
            before = current
            before_rows: dict[str, seeding.TableRows] = {}
            if state is not None:
                seeding.seed_tables(conn, before, state, parent, supply)
                before_rows = dict(state.known)

            # On PostgreSQL a first upgrade is tolerant, to tell a revision that passes only inside one
            # `alembic upgrade` command (a type created earlier in that command); otherwise its failure ends the walk.
            postgresql = conn.dialect.name == "postgresql"
            up = yield from apply(
                Move("upgrade", rev, "upgrade", bind, tolerant=postgresql, as_in_one_command=postgresql)
            )
            if up.passes_in_one_command:
                assert up.error is not None
                walk.only_in_one_command.add(rev)
                verdicts[UPGRADE].problem(
                    _only_in_one_command(project, engine, Move("upgrade", rev, "upgrade", bind), up.error)
                )
            up_statements = list(statements)
            after = reader.snapshot(conn, before, up_statements) if seeding.changes_schema(up_statements) else before
            touched: set[str] = set()
            upgrade_losses: list[tuple[str, str]] = []
            after_known: dict[str, seeding.TableRows | None] = {}
            if state is not None:
                every = before.tables.keys() | after.tables.keys()
                touched = seeding.tables_affected(up_statements, every, before, seeding.enforces_foreign_keys(conn))
                fresh = refresh(touched, after)
                after_known = dict(fresh)
                label = f"upgrade {parent} -> {rev}{on}"
                upgrade_losses = seeding.losses_after_upgrade(
                    {t: before_rows[t] for t in touched if t in before_rows}, fresh, label
                )

            if rev in walk.skip_cycle:
                if rev in options.irreversible:
                    verdicts[STEPWISE].note(f"{rev}: declared irreversible, its downgrade was not attempted")
                if state is not None:
                    _data_findings(verdicts[DATA], [text for _t, text in upgrade_losses], rev, options, project)
                current = at_revision[rev] = after  # the tail compares with it if it stops here
                continue

            down = yield from apply(Move("downgrade", rev, "stepwise", bind, tolerant=True, emptier=emptier(after)))
            down_statements = list(statements)
            if down.error is not None:
                walk.failed_downgrades.add(rev)
                _move_failed(verdicts, project, engine, Move("downgrade", rev, "stepwise", bind), down)
                if not down.restored and not unchanged_since(after, down_statements):
                    raise WalkRestart(rev)  # it changed the schema before failing, and MySQL cannot undo that
                if state is not None:
                    _data_findings(verdicts[DATA], [text for _t, text in upgrade_losses], rev, options, project)
                yield from apply(Move("upgrade", rev, "stepwise", bind, record_only=True))
                current = at_revision[rev] = after  # the tail compares with it if it stops here
                continue
            back = reader.snapshot(conn, after, down_statements) if seeding.changes_schema(down_statements) else after
            lines = differences(before, back, "before", f"after downgrade of {rev}")
            if lines:
                verdicts[STEPWISE].problem(
                    f"downgrade of {project.by_id[rev].describe()}{on} does not restore the schema it started from:\n  "
                    + "\n  ".join(lines)
                )
            if state is not None:
                every = before.tables.keys() | after.tables.keys() | back.tables.keys()
                touched |= seeding.tables_affected(down_statements, every, before, seeding.enforces_foreign_keys(conn))
                fresh = refresh(touched, back)
                downgrade_losses = seeding.losses_after_downgrade(
                    {t: before_rows[t] for t in touched if t in before_rows}, fresh, f"downgrade {rev} -> {parent}{on}"
                )
                _data_findings(verdicts[DATA], _attribute(upgrade_losses, downgrade_losses), rev, options, project)

            again_result = yield from apply(
                Move("upgrade", rev, "stepwise", bind, tolerant=True, emptier=emptier(back))
            )
            if again_result.error is not None:
                walk.failed_reupgrades.add(rev)
                if rev in walk.only_in_one_command and not lines:  # the same cause, already told
                    verdicts[STEPWISE].problem(
                        f"the upgrade to {rev}{on}, run again after its downgrade, fails as it does in a command of "
                        f"its own (see {UPGRADE}[{engine}])."
                    )
                else:
                    _move_failed(
                        verdicts,
                        project,
                        engine,
                        Move("upgrade", rev, "stepwise", bind),
                        again_result,
                        left_behind=lines,
                    )
                if not again_result.restored:
                    raise WalkRestart(rev)
                if state is not None:  # the cycle was rolled back: the rows are those after the first upgrade
                    for name, rows in after_known.items():
                        if rows is None:
                            state.forget(name)
                        else:
                            state.known[name] = rows
                current = at_revision[rev] = after  # the tail compares with it if it stops here
                continue
            if statements == up_statements and back == before:
                again = after  # the same DDL on the same schema builds the same schema
            elif seeding.changes_schema(statements):
                again = reader.snapshot(conn, back, statements)
            else:
                again = back
            lines = differences(after, again, "the first time", f"after upgrading {rev} again")
            if lines:
                verdicts[STEPWISE].problem(
                    f"upgrade of {project.by_id[rev].describe()}{on}, run again after its downgrade, "
                    "gives a different schema than the first time:\n  " + "\n  ".join(lines)
                )
            if state is not None:
                # The downgrade's refresh left every touched table current; only the re-upgrade's own tables moved.
                every = again.tables.keys() | back.tables.keys()
                refresh(seeding.tables_affected(statements, every, back, seeding.enforces_foreign_keys(conn)), again)
            current = at_revision[rev] = again

        walk.heads[bind] = current
        if state is not None:
            seeding.delete_all_rows(conn, current.tables)
        yield from tail(conn, current, initial, at_revision, bind, apply, unchanged_since, statements)

    def from_the_model(
        conn: sa.Connection,
        bind: str | None,
        on: str,
        apply: Callable[[Move], Generator[Move, StepResult | None, StepResult]],
        unchanged_since: Callable[[schemas.Snapshot, list[str]], bool],
        refresh: Callable[[set[str], schemas.Snapshot], dict[str, seeding.TableRows | None]],
        emptier: Callable[[schemas.Snapshot], Callable[[sa.Connection], None] | None],
        state: seeding.SeedState | None,
        statements: list[str],
    ) -> Generator[Move, StepResult | None, None]:
        """migrations_start = create_all: the database starts as the model builds it, stamped at head.

        For histories whose first revisions alter tables no revision creates. From head, each
        revision is taken down, then checked as the walk from base checks it (rows seeded, up,
        down: the stepwise and data checks), and the walk goes on down to base or to a revision
        declared irreversible; then up again to head (test_upgrade), which must be where it began
        (test_roundtrip) and what the model builds (test_model_matches_migrations).
        """
        model = _model_metadata(given_metadata, bind, walk.metadata[bind])
        if model is None:
            text = (
                "migrations_start = create_all builds the starting database from the target metadata, and there is "
                "none: give env.py a target_metadata, or name one with migrations_metadata."
            )
            for verdict in verdicts.values():
                verdict.problem(text)
            return
        create_model(conn, model if isinstance(model, (list, tuple)) else [model])
        for rev in order:  # `alembic stamp head`
            yield from apply(Move("upgrade", rev, "stamp", bind, record_only=True))
        top = reader.snapshot(conn)
        current = top
        downgraded: list[str] = []
        for rev in reversed(order):
            if rev in options.irreversible:
                note = f"stopped at {rev}: declared irreversible in migrations_irreversible"
                verdicts[DOWNGRADE].note(note)
                verdicts[ROUNDTRIP].note(note)
                break
            parent = _parents_label(project, rev)
            move = Move("downgrade", rev, "downgrade", bind, tolerant=True)
            down = yield from apply(move)
            ran = list(statements)
            if down.error is not None:
                _move_failed(verdicts, project, engine, move, down)
                if down.restored or unchanged_since(current, ran):
                    yield from apply(Move("upgrade", rev, "downgrade", bind, record_only=True))
                    verdicts[ROUNDTRIP].note(f"from {rev} up: its downgrade fails (see {DOWNGRADE}[{engine}])")
                else:
                    verdicts[ROUNDTRIP].problem(
                        f"not checked: the downgrade of {rev}{on} changed the database before it failed, which "
                        f"{engine} cannot undo (see {DOWNGRADE}[{engine}])."
                    )
                    return
                break
            downgraded.append(rev)
            below = reader.snapshot(conn, current, ran) if seeding.changes_schema(ran) else current
            # The stepwise cycle, as from base: rows in the tables, up, down again.
            before_rows: dict[str, seeding.TableRows] = {}
            if state is not None:
                seeding.seed_tables(conn, below, state, parent, supply)
                before_rows = dict(state.known)
            up = yield from apply(Move("upgrade", rev, "stepwise", bind, tolerant=True, emptier=emptier(below)))
            ran = list(statements)
            if up.error is not None:
                walk.failed_reupgrades.add(rev)
                _move_failed(verdicts, project, engine, Move("upgrade", rev, "stepwise", bind), up)
                if not up.restored and not unchanged_since(below, ran):
                    return
                yield from apply(Move("downgrade", rev, "stepwise", bind, record_only=True))
                current = below
                continue
            again = reader.snapshot(conn, below, ran) if seeding.changes_schema(ran) else below
            lines = differences(current, again, "at first", f"after downgrading {rev} and upgrading it again")
            if lines:
                verdicts[STEPWISE].problem(
                    f"downgrade of {project.by_id[rev].describe()}{on}, then its upgrade, does not give back the "
                    "schema it started from:\n  " + "\n  ".join(lines)
                )
            touched: set[str] = set()
            upgrade_losses: list[tuple[str, str]] = []
            if state is not None:
                every = below.tables.keys() | again.tables.keys()
                touched = seeding.tables_affected(ran, every, below, seeding.enforces_foreign_keys(conn))
                fresh = refresh(touched, again)
                upgrade_losses = seeding.losses_after_upgrade(
                    {t: before_rows[t] for t in touched if t in before_rows}, fresh, f"upgrade {parent} -> {rev}{on}"
                )
            move = Move("downgrade", rev, "stepwise", bind, tolerant=True, emptier=emptier(again))
            back_result = yield from apply(move)
            ran = list(statements)
            if back_result.error is not None:  # it passed a moment ago: the rows, or what the upgrade left
                _move_failed(verdicts, project, engine, move, back_result)
                return
            back = reader.snapshot(conn, again, ran) if seeding.changes_schema(ran) else again
            lines = differences(below, back, "before", f"after downgrade of {rev}")
            if lines:
                verdicts[STEPWISE].problem(
                    f"downgrade of {project.by_id[rev].describe()}{on} does not restore the schema it started from:\n  "
                    + "\n  ".join(lines)
                )
            if state is not None:
                every = below.tables.keys() | again.tables.keys() | back.tables.keys()
                touched |= seeding.tables_affected(ran, every, below, seeding.enforces_foreign_keys(conn))
                fresh = refresh(touched, back)
                downgrade_losses = seeding.losses_after_downgrade(
                    {t: before_rows[t] for t in touched if t in before_rows}, fresh, f"downgrade {rev} -> {parent}{on}"
                )
                _data_findings(verdicts[DATA], _attribute(upgrade_losses, downgrade_losses), rev, options, project)
            current = back
        if state is not None:
            seeding.delete_all_rows(conn, current.tables)
        for rev in reversed(downgraded):
            move = Move("upgrade", rev, "upgrade", bind, tolerant=True)
            result = yield from apply(move)
            if result.error is None:
                continue
            if rev in walk.failed_reupgrades:  # one cause, one message
                verdicts[UPGRADE].problem(
                    f"the upgrade to {rev}{on} fails on top of its own downgrade (see {STEPWISE}[{engine}]); "
                    "the walk back up to head stops there."
                )
            else:
                _move_failed(verdicts, project, engine, move, result)
            blocked = f"not checked: the walk back up to head stops at {rev} (see {UPGRADE}[{engine}])."
            verdicts[ROUNDTRIP].problem(blocked)
            verdicts[MODEL].problem(blocked)
            return
        final = reader.snapshot(conn)
        walk.heads[bind] = final
        lines = differences(top, final, "as the model built it", "after the walk down and up again")
        if lines:
            verdicts[ROUNDTRIP].problem(
                f"head (built by metadata.create_all) -> down -> head{on} does not arrive at the same schema:\n  "
                + "\n  ".join(lines)
            )

    def tail(
        conn: sa.Connection,
        head: schemas.Snapshot,
        initial: schemas.Snapshot,
        at_revision: dict[str, schemas.Snapshot],
        bind: str | None,
        apply: Callable[[Move], Generator[Move, StepResult | None, StepResult]],
        unchanged_since: Callable[[schemas.Snapshot, list[str]], bool],
        statements: list[str],
    ) -> Generator[Move, StepResult | None, None]:
        """head -> base -> head, for test_downgrade and test_roundtrip.

        Down stops at a revision declared irreversible or at a downgrade that fails (which is
        undone), and test_downgrade compares with the state the walk had at that revision; up
        again from there, and test_roundtrip compares with the first head.
        """
        on = "" if bind is None else f" [bind {bind or 'default'}]"
        downgraded: list[str] = []
        stopped_at: str | None = None
        for rev in reversed(order):
            if rev in options.irreversible:
                stopped_at = rev
                note = f"stopped at {rev}: declared irreversible in migrations_irreversible"
                verdicts[DOWNGRADE].note(note)
                verdicts[ROUNDTRIP].note(note)
                break
            move = Move("downgrade", rev, "downgrade", bind, tolerant=True)
            result = yield from apply(move)
            if result.error is None:
                downgraded.append(rev)
                continue
            if rev in walk.failed_downgrades:  # one cause, one message: the stepwise cycle met it first
                verdicts[DOWNGRADE].problem(
                    f"the downgrade of {rev}{on} fails (see {STEPWISE}[{engine}]); head -> base stops there."
                )
            else:
                _move_failed(verdicts, project, engine, move, result)
            if not result.restored and not unchanged_since(at_revision[rev], list(statements)):
                verdicts[ROUNDTRIP].problem(
                    f"not checked: the downgrade of {rev}{on} changed the database before it failed, which "
                    f"{engine} cannot undo (see {DOWNGRADE}[{engine}])."
                )
                return
            verdicts[ROUNDTRIP].note(f"from {rev} up: its downgrade fails (see {DOWNGRADE}[{engine}])")
            yield from apply(Move("upgrade", rev, "downgrade", bind, record_only=True))
            stopped_at = rev
            break
        bottom = reader.snapshot(conn)
        if stopped_at is None:
            lines = differences(initial, bottom, "before the first upgrade", "after downgrading to base")
            if lines:
                verdicts[DOWNGRADE].problem(
                    f"downgrading from head to base{on} leaves the database changed:\n  " + "\n  ".join(lines)
                )
        else:
            lines = differences(
                at_revision[stopped_at],
                bottom,
                f"after upgrading to {stopped_at}",
                f"after downgrading to {stopped_at}",
            )
            if lines:
                verdicts[DOWNGRADE].problem(
                    f"downgrading from head to {stopped_at}{on} does not give back the schema at {stopped_at}:\n  "
                    + "\n  ".join(lines)
                )
        for rev in reversed(downgraded):
            move = Move("upgrade", rev, "roundtrip", bind, tolerant=True)
            result = yield from apply(move)
            if result.error is None:
                continue
            if rev in walk.only_in_one_command:  # one cause, one message
                verdicts[ROUNDTRIP].problem(
                    f"the upgrade to {rev}{on} fails in a command of its own (see {UPGRADE}[{engine}]); "
                    "base -> head stops there."
                )
            elif rev in walk.failed_reupgrades:
                verdicts[ROUNDTRIP].problem(
                    f"the upgrade to {rev}{on} fails again after its downgrade (see {STEPWISE}[{engine}]); "
                    "base -> head stops there."
                )
            else:
                _move_failed(verdicts, project, engine, move, result)
            return
        final = reader.snapshot(conn)
        lines = differences(head, final, "the first time", "at head the second time")
        if lines:
            verdicts[ROUNDTRIP].problem(
                f"base -> head -> base -> head{on} does not arrive at the same schema:\n  " + "\n  ".join(lines)
            )

    return program


@contextmanager
def _collector_spared() -> Iterator[None]:
    """Keep the cyclic garbage collector from re-scanning, over and over, what existed before the walk.

    A 200-revision walk triggers 10 to 20 full collections, and each one traversed every object of
    pytest, SQLAlchemy, Alembic and the project's models. What is alive when the walk starts outlives
    it anyway, so it is frozen out of the collector's sight until the walks end (on PostgreSQL at
    200 revisions, full collections went from 0.8 s to 0.3 s). Left alone if something else, such as
    the user's app, already froze objects: unfreezing would undo that too.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _clear_compiled_cache(conn: sa.Connection) -> None:
    """Keep a long walk's memory flat.

    The engine's compiled-SQL cache keys hold the Table graphs that batch mode reflects for every
    table rebuild; over hundreds of moves that alone is hundreds of MB. Once they are out of the
    cache, the collector's own runs free them: explicit collections added time, not headroom
    (peak RSS at 500 revisions on SQLite 136 MiB without them, 142 MiB with).
    """
    cache = getattr(conn.engine, "_compiled_cache", None)
    if cache is not None:
        cache.clear()


def _attribute(upgrade: list[tuple[str, str]], downgrade: list[tuple[str, str]]) -> list[str]:
    """Decide which losses to report for one revision.

    Values an upgrade drops but its downgrade brings back were moved, not lost (a column split,
    a table rebuilt under another name), so an upgrade loss counts only where the downgrade
    cannot restore the table. Then both lines are reported: either step may be the culprit (the
    upgrade discarded the values, or it moved them and the downgrade does not move them back).
    """
    unrestored = {table for table, _text in downgrade}
    return [text for table, text in upgrade if table in unrestored] + [text for _table, text in downgrade]


def bind_of(context: MigrationContext) -> str | None:
    """The Flask-Migrate multidb bind a run_migrations() call is for; None in a single-database env.py."""
    token = context.opts.get("upgrade_token", "upgrades")
    if token == "upgrades":
        return None
    return token[: -len("_upgrades")] if token.endswith("_upgrades") else token


_EXPLICIT_DROP = re.compile(r" dropped (table|column) ")


def _data_findings(verdict: Verdict, losses: list[str], rev: str, options: CheckOptions, project: Project) -> None:
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


# ------------------------------------------------------------ one engine


def _step_failure(
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


def _only_in_one_command(project: Project, engine: str, move: Move, error: BaseException) -> str:
    text = _step_failure(project, engine, move, error, with_rows=False).splitlines()
    rev = move.revision
    return "\n".join(
        [
            text[0].replace(" failed on ", " fails on ", 1).rstrip(".")
            + " when it runs in an `alembic upgrade` command of its own, and passes only in one command with "
            "the revisions before it.",
            "Alembic remembers the types (PostgreSQL enums) a command has created and does not create them "
            f"again, so `alembic upgrade head` hides this; a database upgraded in two steps (`alembic upgrade "
            f"{_parents_label(project, rev)}`, later `alembic upgrade head`) fails here. Create the type in one "
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


def _move_failed(
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
            _step_failure(project, engine, move, result.error, with_rows=True)
            .replace("failed on", "fails only with rows present on", 1)
            .replace(" with seeded rows in the tables.", ": on empty tables it passes.", 1)
        )
        return
    verdicts[PHASE_OWNER[move.phase]].problem(
        _step_failure(project, engine, move, result.error, with_rows=False, left_behind=left_behind)
    )


def _env_failure(project: Project, engine: str, error: BaseException) -> str:
    where = user_code_location(error, project.code_roots)
    if isinstance(error, ForeignDatabase):
        what, why = f"did not connect to the throwaway {engine} database; nothing was run.", str(error)
    else:
        what, why = f"failed before running any migration on {engine}.", describe_error(error)
    return f"env.py ({project.script.dir}/env.py) {what}\n" + (f"at {where}\n" if where else "") + why


@_collector_spared()
def run_engine(
    project: Project,
    server: Server,
    options: CheckOptions,
    metadata: Any,
    supply: seeding.RowSupplier | None = None,
    prepare: Preparer | None = None,
) -> EngineReport:
    """All walk-based verdicts for one engine. `prepare` builds the base state on each walk's fresh database."""
    engine = server.engine
    started = time.perf_counter()
    report = EngineReport(engine, {check: Verdict(check) for check in WALK_CHECKS}, len(project.revisions))
    verdicts = report.verdicts
    reader = schemas.SchemaReader()
    seed, skip, replay = True, frozenset(options.irreversible), None
    pending_data_failure: Move | None = None
    pending_failure_text = ""
    heads: dict[str | None, schemas.Snapshot] = {}
    walk_metadata: dict[str | None, Any] = {}
    blocked: str | None = None

    # The model's database is built beside the walk: creating a database costs a PostgreSQL server
    # a quarter of a second or more, and the walk does not need to wait for it.
    builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pytest-migrations-model")
    models: dict[str | None, Future[ModelBuild]] = {}
    if engine != "sqlite":  # the model's database, made while the walk's is: a short history waits for neither
        builder.submit(server.make_ahead)

    def on_metadata(bind: str | None, found: Any) -> None:
        chosen = _model_metadata(metadata, bind, found)
        if chosen is not None and bind not in models:
            models[bind] = builder.submit(build_model, server, chosen)

    try:
        # Failed downgrades and re-upgrades are survived inside one walk. Another walk runs only when an
        # upgrade fails with rows in the tables (to tell whether the rows are the cause), or when MySQL
        # could not undo a failed move (it resumes after that revision): a bounded number of times.
        while True:
            walk = Walk(
                seed=seed,
                skip_cycle=skip,
                replay_through=replay,
                verdicts={check: Verdict(check) for check in WALK_CHECKS},
            )
            try:
                database = fresh_database(server, prepare)
            except PrepareFailed as exc:
                blocked = str(exc)
                for verdict in verdicts.values():
                    verdict.problem(blocked)
                break
            try:
                program = walk_program(project, walk, options, reader, supply, on_metadata, engine, metadata)
                outcome = drive(project, database.url, program, server)
            finally:
                database.drop()
            walk.outcome = outcome
            report.walks += 1
            record_warning(report.warnings, outcome.warnings)
            for bind, found in walk.metadata.items():
                walk_metadata.setdefault(bind, found)
            if not report.upgrade_seconds:
                for move, seconds in outcome.timings:
                    if move.phase == "upgrade":
                        report.upgrade_seconds[move.revision] = seconds
            for check, verdict in walk.verdicts.items():
                if check == DATA and not walk.seed:
                    continue
                for problem in verdict.problems:
                    verdicts[check].problem(problem)
                for note in verdict.notes:
                    verdicts[check].note(note)
            if walk.seed_state is not None:
                for problem in walk.seed_state.problems.values():
                    verdicts[DATA].note(problem + "; supply rows with the pytest_migrations_rows hook")
                for error in walk.seed_state.hook_errors.values():
                    verdicts[DATA].problem(error)
            for bind, snapshot in walk.heads.items():  # per bind: a later walk may get a bind further
                heads.setdefault(bind, snapshot)
            move = outcome.failed_move

            if pending_data_failure is not None and (move is None or move != pending_data_failure):
                verdicts[DATA].problem(pending_failure_text)  # the empty database got past it: the rows were the cause
                pending_data_failure = None

            if outcome.completed:
                break
            if outcome.restart_after is not None:
                replay = outcome.restart_after
                verdicts[STEPWISE].note(
                    f"the failed move at {replay} could not be undone on {engine}: a fresh database was brought past "
                    "it with plain upgrades, and the checks went on from there"
                )
                continue
            error = outcome.error
            assert error is not None
            if outcome.error_in == "env":
                blocked = _env_failure(project, engine, error)
                for verdict in verdicts.values():
                    verdict.problem(blocked)
                break
            if outcome.error_in == "check" or move is None:
                text = f"pytest-migrations could not inspect the database on {engine}: {describe_error(error)}"
                for verdict in verdicts.values():
                    verdict.problem(text)
                break
            if seed and move.phase == "upgrade":
                pending_data_failure = move
                pending_failure_text = _step_failure(project, engine, move, error, with_rows=True)
                seed = False
                continue
            if pending_data_failure is not None:  # failed at the same step without rows: not the data's fault
                verdicts[DATA].problem(
                    f"not checked from {move.revision} on: its upgrade fails without seeded rows too, so the rows "
                    f"are not the cause (see {UPGRADE}[{engine}])."
                )
                pending_data_failure = None
            verdicts[PHASE_OWNER[move.phase]].problem(_step_failure(project, engine, move, error, with_rows=False))
            if move.phase in ("upgrade", "replay"):
                blocked = f"not checked: the upgrade to {move.revision} fails (see {UPGRADE}[{engine}])."
                for check in (STEPWISE, DOWNGRADE, ROUNDTRIP, MODEL, DATA):
                    if not verdicts[check].problems:
                        verdicts[check].problem(blocked)
            break
    finally:
        builder.shutdown(wait=True)  # its database is dropped even when the walk was interrupted

    if not walk_metadata:
        walk_metadata = {None: None}
    for bind, found in walk_metadata.items():
        wanted = _model_metadata(metadata, bind, found) is not None
        build = models[bind].result() if bind in models else None
        _model_verdict(
            verdicts[MODEL], heads.get(bind), wanted, build, bind, options, blocked, bool(project.flask_binds)
        )
    report.seconds = time.perf_counter() - started
    return report


def _model_metadata(given: Any, bind: str | None, found: Any) -> Any:
    """The metadata to compare a bind with: the one the user named, else the one env.py passes."""
    return given if given is not None and bind in (None, "") else found


def _schemas_named(metadatas: list[Any]) -> list[str]:
    """PostgreSQL schemas a model's tables, or the enum types of its columns, live in."""
    named = set()
    for item in metadatas:
        for table in item.tables.values():
            named.add(table.schema)
            named.update(getattr(column.type, "schema", None) for column in table.columns)
    return sorted(schema for schema in named if isinstance(schema, str) and schema)


def create_model(conn: sa.Connection, metadatas: list[Any]) -> None:
    """metadata.create_all, with the PostgreSQL schemas the model names made first."""
    if conn.dialect.name == "postgresql":  # create_all expects the schemas it names to exist
        for schema in _schemas_named(metadatas):
            conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
    for item in metadatas:
        item.create_all(conn)


def build_model(server: Server, metadata: Any) -> ModelBuild:
    """Snapshot what metadata.create_all builds on a fresh database (runs in a thread beside the walk)."""
    metadatas = metadata if isinstance(metadata, (list, tuple)) else [metadata]
    elsewhere = sorted({f"{t.schema}.{t.name}" for item in metadatas for t in item.tables.values() if t.schema})
    if elsewhere and server.engine != "postgresql":
        # On MySQL a schema is another database, on SQLite an attached file: neither is ours to write.
        return ModelBuild(
            error=f"the model's tables {', '.join(elsewhere)} name a schema, which on {server.engine} is another "
            "database than the throwaway one, and pytest-migrations only writes to databases it created; "
            "compare this model on postgresql, or leave this engine out of the model check's matrix."
        )
    database = server.next_database()
    try:
        engine = sa.create_engine(database.url, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                create_model(conn, metadatas)
            with engine.connect() as conn:
                return ModelBuild(snapshot=schemas.SchemaReader().snapshot(conn))
        except sa.exc.SQLAlchemyError as exc:
            return ModelBuild(
                error=f"metadata.create_all fails on {server.engine}, so the model cannot be compared: "
                + describe_error(exc)
            )
        finally:
            engine.dispose()
    finally:
        database.drop()


def _model_verdict(
    verdict: Verdict,
    head: schemas.Snapshot | None,
    wanted: bool,
    build: ModelBuild | None,
    bind: str | None,
    options: CheckOptions,
    blocked: str | None,
    flask: bool = False,
) -> None:
    on = "" if bind is None else f" [bind {bind or 'default'}]"
    autogenerate = 'flask db migrate -m "..."' if flask else 'alembic revision --autogenerate -m "..."'
    if verdict.problems:
        return  # the walk never got far enough (env.py failed, or an upgrade did): that is the verdict
    if not wanted:
        verdict.skip_reason = (
            "no target metadata: env.py passes target_metadata=None and neither --migrations-metadata "
            "nor the migrations_metadata ini key names one"
        )
        return
    if head is None or build is None:
        verdict.problem(blocked or "not checked: the walk never reached head.")
        return
    if build.snapshot is None:
        verdict.problem(build.error or "the model could not be built.")
        return
    lines = [
        d.text
        for d in schemas.diff(build.snapshot, head, "in the model", "at head")
        if not schemas.ignored(d, options.ignore_rules)
    ]
    if lines:
        verdict.problem(
            f"the schema the migrations build{on} differs from what metadata.create_all builds "
            f"(add a migration, e.g. `{autogenerate}`, or fix the model):\n  " + "\n  ".join(lines)
        )
