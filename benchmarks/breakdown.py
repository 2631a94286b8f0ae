"""Real-time breakdown of one plugin run: migration moves by phase against the checks between them.

    python benchmarks/breakdown.py [--size 200] [--engines sqlite postgresql mysql]

cProfile (benchmarks/profile.py) slows Python down but not the database, so it overstates
Python's share. This runs `pytest --migrations` in-process on the generated N-revision project
(generate it first with run.py or generate.py) with plain timers wrapped around the walk's parts,
and prints wall-clock seconds: each phase's moves (the time Alembic spends running revisions),
snapshots (fingerprints, reflection), reading rows back, seeding, and the model build in its
thread (which overlaps the walk).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import collections, functools, sys, time
import pytest
from pytest_migrations import schema, seeding
from pytest_migrations.schema import reflect
from pytest_migrations.seeding import generate
from pytest_migrations.checks import engine as checks

totals = collections.defaultdict(float)
counts = collections.Counter()

def timed(owner, name, label):
    original = getattr(owner, name)
    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - started
            counts[label] += 1
    setattr(owner, name, wrapper)

timed(schema.SchemaReader, "snapshot", "snapshots")
timed(schema.SchemaReader, "_fingerprints", "  of which fingerprints")
timed(reflect, "reflect_table", "  of which reflecting changed tables")
timed(seeding, "read_rows", "reading rows back (seeding's read-backs too)")
generate.read_rows = seeding.read_rows  # seeding reads back through its own import
timed(seeding, "seed_tables", "seeding (its own read-backs included)")
timed(checks, "build_model", "model build (thread, overlaps the walk)")
drive = checks.drive

def drive_and_count(*args, **kwargs):
    outcome = drive(*args, **kwargs)
    for move, seconds in outcome.timings:
        label = f"moves: {move.phase} phase, {move.direction}"
        totals[label] += seconds
        counts[label] += 1
    return outcome

checks.drive = drive_and_count
started = time.perf_counter()
code = pytest.main(sys.argv[1:])
wall = time.perf_counter() - started
moves = sum(v for k, v in totals.items() if k.startswith("moves"))
print(f"RESULT pytest.main {wall:.2f}s (exit {code}); moves {moves:.2f}s in all")
order = [k for k in sorted(totals) if k.startswith("moves")] + [
    "snapshots", "  of which fingerprints", "  of which reflecting changed tables",
    "reading rows back (seeding's read-backs too)", "seeding (its own read-backs included)",
    "model build (thread, overlaps the walk)",
]
for label in (k for k in order if k in totals):
    print(f"RESULT {label:55s} {counts[label]:6d} {totals[label]:7.2f}s {1000 * totals[label] / counts[label]:7.2f} ms each")
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql", "mysql"])
    args = parser.parse_args(argv)
    project = HERE / "generated" / f"n{args.size}"
    if not (project / "alembic.ini").exists():
        print(f"{project} does not exist: python benchmarks/generate.py {args.size} {project}", file=sys.stderr)
        return 2
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    for engine in args.engines:
        cmd = [sys.executable, "-c", CHILD, "-p", "pytest_migrations.plugin", "-p", "no:cacheprovider"]
        cmd += ["--migrations", f"--migrations-engines={engine}", "-q"]
        out = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True).stdout
        print(f"## {engine}, N={args.size}")
        print("\n".join(line[len("RESULT ") :] for line in out.splitlines() if line.startswith("RESULT ")))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
