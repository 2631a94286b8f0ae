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
