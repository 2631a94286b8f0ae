"""The walk program: the moves one walk makes through the history, and what it compares between them.

From base: per revision, rows seeded, upgrade, downgrade, upgrade again (test_upgrade,
test_stepwise_roundtrip, test_data_preserved); at head the tail, down to base and up again
(test_downgrade, test_roundtrip). From the model (migrations_start = create_all): down from head
one revision at a time, each checked on the way, then back up. Failed downgrades and re-upgrades
are undone and the walk goes on (walk.Cycle, walk.tolerant).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event

from pytest_migrations import schema as schemas
from pytest_migrations import seeding
from pytest_migrations.checks.messages import (
    attribute_losses,
    data_findings,
    move_failed,
    only_in_one_command,
    parents_label,
)
from pytest_migrations.checks.model import create_model, model_metadata
from pytest_migrations.checks.verdicts import (
    DATA,
    DOWNGRADE,
    MODEL,
    ROUNDTRIP,
    STEPWISE,
    UPGRADE,
    CheckOptions,
    Verdict,
)
from pytest_migrations.project import Project
from pytest_migrations.walk import (
    DriveOutcome,
    Move,
    StepResult,
    WalkRestart,
)


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
                clear_compiled_cache(conn)
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
            parent = parents_label(project, rev)
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
                    only_in_one_command(project, engine, Move("upgrade", rev, "upgrade", bind), up.error)
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
                    data_findings(verdicts[DATA], [text for _t, text in upgrade_losses], rev, options, project)
                current = at_revision[rev] = after  # the tail compares with it if it stops here
                continue

            down = yield from apply(Move("downgrade", rev, "stepwise", bind, tolerant=True, emptier=emptier(after)))
            down_statements = list(statements)
            if down.error is not None:
                walk.failed_downgrades.add(rev)
                move_failed(verdicts, project, engine, Move("downgrade", rev, "stepwise", bind), down)
                if not down.restored and not unchanged_since(after, down_statements):
                    raise WalkRestart(rev)  # it changed the schema before failing, and MySQL cannot undo that
                if state is not None:
                    data_findings(verdicts[DATA], [text for _t, text in upgrade_losses], rev, options, project)
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
                    {t: before_rows[t] for t in touched if t in before_rows},
                    fresh,
                    f"downgrade {rev} -> {parent}{on}",
                    after_known,
                    f"upgrade {parent} -> {rev}{on}",
                )
                data_findings(verdicts[DATA], attribute_losses(upgrade_losses, downgrade_losses), rev, options, project)

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
                    move_failed(
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
        model = model_metadata(given_metadata, bind, walk.metadata[bind])
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
            parent = parents_label(project, rev)
            move = Move("downgrade", rev, "downgrade", bind, tolerant=True)
            down = yield from apply(move)
            ran = list(statements)
            if down.error is not None:
                move_failed(verdicts, project, engine, move, down)
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
                move_failed(verdicts, project, engine, Move("upgrade", rev, "stepwise", bind), up)
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
            upgraded_rows: dict[str, seeding.TableRows | None] = {}
            if state is not None:
                every = below.tables.keys() | again.tables.keys()
                touched = seeding.tables_affected(ran, every, below, seeding.enforces_foreign_keys(conn))
                fresh = refresh(touched, again)
                upgraded_rows = dict(fresh)
                upgrade_losses = seeding.losses_after_upgrade(
                    {t: before_rows[t] for t in touched if t in before_rows}, fresh, f"upgrade {parent} -> {rev}{on}"
                )
            move = Move("downgrade", rev, "stepwise", bind, tolerant=True, emptier=emptier(again))
            back_result = yield from apply(move)
            ran = list(statements)
            if back_result.error is not None:  # it passed a moment ago: the rows, or what the upgrade left
                move_failed(verdicts, project, engine, move, back_result)
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
                    {t: before_rows[t] for t in touched if t in before_rows},
                    fresh,
                    f"downgrade {rev} -> {parent}{on}",
                    upgraded_rows,
                    f"upgrade {parent} -> {rev}{on}",
                )
                data_findings(verdicts[DATA], attribute_losses(upgrade_losses, downgrade_losses), rev, options, project)
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
                move_failed(verdicts, project, engine, move, result)
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
                move_failed(verdicts, project, engine, move, result)
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
                move_failed(verdicts, project, engine, move, result)
            return
        final = reader.snapshot(conn)
        lines = differences(head, final, "the first time", "at head the second time")
        if lines:
            verdicts[ROUNDTRIP].problem(
                f"base -> head -> base -> head{on} does not arrive at the same schema:\n  " + "\n  ".join(lines)
            )

    return program


def clear_compiled_cache(conn: sa.Connection) -> None:
    """Keep a long walk's memory flat.

    The engine's compiled-SQL cache keys hold the Table graphs that batch mode reflects for every
    table rebuild; over hundreds of moves that alone is hundreds of MB. Once they are out of the
    cache, the collector's own runs free them: explicit collections added time, not headroom
    (peak RSS at 500 revisions on SQLite 136 MiB without them, 142 MiB with).
    """
    cache = getattr(conn.engine, "_compiled_cache", None)
    if cache is not None:
        cache.clear()


def bind_of(context: MigrationContext) -> str | None:
    """The Flask-Migrate multidb bind a run_migrations() call is for; None in a single-database env.py."""
    token = context.opts.get("upgrade_token", "upgrades")
    if token == "upgrades":
        return None
    return token[: -len("_upgrades")] if token.endswith("_upgrades") else token
