"""What each check reached, and the rule that makes a pass mean something: every promised revision checked.

A check that found nothing wrong but did not get to some of the revisions it promises to check
fails "not checked: ...", naming the first revision it could not reach and why. The one exception
is a range the user declared (`migrations_irreversible`): the pass then says which range it covers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_migrations.checks.verdicts import (
    DATA,
    DOWNGRADE,
    ROUNDTRIP,
    STEPWISE,
    UPGRADE,
    CheckOptions,
    Verdict,
)
from pytest_migrations.walk import Move

# What each check does to a revision, for the summary and the JSON record.
DONE = {
    UPGRADE: "upgraded",
    STEPWISE: "cycled",
    DOWNGRADE: "downgraded",
    ROUNDTRIP: "upgraded again",
    DATA: "data-checked",
}
DOWNGRADE_CHECKS = (STEPWISE, DOWNGRADE, ROUNDTRIP)


@dataclass
class Reach:
    """Per check: the revisions it promises to check (in history order), and those it did."""

    order: list[str]
    promised: dict[str, list[str]]
    start: str = "base"
    declared: dict[str, str] = field(default_factory=dict)  # check -> why its promise is narrower (the user said so)
    reached: dict[str, set[str]] = field(default_factory=lambda: {check: set() for check in DONE})

    @classmethod
    def plan(cls, order: list[str], options: CheckOptions) -> Reach:
        """What the walk promises, given the revisions declared irreversible and where it starts."""
        irreversible = options.irreversible
        # Walking down from head stops at the first revision declared irreversible.
        stop = next((index for index in range(len(order) - 1, -1, -1) if order[index] in irreversible), None)
        above = order[stop + 1 :] if stop is not None else list(order)
        declared = ""
        if stop is not None:
            first = order[stop]
            declared = (
                f"{order[stop + 1]} to head checked; {first} and below not checked: declared irreversible "
                f"(migrations_irreversible)"
                if above
                else "not checked: every revision from head down is declared irreversible (migrations_irreversible)"
            )
        if options.start == "create_all":  # everything is reached from head downwards
            promised = {check: list(above) for check in DONE}
            narrowed = dict.fromkeys(DONE, declared) if declared else {}
        else:
            promised = {
                UPGRADE: list(order),
                DATA: list(order),
                STEPWISE: [rev for rev in order if rev not in irreversible],
                DOWNGRADE: list(above),
                ROUNDTRIP: list(above),
            }
            narrowed = {DOWNGRADE: declared, ROUNDTRIP: declared} if declared else {}
            if irreversible and promised[STEPWISE] != order:
                narrowed[STEPWISE] = (
                    f"the downgrades of {_names(sorted(irreversible, key=order.index))} not attempted: declared irreversible"
                )
        return cls(order, promised, options.start, narrowed)

    def record(self, move: Move, seeded: bool) -> None:
        """A move that ran (passed, or failed and was told): what it reached."""
        if move.record_only:
            return
        rev, phase = move.revision, move.phase
        if phase in ("upgrade", "replay") and move.direction == "upgrade":
            self.reached[UPGRADE].add(rev)
            if self.start == "create_all":
                self.reached[ROUNDTRIP].add(rev)
            elif seeded and phase == "upgrade":
                self.reached[DATA].add(rev)
        elif phase == "stepwise":
            self.reached[STEPWISE].add(rev)
            if self.start == "create_all" and seeded and move.direction == "upgrade":
                self.reached[DATA].add(rev)
        elif phase == "downgrade" and move.direction == "downgrade":
            self.reached[DOWNGRADE].add(rev)
        elif phase == "roundtrip":
            self.reached[ROUNDTRIP].add(rev)

    def missing(self, check: str) -> list[str]:
        return [rev for rev in self.promised[check] if rev not in self.reached[check]]

    def judge(self, verdicts: dict[str, Verdict], why: str) -> None:
        """Fail each check that found nothing wrong yet left promised revisions unchecked; name declared ranges."""
        for check in DONE:
            verdict = verdicts[check]
            if verdict.skip_reason:
                continue
            if self.declared.get(check):
                verdict.note(self.declared[check])
            missing = self.missing(check)
            if not missing or verdict.problems:
                continue
            verdict.problem(f"not checked: {self.span(check, missing)}: {why}")

    def span(self, check: str, missing: list[str]) -> str:
        """The unchecked revisions, from the first the walk could not reach, in the direction it went."""
        downwards = check in (DOWNGRADE, ROUNDTRIP) or self.start == "create_all"
        first = missing[-1] if downwards else missing[0]
        count = f"{len(missing)} of {len(self.promised[check])} revisions"
        if len(missing) == 1:
            return f"{first} ({count})"
        return f"{first} and the {len(missing) - 1} {'below' if downwards else 'after'} it ({count})"

    def as_record(self) -> dict[str, list[int]]:
        """check -> [revisions reached, revisions promised], for the JSON record and the summary."""
        return {
            check: [len(self.reached[check] & set(self.promised[check])), len(self.promised[check])] for check in DONE
        }


def _names(revisions: list[str]) -> str:
    return ", ".join(revisions[:3]) + (f" and {len(revisions) - 3} more" if len(revisions) > 3 else "")


def describe(record: dict[str, list[int]]) -> str:
    """The summary's line: `upgraded 12/12, cycled 11/12, ...`."""
    return ", ".join(f"{DONE[check]} {done}/{total}" for check, (done, total) in record.items() if check in DONE)
