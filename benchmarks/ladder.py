"""What each layer of the checks costs, against the floor: the argument behind the targets issue 6 misses.

    python benchmarks/ladder.py [--size 200] [--engines postgresql mysql] [--repeat 3]

Four processes per round, interleaved, on the generated N-revision project:

- floor: `alembic upgrade head` + `alembic downgrade base` (run.py's floor);
- moves: the plugin's walk with every check between steps switched off, so only its five
  migration moves per revision remain (the stepwise contract: up, down, up again; then head ->
  base -> head for test_downgrade and test_roundtrip), with pytest's start-up and the databases;
- schema: the same plus the schema snapshots and comparisons (every check but test_data_preserved);
- full: `pytest --migrations` as users run it, data check included.

The switches are monkeypatches in the child process, for this measurement only: the plugin has
no option to turn a check off. Each rung's ratio to the floor shows how much of the budget the
contract itself takes before any of our own code between the moves runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import run  # benchmarks/run.py: the same floor, environment and generated projects

CHILD = r"""
import sys
import pytest
from pytest_migrations import schema
from pytest_migrations.checks import engine as checks

rung = sys.argv.pop(1)
if rung in ("moves", "schema"):
    real_walk = checks.Walk

    def walk_without_rows(*args, **kwargs):
        kwargs["seed"] = False
        return real_walk(*args, **kwargs)

    checks.Walk = walk_without_rows
if rung == "moves":
    real_snapshot = schema.SchemaReader.snapshot
    first = {}

    def one_snapshot(self, conn, previous=None, statements=None):
        if "snapshot" not in first:
            first["snapshot"] = real_snapshot(self, conn)
        return first["snapshot"]

    schema.SchemaReader.snapshot = one_snapshot
sys.exit(pytest.main(sys.argv[1:]))
"""

RUNGS = ("moves", "schema", "full")


def rung_run(project: Path, engine: str, rung: str) -> run.Run:
    cmd = [sys.executable, "-c", CHILD, rung, *run.ONLY_OUR_PLUGIN, "--migrations", f"--migrations-engines={engine}"]
    return run.timed([*cmd, "-q"], project, ok=(0, 1))  # with checks off, the model check may fail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql", "mysql"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    project = run.project_for(args.size, args.seed)
    print(f"N={args.size}, medians of {args.repeat} interleaved rounds\n")
    print("| engine | floor s | moves only | + schema checks | + data check (full) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for engine in args.engines:
        jobs = [("floor", lambda e=engine: run.floor_run(project, e))]
        jobs += [(rung, lambda e=engine, r=rung: rung_run(project, e, r)) for rung in RUNGS]
        series = run.interleave(args.repeat, f"{engine} N={args.size}", *jobs)
        floor = statistics.median(r.seconds for r in series["floor"].runs)
        cells = []
        for rung in RUNGS:
            seconds = statistics.median(r.seconds for r in series[rung].runs)
            cells.append(f"{seconds:.2f} s ({seconds / floor:.1f}x)")
        print(f"| {engine} | {floor:.2f} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
