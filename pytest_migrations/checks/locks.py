"""test_locks: the findings of the observed walk that the project forbids (migrations_forbid).

A finding is accepted where the project says so: `# pytest-migrations: allow[ID]` on the statement's
line (or on a comment line right above it), the same in the revision's docstring for the whole
revision, or `migrations_allow = REV:ID` in the ini file.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pytest_migrations.checks.verdicts import LOCKS, UPGRADE, CheckOptions, Verdict

_ALLOW = re.compile(r"pytest-migrations:\s*allow\[([\w\s,*-]+)\]")


@lru_cache(maxsize=256)
def _source(path: str) -> tuple[list[str], str]:
    """(lines, module docstring) of a revision file."""
    import ast

    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError:
        return [], ""
    try:
        docstring = ast.get_docstring(ast.parse(text)) or ""
    except SyntaxError:
        docstring = ""
    return text.splitlines(), docstring


def _ids(text: str) -> set[str]:
    return {part.strip() for match in _ALLOW.finditer(text) for part in match.group(1).split(",") if part.strip()}


def allowed_by(finding: Any, options: CheckOptions) -> str:
    """Why `finding` is accepted ("" if it is not)."""
    if (finding.revision, finding.id) in options.allow:
        return f"migrations_allow = {finding.revision}:{finding.id}"
    lines, docstring = _source(finding.path)
    if {finding.id, "*"} & _ids(docstring):
        return "allowed in the revision's docstring"
    if finding.line and 0 < finding.line <= len(lines):
        near = [lines[finding.line - 1]]
        if finding.line > 1 and lines[finding.line - 2].strip().startswith("#"):
            near.append(lines[finding.line - 2])
        if {finding.id, "*"} & _ids("\n".join(near)):
            return f"allowed by the comment at line {finding.line}"
    return ""


def mark_allowed(steps: list[Any], options: CheckOptions) -> None:
    for step in steps:
        for finding in step.findings:
            finding.allowed = allowed_by(finding, options)


def locks_verdict(steps: list[Any], options: CheckOptions, order: list[str], engine: str) -> Verdict:
    """Fails naming each forbidden finding; never passes over a revision whose upgrade was not observed."""
    verdict = Verdict(LOCKS)
    observed = {step.revision for step in steps if step.direction == "upgrade" and step.complete and not step.volume}
    missing = [rev for rev in order if rev not in observed]
    told: set[tuple[Any, ...]] = set()  # the checks' walk and the volume walk may both see one
    for step in steps:
        if step.direction != "upgrade":  # the deploy's path; a downgrade's findings are in the report
            continue
        for finding in step.findings:
            key = (finding.id, finding.revision, finding.table, finding.line, finding.statement)
            if finding.id not in options.forbid or key in told:
                continue
            told.add(key)
            if finding.allowed:
                verdict.note(f"{finding.text()} ({finding.allowed})")
                continue
            verdict.problem(
                f"{finding.text()}\nIf it is intended, accept it with `# pytest-migrations: allow[{finding.id}]` on "
                f"the statement (or migrations_allow = {finding.revision}:{finding.id})."
            )
    if missing:
        verdict.problem(
            f"not checked: {len(missing)} of {len(order)} revisions were not observed from {missing[0]} on "
            f"(see {UPGRADE}[{engine}])"
        )
    return verdict
