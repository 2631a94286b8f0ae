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
from pytest_migrations.checks.autogenerate import AutogenerateView, autogenerate_view
from pytest_migrations.checks.messages import (
    attribute_losses,
    data_findings,
    move_failed,
    only_in_one_command,
    parents_label,
)
from pytest_migrations.checks.model import create_model, model_metadata, model_target_for
from pytest_migrations.checks.model_filters import ModelTarget, model_target
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
from pytest_migrations.replay import Claim
from pytest_migrations.seeding.enums import enum_values_in_metadata, enum_values_in_revisions
from pytest_migrations.seeding.model_types import model_encoders
from pytest_migrations.walk import (
    DriveOutcome,
    Move,
    StepResult,
    WalkRestart,
    describe_error,
)

Moves = Generator[Move, StepResult | None, None]
_SAVEPOINT_SQL = ("SAVEPOINT ", "RELEASE SAVEPOINT ", "ROLLBACK TO SAVEPOINT ")


@dataclass
class Walk:
    """One walk's plan and what it found."""

    seed: bool
    skip_cycle: frozenset[str]
    verdicts: dict[str, Verdict]
    outcome: DriveOutcome | None = None
    replay_through: str | None = None  # rebuild the state up to this revision with plain upgrades first
    unseeded: str | None = None  # run this revision's upgrade on empty tables (it failed only with rows)
    failed_downgrades: set[str] = field(default_factory=set)  # in the stepwise cycle: the tail points there
    failed_reupgrades: set[str] = field(default_factory=set)
    only_in_one_command: set[str] = field(default_factory=set)  # first upgrades Alembic's memo carried
    heads: dict[str | None, schemas.Snapshot] = field(default_factory=dict)  # per bind
    autogenerate: dict[str | None, AutogenerateView] = field(default_factory=dict)  # per bind, read at head
    metadata: dict[str | None, Any] = field(default_factory=dict)  # per bind, as env.py passed it
    seed_states: list[seeding.SeedState] = field(default_factory=list)  # one per bind the walk seeded
    stops: list[str] = field(default_factory=list)  # why parts of the walk ended early, for "not checked" verdicts
    # Per revision, what its moves did (upgrade, downgrade, reupgrade: ok or not; stepwise_equal): the facts a
    # user gets from `alembic upgrade REV && alembic downgrade -1 && alembic upgrade +1`, compared in the tests.
    facts: dict[str, dict[str, bool]] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)  # failures told, for replay to confirm (replay.confirm)
    progress: Any = None  # progress.Progress: told each revision the walk reaches


@dataclass
class Upgraded:
    """What an upgrade in a checked cycle did to the data, for judging the downgrade that follows."""

    before_rows: dict[str, seeding.TableRows]
    touched: set[str] = field(default_factory=set)
    losses: list[tuple[str, str]] = field(default_factory=list)
    rows: dict[str, seeding.TableRows | None] = field(default_factory=dict)


def walk_program(
    project: Project,
    walk: Walk,
    options: CheckOptions,
    reader: schemas.SchemaReader,
    supply: seeding.RowSupplier | None,
    on_metadata: Callable[[str | None, Any], None] = lambda bind, metadata: None,
    engine: str = "",
    given_metadata: Any = None,
) -> Callable[[sa.Connection, MigrationContext], Moves]:
    """The program `walk.drive` runs once per run_migrations() call (once per bind in a multidb env.py).

    `on_metadata(bind, target)` is called as soon as env.py has configured each bind, with its target
    metadata and the include_* filters it gave `context.configure` (a ModelTarget).
    """

    def program(conn: sa.Connection, context: MigrationContext) -> Moves:
        schema = context.version_table_schema
        reader.version_table = f"{schema}.{context.version_table}" if schema else context.version_table
        bind = bind_of(context)
        walk.metadata[bind] = context.opts.get("target_metadata")
        found = model_target(context.opts)  # the metadata, and the options autogenerate honours
        on_metadata(bind, found)
        run = WalkRun(project, walk, options, reader, supply, engine, conn, bind)
        run.target = model_target_for(given_metadata, bind, found)
        run.learn_enums(model_metadata(given_metadata, bind, walk.metadata[bind]))
        if options.start == "create_all":
            yield from run.from_the_model(model_metadata(given_metadata, bind, walk.metadata[bind]))
        else:
            yield from run.from_base()

    return program


class WalkRun:
    """One bind's walk inside one run of env.py: the moves, and the comparisons between them."""

    def __init__(
        self,
        project: Project,
        walk: Walk,
        options: CheckOptions,
        reader: schemas.SchemaReader,
        supply: seeding.RowSupplier | None,
        engine: str,
        conn: sa.Connection,
        bind: str | None,
    ) -> None:
        self.project, self.walk, self.options, self.reader, self.supply = project, walk, options, reader, supply
        self.engine, self.conn, self.bind = engine, conn, bind
        self.on = "" if bind is None else f" [bind {bind or 'default'}]"
        self.order = [rev.id for rev in project.revisions]
        self.verdicts = walk.verdicts
        self.statements: list[str] = []  # the SQL the last move ran
        self.target: ModelTarget | None = None  # the model to ask autogenerate about at head
        self._capturing = False
        self._moves = 0
        self.state = seeding.SeedState(seed=options.seed, rows_per_table=options.rows_per_table) if walk.seed else None
        if self.state is not None:
            walk.seed_states.append(self.state)
        self.at_revision: dict[str, schemas.Snapshot] = {}  # the state the walk left each revision in
        # From create_all: what each cycle did not give back, told once the walk is back at head, less what
        # the migrations never build at all (the model's drift: test_model_matches_migrations tells it).
        self.unsettled: list[tuple[str, list[schemas.Difference]]] = []
        event.listen(conn, "before_cursor_execute", self._record)

    def learn_enums(self, metadata: Any) -> None:
        """Values of enums stored as strings: the model's, overridden by the revision scripts' own.

        The model has the head's values; a revision before a value was added reads the column through
        an Enum without it, so where the revisions name the column, the values they all share win.
        """
        if self.state is None:
            return
        self.state.enum_values = {
            **enum_values_in_metadata(metadata),
            **enum_values_in_revisions(tuple(rev.path for rev in self.project.revisions)),
        }
        self.state.encoders = model_encoders(metadata, self.conn.dialect)
        self.state.coverage.revisions.update(self.order)

    # ------------------------------------------------------------ moves and what they did

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The walk's own savepoints change nothing a snapshot or a row read must follow.
        if self._capturing and not statement.startswith(_SAVEPOINT_SQL):
            self.statements.append(statement)

    def apply(self, move: Move) -> Generator[Move, StepResult | None, StepResult]:
        self.statements = []
        self._capturing = True
        result = yield move
        self._capturing = False
        self._moves += 1
        if self._moves % 30 == 0:
            clear_compiled_cache(self.conn)
        return result or StepResult()

    def snapshot_after(self, previous: schemas.Snapshot) -> schemas.Snapshot:
        """The schema after the last move, reading again only what its SQL can have changed."""
        ran = self.statements
        return self.reader.snapshot(self.conn, previous, ran) if seeding.changes_schema(ran) else previous

    def unchanged_since(self, expected: schemas.Snapshot) -> bool:
        """After a failed move that could not be rolled back: did it leave the schema as it was?"""
        return not self.differences(expected, self.snapshot_after(expected), "", "")

    def differences(self, before: schemas.Snapshot, after: schemas.Snapshot, before_label: str, after_label: str):
        return [d.text for d in self.kept_differences(before, after, before_label, after_label)]

    def kept_differences(
        self, before: schemas.Snapshot, after: schemas.Snapshot, before_label: str = "", after_label: str = ""
    ) -> list[schemas.Difference]:
        rules = self.options.ignore_rules
        return [d for d in schemas.diff(before, after, before_label, after_label) if not schemas.ignored(d, rules)]

    def describe(self, rev: str) -> str:
        return self.project.by_id[rev].describe() + self.on

    def failed(self, move: Move, result: StepResult, **kwargs: Any) -> None:
        rows = self.state is not None and move.phase in ("upgrade", "stepwise")  # the phases with seeded rows
        claim = move_failed(
            self.verdicts,
            self.project,
            self.engine,
            move,
            result,
            start=self.options.start,
            rows_present=rows,
            **kwargs,
        )
        if claim is not None:
            self.walk.claims.append(claim)

    # ------------------------------------------------------------ rows

    def refresh(self, names: set[str], snapshot: schemas.Snapshot) -> dict[str, seeding.TableRows | None]:
        assert self.state is not None
        fresh: dict[str, seeding.TableRows | None] = {}
        for name in names:
            if name in snapshot.tables:
                fresh[name] = seeding.read_rows(self.conn, snapshot.tables[name])
                self.state.known[name] = fresh[name]  # type: ignore[assignment]
            else:
                fresh[name] = None
                self.state.forget(name)
        return fresh

    def emptier(self, snapshot: schemas.Snapshot) -> Callable[[sa.Connection], None] | None:
        if self.state is None:
            return None
        return lambda connection: seeding.delete_all_rows(connection, snapshot.tables)

    def seed(self, snapshot: schemas.Snapshot, parent: str) -> Upgraded:
        """Rows into the tables there are now; what they hold is what the next move must not lose."""
        if self.state is None:
            return Upgraded({})
        for name in [name for name in self.state.known if name not in snapshot.tables]:
            self.state.forget(name)  # dropped since it was read (e.g. by the downgrade before a create_all cycle)
        seeding.seed_tables(self.conn, snapshot, self.state, parent, self.supply)
        return Upgraded(dict(self.state.known))

    def touched_by(self, before: schemas.Snapshot, *others: schemas.Snapshot) -> set[str]:
        every = set(before.tables).union(*(set(other.tables) for other in others))
        return seeding.tables_affected(self.statements, every, before, seeding.enforces_foreign_keys(self.conn))

    def after_upgrade(self, rev: str, data: Upgraded, before: schemas.Snapshot, after: schemas.Snapshot) -> None:
        """Read back what the upgrade touched, and what of the seeded rows it lost."""
        if self.state is None:
            return
        data.touched = self.touched_by(before, after)
        if all(name in data.before_rows and data.before_rows[name].rows for name in before.tables):
            self.state.coverage.checked.add(rev)  # every table there held rows when the upgrade ran
        data.rows = self.refresh(data.touched, after)
        data.losses = seeding.losses_after_upgrade(
            {t: data.before_rows[t] for t in data.touched if t in data.before_rows},
            data.rows,
            f"upgrade {parents_label(self.project, rev)} -> {rev}{self.on}",
        )

    def after_downgrade(
        self, rev: str, data: Upgraded, before: schemas.Snapshot, after: schemas.Snapshot, back: schemas.Snapshot
    ) -> list[str]:
        """Judge a revision's downgrade: the schema it gives back, and every seeded row and value."""
        lines = self.differences(before, back, "before", f"after downgrade of {rev}")
        if lines:
            self.verdicts[STEPWISE].problem(
                f"downgrade of {self.describe(rev)} does not restore the schema it started from:\n  "
                + "\n  ".join(lines)
            )
        if self.state is not None:
            data.touched |= self.touched_by(before, after, back)
            parent = parents_label(self.project, rev)
            lost = seeding.losses_after_downgrade(
                {t: data.before_rows[t] for t in data.touched if t in data.before_rows},
                self.refresh(data.touched, back),
                f"downgrade {rev} -> {parent}{self.on}",
                data.rows,
                f"upgrade {parent} -> {rev}{self.on}",
            )
            self.data_findings(rev, attribute_losses(data.losses, lost))
        return lines

    def data_findings(self, rev: str, losses: list[str]) -> None:
        if self.state is not None:
            data_findings(self.verdicts[DATA], losses, rev, self.options, self.project)

    # ------------------------------------------------------------ from base

    def from_base(self) -> Moves:
        """Base -> head one revision at a time, each in its stepwise cycle; then the tail."""
        initial = current = self.reader.snapshot(self.conn)
        replaying = self.walk.replay_through is not None
        for number, rev in enumerate(self.order, start=1):
            self.tell_progress("up", number, rev)
            if replaying:  # rebuilding the state a failed move could not undo: plain upgrades, no checks
                yield from self.apply(Move("upgrade", rev, "replay", self.bind))
                replaying = rev != self.walk.replay_through
                # Each revision's state, for the way down (read again only where its SQL changed something).
                current = self.at_revision[rev] = self.snapshot_after(current)
                continue
            current = self.at_revision[rev] = yield from self.revision_from_base(rev, current)
        self.at_head(current)
        if self.state is not None:
            seeding.delete_all_rows(self.conn, current.tables)
        yield from self.tail(current, initial)

    def revision_from_base(self, rev: str, before: schemas.Snapshot) -> Generator[Move, Any, schemas.Snapshot]:
        """Seed, upgrade, downgrade, upgrade again; returns the schema the revision leaves the walk in."""
        bind, verdicts = self.bind, self.verdicts
        data = Upgraded({}) if rev == self.walk.unseeded else self.seed(before, parents_label(self.project, rev))
        # On PostgreSQL a first upgrade is tolerant, to tell a revision that passes only inside one
        # `alembic upgrade` command (a type made earlier in that command); otherwise its failure ends the walk.
        postgresql = self.conn.dialect.name == "postgresql"
        first = Move("upgrade", rev, "upgrade", bind, tolerant=postgresql, as_in_one_command=postgresql)
        up = yield from self.apply(first)
        if up.passes_in_one_command:
            assert up.error is not None
            self.walk.only_in_one_command.add(rev)
            verdicts[UPGRADE].problem(only_in_one_command(self.project, self.engine, first, up.error))
        up_statements = self.statements
        facts = self.walk.facts.setdefault(rev + self.on, {})
        facts["upgrade"] = up.error is None or up.passes_in_one_command
        after = self.snapshot_after(before)
        self.after_upgrade(rev, data, before, after)
        if self.state is not None and seeding.widened_tables(before, after):
            # Rows as wide as the room the upgrade made, as production writes them: its downgrade may narrow back.
            self.seed(after, rev)

        if rev in self.walk.skip_cycle:
            if rev in self.options.irreversible:
                verdicts[STEPWISE].note(f"{rev}: declared irreversible, its downgrade was not attempted")
            self.data_findings(rev, [text for _t, text in data.losses])
            return after

        down = yield from self.apply(
            Move("downgrade", rev, "stepwise", bind, tolerant=True, emptier=self.emptier(after), cycle="open")
        )
        facts["downgrade"] = down.error is None or bool(down.passes_without_rows)  # as on plain Alembic's empty tables
        if down.error is not None:
            self.walk.failed_downgrades.add(rev)
            self.failed(Move("downgrade", rev, "stepwise", bind), down)
            # The upgrade's losses stand (no downgrade brings them back), and are told before a restart too:
            # the walk after it only replays this revision.
            self.data_findings(rev, [text for _t, text in data.losses])
            if not down.restored and not self.unchanged_since(after):
                raise WalkRestart(rev, f"its failed downgrade changed the database, which {self.engine} cannot undo")
            yield from self.apply(Move("upgrade", rev, "stepwise", bind, record_only=True, cycle="close"))
            return after
        back = self.snapshot_after(after)
        left_behind = self.after_downgrade(rev, data, before, after, back)

        again = yield from self.apply(Move("upgrade", rev, "stepwise", bind, tolerant=True, cycle="close"))
        facts["reupgrade"] = again.error is None or bool(again.passes_without_rows)
        facts["stepwise_equal"] = not left_behind
        if again.error is not None:
            self.walk.failed_reupgrades.add(rev)
            if rev in self.walk.only_in_one_command and not left_behind:  # the same cause, already told
                verdicts[STEPWISE].problem(
                    f"the upgrade to {rev}{self.on}, run again after its downgrade, fails as it does in a command "
                    f"of its own (see {UPGRADE}[{self.engine}])."
                )
            else:
                self.failed(Move("upgrade", rev, "stepwise", bind), again, left_behind=left_behind)
            if not again.restored:
                raise WalkRestart(rev, "its upgrade failed after its downgrade had run")
            if self.state is not None:  # the cycle was rolled back: the rows are those after the first upgrade
                for name, rows in data.rows.items():
                    if rows is None:
                        self.state.forget(name)
                    else:
                        self.state.known[name] = rows
            return after
        if self.statements == up_statements and back == before:
            rebuilt = after  # the same DDL on the same schema builds the same schema
        else:
            rebuilt = self.snapshot_after(back)
        lines = self.differences(after, rebuilt, "the first time", f"after upgrading {rev} again")
        facts["stepwise_equal"] = not left_behind and not lines
        if lines:
            verdicts[STEPWISE].problem(
                f"upgrade of {self.describe(rev)}, run again after its downgrade, gives a different schema than "
                "the first time:\n  " + "\n  ".join(lines)
            )
            # Never go on from a schema `alembic upgrade head` does not build: later revisions would meet it.
            raise WalkRestart(rev, "its downgrade and upgrade again left a different schema")
        if self.state is not None:
            # The downgrade's refresh left every touched table current; only the re-upgrade's own tables moved.
            self.refresh(self.touched_by(back, rebuilt), rebuilt)
        return rebuilt

    def tail(self, head: schemas.Snapshot, initial: schemas.Snapshot) -> Moves:
        """head -> base -> head, for test_downgrade and test_roundtrip.

        Down stops at a revision declared irreversible or at a downgrade that fails (which is
        undone), and test_downgrade compares with the state the walk left that revision in; up
        again from there, and test_roundtrip compares with the first head.
        """
        verdicts, on, engine = self.verdicts, self.on, self.engine
        downgraded: list[str] = []
        stopped_at: str | None = None
        for number, rev in enumerate(reversed(self.order), start=1):
            self.tell_progress("down", number, rev)
            if rev in self.options.irreversible:
                stopped_at = rev
                note = f"stopped at {rev}: declared irreversible in migrations_irreversible"
                verdicts[DOWNGRADE].note(note)
                verdicts[ROUNDTRIP].note(note)
                break
            move = Move("downgrade", rev, "downgrade", self.bind, tolerant=True)
            result = yield from self.apply(move)
            if result.error is None:
                downgraded.append(rev)
                continue
            if rev in self.walk.failed_downgrades:  # one cause, one message: the stepwise cycle met it first
                verdicts[DOWNGRADE].problem(
                    f"the downgrade of {rev}{on} fails (see {STEPWISE}[{engine}]); head -> base stops there."
                )
            else:
                self.failed(move, result)
            if not (yield from self.stop_down_at(rev, result, self.at_revision[rev])):
                return
            stopped_at = rev
            break
        bottom = self.reader.snapshot(self.conn)
        if stopped_at is None:
            lines = self.differences(initial, bottom, "before the first upgrade", "after downgrading to base")
            if lines:
                verdicts[DOWNGRADE].problem(
                    f"downgrading from head to base{on} leaves the database changed:\n  " + "\n  ".join(lines)
                )
        else:
            lines = self.differences(
                self.at_revision[stopped_at],
                bottom,
                f"after upgrading to {stopped_at}",
                f"after downgrading to {stopped_at}",
            )
            if lines:
                verdicts[DOWNGRADE].problem(
                    f"downgrading from head to {stopped_at}{on} does not give back the schema at {stopped_at}:\n  "
                    + "\n  ".join(lines)
                )
        for rev in reversed(downgraded):  # a failure here ends the walk (engine.roundtrip_failure tells it)
            yield from self.apply(Move("upgrade", rev, "roundtrip", self.bind))
        final = self.reader.snapshot(self.conn)
        lines = self.differences(head, final, "the first time", "at head the second time")
        if lines:
            verdicts[ROUNDTRIP].problem(
                f"base -> head -> base -> head{on} does not arrive at the same schema:\n  " + "\n  ".join(lines)
            )

    def stop_down_at(self, rev: str, result: StepResult, expected: schemas.Snapshot) -> Generator[Move, Any, bool]:
        """A downgrade on the way down failed: stay at `rev` if the database is still there; False if not."""
        self.walk.stops.append(
            f"the walk down from head{self.on} stops at {rev}, whose downgrade fails (see {DOWNGRADE}[{self.engine}]); "
            f"if it is meant to be irreversible, declare it: migrations_irreversible = {rev}"
        )
        if not result.restored and not self.unchanged_since(expected):
            self.verdicts[ROUNDTRIP].problem(
                f"not checked: the downgrade of {rev}{self.on} changed the database before it failed, which "
                f"{self.engine} cannot undo (see {DOWNGRADE}[{self.engine}])."
            )
            return False
        self.verdicts[ROUNDTRIP].note(f"from {rev} up: its downgrade fails (see {DOWNGRADE}[{self.engine}])")
        yield from self.apply(Move("upgrade", rev, "downgrade", self.bind, record_only=True))
        return True

    # ------------------------------------------------------------ from the model

    def from_the_model(self, model: Any) -> Moves:
        """migrations_start = create_all: the database starts as the model builds it, stamped at head.

        For histories whose first revisions alter tables no revision creates. From head, each
        revision is taken down, then checked as the walk from base checks it (rows seeded, up,
        down: the stepwise and data checks), and the walk goes on down to base or to a revision
        declared irreversible; then up again to head (test_upgrade), which must be where it began
        (test_roundtrip) and what the model builds (test_model_matches_migrations).
        """
        verdicts, on, engine, bind = self.verdicts, self.on, self.engine, self.bind
        if model is None:
            text = (
                "migrations_start = create_all builds the starting database from the target metadata, and there is "
                "none: give env.py a target_metadata, or name one with migrations_metadata."
            )
            for verdict in verdicts.values():
                verdict.problem(text)
            return
        try:
            create_model(self.conn, model if isinstance(model, (list, tuple)) else [model])
        except sa.exc.SQLAlchemyError as exc:
            text = (
                f"migrations_start = create_all: metadata.create_all failed on {engine}{on}, so no revision was "
                "walked. Create what it needs first (an extension, a schema, a type) in a "
                "pytest_migrations_prepare_database hook in conftest.py.\n" + describe_error(exc)
            )
            for verdict in verdicts.values():
                verdict.problem(text)
            self.walk.stops.append(text)
            return
        for rev in self.order:  # `alembic stamp head`
            yield from self.apply(Move("upgrade", rev, "stamp", bind, record_only=True))
        top = current = self.reader.snapshot(self.conn)
        downgraded: list[str] = []
        for rev in reversed(self.order):
            if rev in self.options.irreversible:
                note = f"stopped at {rev}: declared irreversible in migrations_irreversible"
                verdicts[DOWNGRADE].note(note)
                verdicts[ROUNDTRIP].note(note)
                break
            move = Move("downgrade", rev, "downgrade", bind, tolerant=True)
            down = yield from self.apply(move)
            if down.error is not None:
                self.failed(move, down)
                if not (yield from self.stop_down_at(rev, down, current)):
                    self.tell_unsettled(set())  # not back at head: what the cycles met stands as it is
                    return
                break
            downgraded.append(rev)
            below = self.snapshot_after(current)
            still = yield from self.revision_from_below(rev, below, current)
            if still is None:
                self.tell_unsettled(set())
                return
            current = still
        if self.state is not None:
            seeding.delete_all_rows(self.conn, current.tables)
        for rev in reversed(downgraded):
            move = Move("upgrade", rev, "upgrade", bind, tolerant=True)
            result = yield from self.apply(move)
            if result.error is None:
                continue
            if rev in self.walk.failed_reupgrades:  # one cause, one message
                verdicts[UPGRADE].problem(
                    f"the upgrade to {rev}{on} fails on top of its own downgrade (see {STEPWISE}[{engine}]); "
                    "the walk back up to head stops there."
                )
            else:
                self.failed(move, result)
            blocked = f"not checked: the walk back up to head stops at {rev} (see {UPGRADE}[{engine}])."
            verdicts[ROUNDTRIP].problem(blocked)
            verdicts[MODEL].problem(blocked)
            self.tell_unsettled(set())
            return
        final = self.reader.snapshot(self.conn)
        self.at_head(final)
        # Back at head, what differs from the model's build is what the migrations never build: drift, which
        # the model check tells once. A cycle is blamed only for what it did not give back besides that.
        drift = {(d.kind, d.table, d.column) for d in self.kept_differences(top, final)}
        if drift:
            verdicts[ROUNDTRIP].note(f"the migrations do not build what the model does{on} (see {MODEL}[{engine}])")
        self.tell_unsettled(drift)

    def tell_progress(self, phase: str, number: int, rev: str) -> None:
        if self.walk.progress is not None:
            self.walk.progress.step(self.engine + self.on, phase, number, len(self.order), rev)

    def at_head(self, snapshot: schemas.Snapshot) -> None:
        """The schema at head, and what `alembic check` would report there, for the model check."""
        self.walk.heads[self.bind] = snapshot
        if self.target is not None:
            default_schema = self.conn.dialect.default_schema_name
            self.walk.autogenerate[self.bind] = autogenerate_view(self.conn, self.target, default_schema)

    def tell_unsettled(self, drift: set[tuple[str, str | None, str | None]]) -> None:
        for rev, found in self.unsettled:
            own = [d.text for d in found if (d.kind, d.table, d.column) not in drift]
            if own:
                self.verdicts[STEPWISE].problem(
                    f"downgrade of {self.describe(rev)}, then its upgrade, does not give back the schema it started "
                    "from:\n  " + "\n  ".join(own)
                )
        self.unsettled = []

    def revision_from_below(
        self, rev: str, below: schemas.Snapshot, above: schemas.Snapshot
    ) -> Generator[Move, Any, schemas.Snapshot | None]:
        """With the database just below `rev`: seed, upgrade, downgrade. Returns the schema below, or None to stop."""
        bind = self.bind
        data = self.seed(below, parents_label(self.project, rev))
        up = yield from self.apply(
            Move("upgrade", rev, "stepwise", bind, tolerant=True, emptier=self.emptier(below), cycle="open")
        )
        if up.error is not None:
            self.walk.failed_reupgrades.add(rev)
            self.failed(Move("upgrade", rev, "stepwise", bind), up)
            if not up.restored and not self.unchanged_since(below):
                return None
            yield from self.apply(Move("downgrade", rev, "stepwise", bind, record_only=True, cycle="close"))
            return below
        again = self.snapshot_after(below)
        found = self.kept_differences(above, again, "at first", f"after downgrading {rev} and upgrading it again")
        if found:
            self.unsettled.append((rev, found))
        self.after_upgrade(rev, data, below, again)
        move = Move("downgrade", rev, "stepwise", bind, tolerant=True, cycle="close")
        down = yield from self.apply(move)
        if down.error is not None:  # it passed a moment ago: the rows, or what the upgrade left
            self.failed(move, down)
            return None
        back = self.snapshot_after(again)
        self.after_downgrade(rev, data, below, again, back)
        return back


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
    """The multidb database (Flask bind, Alembic multidb name) a run_migrations() call is for; None in a single one."""
    token = context.opts.get("upgrade_token", "upgrades")
    if token == "upgrades":
        return None
    return token[: -len("_upgrades")] if token.endswith("_upgrades") else token
