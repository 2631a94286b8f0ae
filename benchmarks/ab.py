"""Before/after: time `pytest --migrations` from two versions of the plugin, interleaved.

    python benchmarks/ab.py REF [--against worktree] [--sizes 50 200] [--engines postgresql] [--repeat 5]
    python benchmarks/ab.py REF --project examples/blog --engines sqlite postgresql mysql

This machine's speed drifts by a third within minutes, so two separate run.py invocations
cannot show a 5% change. Here every round runs both versions back to back on the same
generated project, and the table gives each side's median and the median of the per-round
ratios (after / before), which cancels most of the drift.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import run  # benchmarks/run.py: the same children, environment and frozen plugin copies

HERE = Path(__file__).resolve().parent


def plugin_at(ref: str) -> dict[str, str]:
    """Where `ref`'s copy of the plugin lives (PYTHONPATH entry), freezing it first if needed."""
    run.PLUGIN.update({"path": "", "describe": "the working tree (editable install)"})
    run.use_plugin_ref(ref)
    return dict(run.PLUGIN)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="git ref of the 'before' plugin, or 'worktree'")
    parser.add_argument("--against", default="worktree", help="git ref of the 'after' plugin (default: worktree)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--engines", nargs="+", default=["postgresql"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--project", type=Path, help="time this project (e.g. examples/blog) instead of generated ones")
    args = parser.parse_args(argv)

    sides = {"before": plugin_at(args.before), "after": plugin_at(args.against)}
    print(f"before: {sides['before']['describe']}\nafter:  {sides['after']['describe']}\n")
    print("| engine | N | before s | after s | after/before (median of rounds) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    projects = (
        [(str(args.project), args.project.resolve())]
        if args.project
        else [(str(size), run.project_for(size, args.seed)) for size in args.sizes]
    )
    for size, project in projects:
        for engine in args.engines:
            times: dict[str, list[float]] = {"before": [], "after": []}
            for _ in range(args.repeat):
                for side, plugin in sides.items():
                    run.PLUGIN.update(plugin)
                    times[side].append(run.plugin_run(project, engine).seconds)
            ratios = [a / b for a, b in zip(times["after"], times["before"], strict=True)]
            print(
                f"| {engine} | {size} | {statistics.median(times['before']):.2f} | "
                f"{statistics.median(times['after']):.2f} | {statistics.median(ratios):.3f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
