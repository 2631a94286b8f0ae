"""One engine's verdicts: the walks it takes, and the model built beside them."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from pytest_migrations import compat, seeding
from pytest_migrations import schema as schemas
from pytest_migrations.checks.autogenerate import AutogenerateView
from pytest_migrations.checks.locks import locks_verdict, mark_allowed
from pytest_migrations.checks.messages import between_moves_failure, env_failure, step_failure
from pytest_migrations.checks.model import ModelBuild, build_model, model_metadata, model_target_for, model_verdict
from pytest_migrations.checks.model_filters import ModelTarget
from pytest_migrations.checks.program import Walk, walk_program
from pytest_migrations.checks.reach import DOWNGRADE_CHECKS, Reach
from pytest_migrations.checks.verdicts import (
    DATA,
    DOWNGRADE,
    LOCKS,
    MODEL,
    PHASE_OWNER,
    ROUNDTRIP,
    STEPWISE,
    UPGRADE,
    WALK_CHECKS,
    CheckOptions,
    EngineReport,
    Verdict,
)
from pytest_migrations.checks.volume import run_volume_walk
from pytest_migrations.environment import record_warning
from pytest_migrations.observe import observer_for
from pytest_migrations.project import Project
from pytest_migrations.providers import Server
from pytest_migrations.replay import Claim, confirm, fails_with_rows, mismatch_warning, with_rows_by_hand
from pytest_migrations.walk import (
    Move,
    PrepareFailed,
    Preparer,
    drive,
    fresh_database,
)


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


@_collector_spared()
def run_engine(
    project: Project,
    server: Server,
    options: CheckOptions,
    metadata: Any,
    supply: seeding.RowSupplier | None = None,
    prepare: Preparer | None = None,
    progress: Any = None,
) -> EngineReport:
    """All walk-based verdicts for one engine. `prepare` builds the base state on each walk's fresh database;
    `progress` (progress.Progress) is told each revision the walks reach."""
    engine = server.engine
    started = time.perf_counter()
    report = EngineReport(engine, {check: Verdict(check) for check in WALK_CHECKS}, len(project.revisions))
    verdicts = report.verdicts
    reader = schemas.SchemaReader()
    skip, replay = frozenset(options.irreversible), None
    order = [rev.id for rev in project.revisions]
    unseeded: str | None = None  # a revision whose upgrade failed only with rows: the next walk runs it on empty tables
    pending_data_failure: Move | None = None
    pending_failure_text = ""
    pending_failure_error: BaseException | None = None
    heads: dict[str | None, schemas.Snapshot] = {}
    autogenerate: dict[str | None, AutogenerateView] = {}  # what `alembic check` reports at head, per bind
    walk_metadata: dict[str | None, Any] = {}
    blocked: str | None = None
    walked: set[str] = set()
    coverage = seeding.Coverage()
    reach = Reach.plan(order, options)
    stops: list[str] = []  # why parts of the walks ended early, first first
    claims: list[Claim] = []  # failures the walks told, each confirmed by plain Alembic before it stands
    # What a walk told in full, shared with the walks after it so that they point there (one cause, one message).
    failed_downgrades: set[str] = set()
    failed_reupgrades: set[str] = set()
    only_in_one_command: set[str] = set()

    # The model's database is built beside the walk: creating a database costs a PostgreSQL server
    # a quarter of a second or more, and the walk does not need to wait for it.
    observer = observer_for(
        engine, project, options.lock_threshold, dict(options.table_rows)
    )  # what each revision does to a busy database
    builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pytest-migrations-model")
    models: dict[str | None, Future[ModelBuild]] = {}
    if engine != "sqlite":  # the model's database, made while the walk's is: a short history waits for neither
        builder.submit(server.make_ahead)

    def on_metadata(bind: str | None, found: ModelTarget) -> None:
        chosen = model_target_for(metadata, bind, found)
        if chosen is not None and bind not in models:
            models[bind] = builder.submit(build_model, server, chosen, prepare)

    try:
        # Failed downgrades and re-upgrades are survived inside one walk. Another walk runs only when an
        # upgrade fails with rows in the tables (to tell whether the rows are the cause), or when MySQL
        # could not undo a failed move (it resumes after that revision): a bounded number of times.
        while True:
            walk = Walk(
                seed=True,
                unseeded=unseeded,
                skip_cycle=skip,
                replay_through=replay,
                verdicts={check: Verdict(check) for check in WALK_CHECKS},
                failed_downgrades=failed_downgrades,
                failed_reupgrades=failed_reupgrades,
                only_in_one_command=only_in_one_command,
                progress=progress,
            )
            try:
                database = fresh_database(server, prepare)
            except PrepareFailed as exc:
                blocked = _told_once(verdicts, str(exc), engine)
                break
            try:
                program = walk_program(project, walk, options, reader, supply, on_metadata, engine, metadata)
                outcome = drive(project, database.url, program, server, observer)
            finally:
                database.drop()
            walk.outcome = outcome
            report.walks += 1
            for move, _seconds in outcome.timings:
                reach.record(move, walk.seed)
            stops.extend(walk.stops)
            claims.extend(claim for claim in walk.claims if claim not in claims)
            for rev, facts in walk.facts.items():  # a rebuilt walk does not run again what an earlier one did
                report.facts.setdefault(rev, facts)
            record_warning(report.warnings, outcome.warnings)
            for bind, found in walk.metadata.items():
                walk_metadata.setdefault(bind, found)
            if not report.upgrade_seconds:
                for move, seconds in outcome.timings:
                    if move.phase == "upgrade":
                        report.upgrade_seconds[move.revision] = seconds
            walked.update(move.revision for move, _seconds in outcome.timings if move.phase in ("upgrade", "replay"))
            move = outcome.failed_move
            if pending_data_failure is not None and (move is None or move != pending_data_failure):
                # the empty tables got past it: the rows were the cause (told before what the walk found after it)
                verdicts[DATA].problem(pending_failure_text, pending_failure_error)
                pending_data_failure = None
            for check, verdict in walk.verdicts.items():
                for problem in verdict.problems:
                    verdicts[check].problem(problem)
                for note in verdict.notes:
                    verdicts[check].note(note)
            for state in walk.seed_states:
                coverage.merge(state.coverage)
                for problem in state.problems.values():
                    verdicts[DATA].note(problem + "; supply rows with the pytest_migrations_rows hook")
                for error in state.hook_errors.values():
                    verdicts[DATA].problem(error)
            for bind, snapshot in walk.heads.items():  # per bind: a later walk may get a bind further
                heads.setdefault(bind, snapshot)
            for bind, view in walk.autogenerate.items():
                autogenerate.setdefault(bind, view)

            if outcome.completed:
                break
            if outcome.restart_after is not None:
                replay = outcome.restart_after
                verdicts[STEPWISE].note(
                    f"after {replay} ({outcome.restart_reason}), a fresh database was brought to {replay} with plain "
                    "upgrades, and the checks went on from there"
                )
                continue
            error = outcome.error
            assert error is not None
            if outcome.error_in == "env":
                blocked = _told_once(verdicts, env_failure(project, engine, error), engine, error)
                break
            if outcome.error_in == "check" or move is None:
                _told_once(verdicts, between_moves_failure(engine, error), engine, error)
                break
            if move.phase == "upgrade" and move.revision != unseeded:
                # Were the rows the cause? The next walk is brought to its parent with plain upgrades, runs it on
                # empty tables, and seeds again after it: the data check goes on checking what follows.
                pending_data_failure = move
                pending_failure_text = step_failure(project, engine, move, error, with_rows=True, start=options.start)
                pending_failure_error = error
                unseeded = move.revision
                position = order.index(move.revision)
                replay = order[position - 1] if position else None
                continue
            if pending_data_failure is not None:  # failed at the same step without rows: not the data's fault
                verdicts[DATA].problem(
                    f"not checked from {move.revision} on: its upgrade fails without seeded rows too, so the rows "
                    f"are not the cause (see {UPGRADE}[{engine}])."
                )
                pending_data_failure = None
            verdicts[PHASE_OWNER[move.phase]].problem(
                _failure(project, engine, walk, move, error, options.start), error
            )
            if move.phase in ("upgrade", "replay"):
                on = "" if move.bind is None else f" [bind {move.bind or 'default'}]"
                report.facts.setdefault(move.revision + on, {"upgrade": False})  # the move ran, and failed
                blocked = f"not checked: the upgrade to {move.revision} fails (see {UPGRADE}[{engine}])."
                for check in (STEPWISE, DOWNGRADE, ROUNDTRIP, MODEL, DATA):
                    if not verdicts[check].problems:
                        verdicts[check].problem(blocked)
            break
    finally:
        builder.shutdown(wait=True)  # its database is dropped even when the walk was interrupted

    if progress is not None:
        progress.done(engine)
    fresh = lambda: fresh_database(server, prepare)  # noqa: E731
    for claim in confirm(project, server, claims, fresh, []):
        if claim.text not in verdicts[claim.check].problems:
            continue
        verdicts[claim.check].problems.remove(claim.text)
        seed_rows = lambda url, rev: seed_database(url, rev, options)  # noqa: E731
        if claim.rows_text and fails_with_rows(project, server, claim, fresh, [], seed_rows):
            # Plain Alembic fails so too, once rows are in the tables: a data finding, with the commands that show it.
            tool = "flask db" if project.config_factory is not None else "alembic"
            verdicts[DATA].problem(with_rows_by_hand(claim.rows_text, claim, tool))
        else:  # not the user's failure: the plugin's problem, said so
            report.warnings.append(mismatch_warning(claim, engine))
    if options.upgrade_only:
        # From create_all, every revision is reached by first taking it down: nothing is, then.
        for check in DOWNGRADE_CHECKS if options.start == "base" else (*DOWNGRADE_CHECKS, UPGRADE, DATA):
            verdicts[
                check
            ].skip_reason = "migrations_irreversible = * declares the history upgrade-only: no downgrade is attempted"
    if blocked:
        stops.append(blocked)
    reach.judge(verdicts, stops[0] if stops else f"the walk did not get there (see the other failures on {engine})")
    report.reach = reach.as_record()
    if not walk_metadata:
        walk_metadata = {None: None}
    if not verdicts[MODEL].problems:  # else the walk gave the verdict (env.py failed, or an upgrade did)
        for bind, found in walk_metadata.items():
            wanted = model_metadata(metadata, bind, found) is not None
            build = models[bind].result() if bind in models else None
            why = blocked or (f"not checked: {stops[0]}" if stops else None)
            model_verdict(
                verdicts[MODEL],
                heads.get(bind),
                wanted,
                build,
                bind,
                options,
                why,
                bool(project.flask_binds),
                autogenerate.get(bind),
            )
    report.observations = observer.steps
    if options.volume and not blocked:
        at_volume = observer_for(engine, project, options.lock_threshold, dict(options.table_rows))
        stopped = run_volume_walk(project, server, prepare, at_volume, options.volume, options.seed)
        for step in at_volume.steps:
            step.volume = options.volume
        report.observations += at_volume.steps
        report.volume_note = stopped
    mark_allowed(report.observations, options)
    if options.forbid:
        verdicts[LOCKS] = locks_verdict(report.observations, options, order, engine)
    report.walked = len(walked)
    if coverage.tables:
        report.coverage = coverage.as_record()
    report.seconds = time.perf_counter() - started
    return report


def seed_database(url: Any, revision: str, options: CheckOptions) -> None:
    """Rows in every table of the database at `url`, as the walk seeds them (for replay with rows)."""
    engine = compat.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            snapshot = schemas.SchemaReader().snapshot(conn)
            state = seeding.SeedState(seed=options.seed, rows_per_table=options.rows_per_table)
            seeding.seed_tables(conn, snapshot, state, revision, None)
    finally:
        engine.dispose()


def _failure(project: Project, engine: str, walk: Walk, move: Move, error: BaseException, start: str) -> str:
    """A move that ended the walk; the same cause told earlier in the walk is pointed at, not told again."""
    on = "" if move.bind is None else f" [bind {move.bind or 'default'}]"
    if move.phase == "roundtrip" and move.revision in walk.only_in_one_command:
        return (
            f"the upgrade to {move.revision}{on} fails in a command of its own (see {UPGRADE}[{engine}]); "
            "base -> head stops there."
        )
    if move.phase == "roundtrip" and move.revision in walk.failed_reupgrades:
        return (
            f"the upgrade to {move.revision}{on} fails again after its downgrade (see {STEPWISE}[{engine}]); "
            "base -> head stops there."
        )
    return step_failure(project, engine, move, error, with_rows=False, start=start)


def _told_once(verdicts: dict[str, Verdict], text: str, engine: str, error: BaseException | None = None) -> str:
    """A cause that stops every check: test_upgrade tells it, the others point there. Returns the pointer."""
    pointer = f"not checked: see {UPGRADE}[{engine}]."
    for check, verdict in verdicts.items():
        if check == UPGRADE:
            verdict.problem(text, error)
        else:
            verdict.problem(pointer)
    return pointer
