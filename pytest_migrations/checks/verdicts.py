"""The checks' names, their verdicts, and what they were told."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

from pytest_migrations.project import Project

SINGLE_HEAD = "test_single_head"

UPGRADE = "test_upgrade"

DOWNGRADE = "test_downgrade"

ROUNDTRIP = "test_roundtrip"

STEPWISE = "test_stepwise_roundtrip"

MODEL = "test_model_matches_migrations"

DATA = "test_data_preserved"

CHECKS = (SINGLE_HEAD, UPGRADE, DOWNGRADE, ROUNDTRIP, STEPWISE, MODEL, DATA)

LOCKS = "test_locks"  # opt-in: collected when migrations_forbid names finding ids

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
    tracebacks: list[str] = field(default_factory=list)  # of the original errors: shown with --tb=long

    def problem(self, text: str, error: BaseException | None = None) -> None:
        if text not in self.problems:
            self.problems.append(text)
        if error is not None:
            formatted = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            if formatted not in self.tracebacks:
                self.tracebacks.append(formatted)

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
    walked: int = 0  # revisions whose first upgrade ran: fewer when the walk stopped early
    seconds: float = 0.0
    warnings: list[Any] = field(default_factory=list)  # raised by env.py and revisions, for pytest's summary
    coverage: dict[str, Any] | None = None  # what the data check saw (seeding.Coverage.as_record)
    reach: dict[str, list[int]] = field(default_factory=dict)  # check -> [revisions checked, promised] (checks.reach)
    facts: dict[str, dict[str, bool]] = field(default_factory=dict)  # per revision, what its moves did (program.Walk)
    observations: list[Any] = field(default_factory=list)  # observe.StepObservation, per revision and direction
    volume_note: str | None = None  # why the --migrations-volume walk stopped early


@dataclass(frozen=True)
class CheckOptions:
    """What the checks were told: the parts of Settings they need, already resolved to revision ids."""

    irreversible: frozenset[str] = frozenset()
    allow_data_loss: frozenset[str] = frozenset()
    ignore_rules: tuple[str, ...] = ()
    rows_per_table: int = 3
    seed: int = 0
    start: str = "base"  # migrations_start: "base", or "create_all" (the model's tables, stamped at head)
    upgrade_only: bool = False  # migrations_irreversible = *: no downgrade is attempted anywhere
    model_strict: frozenset[str] = frozenset()  # model differences that fail though autogenerate skips them
    forbid: frozenset[str] = frozenset()  # finding ids that fail test_locks (migrations_forbid)
    allow: frozenset[tuple[str, str]] = frozenset()  # (revision id, finding id) accepted (migrations_allow)
    lock_threshold: float = 0.1  # seconds of ACCESS EXCLUSIVE on rows that make a finding
    table_rows: tuple[tuple[str, int], ...] = ()  # production row counts the findings' times are scaled to
    volume: int = 0  # --migrations-volume: rows per table of the walk that times each upgrade (0: none)


def single_head_verdict(project: Project, expected_heads: int | None = None) -> Verdict:
    """One head, or several by design: each on a branch of its own (its branch_labels), or as many as
    migrations_heads declares. Any other second head is a fork to merge."""
    verdict = Verdict(SINGLE_HEAD)
    heads = project.heads
    if not heads:
        verdict.problem(f"the history in {project.script.versions} has no revisions.")
        return verdict
    if len(heads) == 1:
        return verdict
    labels = {head: _branch_labels(project, head) for head in heads}
    own = {head: labels[head] - set().union(*(labels[o] for o in heads if o != head)) for head in heads}
    named = ", ".join(f"{head} ({', '.join(sorted(labels[head])) or 'no branch label'})" for head in heads)
    if expected_heads is not None and len(heads) == expected_heads:
        verdict.note(
            f"{len(heads)} heads, as migrations_heads declares: {named}; upgraded together with `upgrade heads`"
        )
        return verdict
    if expected_heads is None and all(own.values()):
        verdict.note(f"{len(heads)} branches by design, each head on a branch of its own: {named}")
        return verdict
    merge = "flask db merge" if project.config_factory is not None else "alembic merge"  # Flask-Migrate's config
    if expected_heads is not None:
        lines = [f"the history has {len(heads)} heads; migrations_heads declares {expected_heads}:"]
    else:
        lines = [f"the history has {len(heads)} heads; it must have exactly one, or one per labelled branch:"]
    lines.extend(f"  {project.by_id[head].describe()}{_labels_text(labels[head])}" for head in heads)
    lines.append(f'Merge them: {merge} -m "merge heads" {" ".join(heads)}')
    if expected_heads is None:
        lines.append(
            "If they are separate branches by design, give each branch its own branch_labels (its first revision's "
            '`branch_labels = ("name",)`), or declare the count: migrations_heads = ' + str(len(heads))
        )
    verdict.problem("\n".join(lines))
    return verdict


def _branch_labels(project: Project, head: str) -> set[str]:
    """The branch labels of a head, its own and those it inherits from the revisions below it."""
    return set(project.script.get_revision(head).branch_labels or ())


def _labels_text(labels: set[str]) -> str:
    return f" on branch {', '.join(sorted(labels))}" if labels else ""
