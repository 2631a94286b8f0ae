"""A history with failing downgrades against the same history without them: what the failures cost.

    python benchmarks/broken.py [--size 50] [--broken 10] [--engines sqlite postgresql mysql] [--repeat 3]
                                [--before REF]

The same generated history twice, once clean and once with `--broken K` downgrades that fail
(half raise NotImplementedError, half run SQL the database refuses). Each round runs
`pytest --migrations` on both, back to back, so the machine's drift cancels in the ratio. With
`--before REF`, the plugin at REF runs the broken history too (the walk before it survived
failures restarted once per failing revision).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

import run  # benchmarks/run.py: the same children, environment and frozen plugin copies

HERE = Path(__file__).resolve().parent
WALKS = re.compile(r"^(\w+): \d+ revisions? walked in [\d.]+s \((\d+) walks?\)", re.M)


def project(size: int, broken: int, seed: int) -> Path:
    path = run.GENERATED / f"n{size}-broken{broken}"
    cmd = [
        sys.executable,
        str(HERE / "generate.py"),
        str(size),
        str(path),
        "--seed",
        str(seed),
        "--broken",
        str(broken),
    ]
    subprocess.run(cmd, check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(path)], check=True)
    return path


def timed(path: Path, engine: str) -> tuple[float, str]:
    result = run.timed([*run.plugin_cmd(engine), "-q"], path, ok=(0, 1))
    walks = {m.group(1): m.group(2) for m in WALKS.finditer(result.output)}
    return result.seconds, walks.get(engine, "?")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50)
    parser.add_argument("--broken", type=int, default=10)
    parser.add_argument("--engines", nargs="+", choices=run.ENGINES, default=list(run.ENGINES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--before", help="git ref of an earlier plugin to run on the broken history too")
    args = parser.parse_args(argv)

    clean, broken = project(args.size, 0, args.seed), project(args.size, args.broken, args.seed)
    sides = {"now": dict(run.PLUGIN)}
    if args.before:
        run.use_plugin_ref(args.before)
        sides["before"] = dict(run.PLUGIN)
        run.PLUGIN.update(sides["now"])
    print(f"N={args.size}, {args.broken} failing downgrades; medians of {args.repeat} interleaved rounds\n")
    head = "| engine | clean s | broken s | broken/clean | walks |"
    rule = "| --- | ---: | ---: | ---: | ---: |"
    if args.before:
        head += f" broken, {args.before} s | walks |"
        rule += " ---: | ---: |"
    print(head + "\n" + rule)
    for engine in args.engines:
        times: dict[str, list[float]] = {"clean": [], "broken": [], "before": []}
        walks: dict[str, str] = {}
        for _ in range(args.repeat):
            run.PLUGIN.update(sides["now"])
            seconds, _walks = timed(clean, engine)
            times["clean"].append(seconds)
            seconds, walks["broken"] = timed(broken, engine)
            times["broken"].append(seconds)
            if args.before:
                run.PLUGIN.update(sides["before"])
                seconds, walks["before"] = timed(broken, engine)
                times["before"].append(seconds)
        ratios = [b / c for b, c in zip(times["broken"], times["clean"], strict=True)]
        row = (
            f"| {engine} | {statistics.median(times['clean']):.2f} | {statistics.median(times['broken']):.2f} | "
            f"{statistics.median(ratios):.2f} | {walks['broken']} |"
        )
        if args.before:
            row += f" {statistics.median(times['before']):.2f} | {walks['before']} |"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
