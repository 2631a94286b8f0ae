"""Reporting: failure messages of the built-in items and the end-of-session summary.

Items attach a small record to `user_properties`; pytest-xdist carries those
to the controller, so a parallel run prints the same summary as a serial one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_migrations.checks import CHECKS, DATA, LOCKS, STEPWISE, EngineReport, Verdict
from pytest_migrations.checks.reach import describe as describe_reach
from pytest_migrations.providers import mask_text
from pytest_migrations.seeding.coverage import describe

PROPERTY = "pytest_migrations"
MAX_NOTES = 5  # per check and engine in the summary; the item's own report section has them all


def failure_text(check: str, engine: str, verdict: Verdict) -> str:
    """Notes first, then the problems, so the original database error stays the last line."""
    notes = "".join(f"note: {note}\n" for note in verdict.notes)
    body = "\n\n".join(verdict.problems)
    return mask_text(f"{check}[{engine}] failed:\n{notes}{body}")


def failure_repr(text: str, path: Any) -> Any:
    """A failure's text, carrying its reason where pytest's short test summary looks for one.

    pytest shows `reprcrash.message` after `FAILED node id`; a plain string would show only the
    message's first line, `check[engine] failed:`. Built from pytest's own report classes so that
    pytest-xdist carries it from the workers whole. Where they are missing, the text as it is.
    """
    try:
        from _pytest._code.code import ReprEntryNative, ReprExceptionInfo, ReprFileLocation, ReprTraceback
    except ImportError:  # pragma: no cover - present in every pytest this plugin supports
        return text
    lines = text.splitlines()
    reason = next((line for line in lines[1:] if line.strip() and not line.startswith("note: ")), lines[0])
    entry = ReprEntryNative([text if text.endswith("\n") else text + "\n"])
    return ReprExceptionInfo(
        reprtraceback=ReprTraceback(reprentries=[entry], extraline=None, style="native"),
        reprcrash=ReprFileLocation(path=str(path), lineno=0, message=reason),
    )


def header_lines(session: Any) -> list[str]:
    """The project and, per engine, where its server will come from.

    Servers open lazily, in each xdist worker, when an engine's first item runs: before the run only
    the plan is known (a URL, an image, the order of fallbacks). What actually ran, with the server's
    version, is in the summary, which the workers' item records reach.
    """
    from pytest_migrations.providers import plan

    settings = session.settings
    lines = [f"migrations: {session.project.config_path} on {', '.join(settings.engines)}"]
    lines.extend(f"migrations: {engine} from {mask_text(plan(engine, settings))}" for engine in settings.engines)
    return lines


def item_record(
    check: str,
    engine: str,
    report: EngineReport | None,
    notes: list[str] | None = None,
    server: str | None = None,
    observations: list[dict[str, Any]] | None = None,
) -> str:
    """The item's user property: JSON, as junit XML and other report consumers can read it."""
    record: dict[str, Any] = {"check": check, "engine": engine, "notes": [mask_text(note) for note in notes or []]}
    if server:
        record["server"] = mask_text(server)
    if observations:  # once per engine, with the first of its items that runs (session.take_observations)
        record["observations"] = observations
    if report is not None:
        slowest = sorted(report.upgrade_seconds.items(), key=lambda kv: kv[1], reverse=True)[:3]
        record.update(
            revisions=report.revisions,
            walked=report.walked,
            seconds=round(report.seconds, 3),
            walks=report.walks,
            slowest=[[rev, round(sec, 4)] for rev, sec in slowest],
        )
        if report.coverage is not None:
            record["coverage"] = report.coverage
        if report.reach:
            record["reach"] = report.reach
        if report.volume_note:
            record["volume_note"] = mask_text(report.volume_note)
        if check == STEPWISE and report.facts:  # per revision: once, with the check that runs every move
            record["facts"] = report.facts
    return json.dumps(record)


@dataclass(eq=False)  # registered as a pytest plugin, so it must stay hashable
class Summary:
    outcomes: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, dict[str, list[str]]] = field(default_factory=lambda: defaultdict(dict))
    servers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # several under some xdist modes
    observations: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    report_path: Any = None  # --migrations-report
    report_md_path: Any = None  # --migrations-report-md

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, text in report.user_properties:
            if key != PROPERTY:
                continue
            value = json.loads(text)
            engine, check = value["engine"], value["check"]
            if report.when == "call" or report.outcome != "passed":
                self.outcomes[engine][check] = report.outcome
            if value.get("notes") and report.when == "call" and report.outcome == "passed":  # a failure's are in it
                self.notes[engine][check] = value["notes"]
            if "revisions" in value:
                self.stats[engine] = value
            if value.get("server"):
                self.servers[engine].add(value["server"])
            if value.get("observations") and report.when == "call":  # every phase's report carries the record
                self.observations[engine].extend(value["observations"])

    def lines(self) -> list[str]:
        out: list[str] = []
        for engine in sorted(self.outcomes):
            stats = self.stats.get(engine, {})
            head = f"{engine}:"
            if stats:
                total, walked = stats["revisions"], stats.get("walked", stats["revisions"])
                revisions = f"{total} revision{'s' if total != 1 else ''}"
                walks = f"{stats['walks']} walk{'s' if stats['walks'] != 1 else ''}"
                if walked == total:
                    head += f" {revisions} walked in {stats['seconds']:.2f}s ({walks})"
                elif walked:
                    head += f" {walked} of {revisions} walked in {stats['seconds']:.2f}s ({walks})"
                else:
                    head += f" no revision walked, of {total}"
            out.append(head)
            out.extend(f"  server  {server}" for server in sorted(self.servers.get(engine, ())))
            by_outcome: dict[str, list[str]] = defaultdict(list)
            for check in (*CHECKS, LOCKS):
                if check in self.outcomes[engine]:
                    by_outcome[self.outcomes[engine][check]].append(check)
            for outcome in ("failed", "passed", "skipped"):
                if by_outcome.get(outcome):
                    out.append(f"  {outcome:<8}{', '.join(by_outcome[outcome])}")
            if stats.get("reach"):
                out.append(f"  revisions checked: {describe_reach(stats['reach'])}")
            if stats.get("coverage") and DATA in self.outcomes[engine]:  # of the data check, when it ran
                out.append(f"  data coverage: {describe(stats['coverage'])}")
            for check, notes in self.notes[engine].items():
                shown = notes[:MAX_NOTES] + (
                    [f"... and {len(notes) - MAX_NOTES} more (-rP shows them all)"] if len(notes) > MAX_NOTES else []
                )
                out.extend(f"  note ({check}): {note}".replace("\n", "\n    ") for note in shown)
            if stats.get("slowest"):
                out.append(
                    "  slowest revisions: " + ", ".join(f"{rev} {sec * 1000:.0f}ms" for rev, sec in stats["slowest"])
                )
            out.extend(locks_lines(self.observations.get(engine, [])))
            if stats.get("volume_note"):
                out.append(f"  note: {stats['volume_note']}")
        return out

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int = 0) -> None:
        from pytest_migrations import report_files

        written = report_files.write_reports(self, exitstatus)
        for line in report_files.annotations(self):
            terminalreporter.write_line(line)
        lines = self.lines() + [f"report written to {path}" for path in written]
        if exitstatus == 2:  # pytest.ExitCode.INTERRUPTED: Ctrl-C or SIGTERM
            lines.insert(
                0,
                "interrupted: only the checks listed below ran to the end; the others did not, and count as neither "
                "passed nor failed",
            )
        if lines:
            terminalreporter.write_sep("=", "pytest-migrations summary")
            for line in lines:
                terminalreporter.write_line(line)


MAX_LOCK_LINES = 5


def locks_lines(steps: list[dict[str, Any]]) -> list[str]:
    """The revisions that take blocking locks on tables holding rows (longest first), the findings by id, and
    the slowest upgrades of the --migrations-volume walk."""
    out = []
    at_volume = sorted((step for step in steps if step.get("volume")), key=lambda s: s["seconds"], reverse=True)
    if at_volume:
        out.append(
            f"  at {at_volume[0]['volume']} rows per table, slowest upgrades: "
            + ", ".join(f"{step['revision']} {step['seconds'] * 1000:.0f}ms" for step in at_volume[:3])
        )
    return out + _held_lines(steps)


def _held_lines(steps: list[dict[str, Any]]) -> list[str]:
    held = [
        (lock["seconds"], step, lock)
        for step in steps
        for lock in step["blocking_locks"]
        if lock["table"] in step["tables_before"]
    ]
    if not held:
        return []
    held.sort(key=lambda entry: entry[0], reverse=True)
    out = [f"  blocking locks on tables holding rows: {len(held)} (longest first)"]
    for seconds, step, lock in held[:MAX_LOCK_LINES]:
        line = f":{lock['line']}" if lock.get("line") else ""
        out.append(
            f"    {step['direction']} {step['revision']}{_at_volume(step)}: {lock['mode']} on {lock['table']} for "
            f"{seconds * 1000:.0f} ms, taken by {_clip(lock['sql'])} ({step['file']}{line})"
        )
    if len(held) > MAX_LOCK_LINES:
        out.append(f"    ... and {len(held) - MAX_LOCK_LINES} more (--migrations-report PATH writes them all)")
    counts: dict[str, int] = defaultdict(int)
    for step in steps:
        for finding in step["findings"] if not step.get("volume") else ():  # the volume walk sees the same ones
            counts[finding["id"]] += 1
    if counts:
        out.append("  findings: " + ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items())))
    return out


def _at_volume(step: dict[str, Any]) -> str:
    return f" (at {step['volume']} rows)" if step.get("volume") else ""


def _clip(sql: str, width: int = 70) -> str:
    return sql if len(sql) <= width else sql[: width - 3] + "..."
