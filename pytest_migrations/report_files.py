"""The report files (--migrations-report JSON, --migrations-report-md markdown) and GitHub annotations.

Written by the controlling process from the items' records (reporting.Summary), so a run under
pytest-xdist writes the same files as a serial one. The JSON shape is versioned and described by
`report.schema.json` beside this module (README, "The report").
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SCHEMA = "pytest-migrations-report"
VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("report.schema.json")


def report_document(summary: Any, exitstatus: int) -> dict[str, Any]:
    engines: dict[str, Any] = {}
    for engine in sorted(set(summary.outcomes) | set(summary.observations)):
        stats = summary.stats.get(engine, {})
        engines[engine] = {
            "servers": sorted(summary.servers.get(engine, ())),
            "revisions": stats.get("revisions"),
            "walked": stats.get("walked"),
            "seconds": stats.get("seconds"),
            "checks": dict(sorted(summary.outcomes.get(engine, {}).items())),
            "coverage": stats.get("coverage"),
            "reach": stats.get("reach"),
            "steps": summary.observations.get(engine, []),
        }
    return {"schema": SCHEMA, "version": VERSION, "interrupted": exitstatus == 2, "engines": engines}


def write_reports(summary: Any, exitstatus: int) -> list[Path]:
    """Write the files asked for; the paths written."""
    written = []
    if summary.report_path is not None:
        document = report_document(summary, exitstatus)
        summary.report_path.parent.mkdir(parents=True, exist_ok=True)
        summary.report_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        written.append(summary.report_path)
    if summary.report_md_path is not None:
        summary.report_md_path.parent.mkdir(parents=True, exist_ok=True)
        summary.report_md_path.write_text(markdown(summary), encoding="utf-8")
        written.append(summary.report_md_path)
    return written


def _findings(summary: Any) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [
        (engine, step, finding)
        for engine in sorted(summary.observations)
        for step in summary.observations[engine]
        for finding in step["findings"]
    ]


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def markdown(summary: Any) -> str:
    """A table for a pull-request comment: the findings, then the blocking locks on tables holding rows."""
    lines = ["## pytest-migrations: what these migrations do to a busy database", ""]
    found = _findings(summary)
    if not found:
        lines.append("No findings.")
    else:
        lines += [
            "| finding | engine | revision | table | lock | statement | safer way |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for engine, step, finding in found:
            where = f"{Path(step['file']).name}:{finding['line']}" if finding.get("line") else Path(step["file"]).name
            accepted = " (allowed)" if finding.get("allowed") else ""
            lines.append(
                f"| `{finding['id']}`{accepted} | {engine} {_cell(finding['server_version'])} | "
                f"{finding['direction']} `{finding['revision']}` ({_cell(where)}) | {_cell(finding['table'])} | "
                f"{_cell(finding['lock'])} | `{_cell(finding['statement'][:120])}` | {_cell(finding['safer'])} |"
            )
    held = [
        (engine, step, lock)
        for engine in sorted(summary.observations)
        for step in summary.observations[engine]
        for lock in step["blocking_locks"]
        if lock["table"] in step["tables_before"]
    ]
    if held:
        lines += [
            "",
            "| engine | revision | table | lock | held (ms) | taken by |",
            "| --- | --- | --- | --- | ---: | --- |",
        ]
        for engine, step, lock in sorted(held, key=lambda entry: entry[2]["seconds"], reverse=True):
            statement = lock["sql"]
            lines.append(
                f"| {engine} | {step['direction']} `{step['revision']}` | {lock['table']} | {lock['mode']} | "
                f"{lock['seconds'] * 1000:.1f} | `{_cell(statement[:120])}` |"
            )
    return "\n".join(lines) + "\n"


def annotations(summary: Any) -> list[str]:
    """GitHub Actions workflow commands for each finding (warning) and failed check (error), under GITHUB_ACTIONS."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return []
    out = []
    for engine, step, finding in _findings(summary):
        if finding.get("allowed"):
            continue
        line = f",line={finding['line']}" if finding.get("line") else ""
        message = f"{finding['what']} ({engine}). Safer: {finding['safer']}"
        out.append(f"::warning file={_escape(step['file'], True)}{line},title={finding['id']}::{_escape(message)}")
    for engine, outcomes in sorted(summary.outcomes.items()):
        for check, outcome in sorted(outcomes.items()):
            if outcome == "failed":
                out.append(f"::error title={check}[{engine}]::{check}[{engine}] failed (see the test output)")
    return out


def _escape(text: str, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text
