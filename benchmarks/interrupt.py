"""How long `pytest --migrations` takes to exit after Ctrl-C or SIGTERM in the middle of a walk.

    python benchmarks/interrupt.py [--size 300] [--engines sqlite postgresql mysql] [--repeat 3]

Each run starts `pytest --migrations` on a generated N-revision history, waits for the
first progress line that says the walk is past revision N/3 (progress is asked for every
0.2 s), sends the signal, and times how long the process takes to exit. The figure is
the time from the signal to the exit, throwaway databases dropped included; the issue's
bound is 2 s. Timed here and not in the suite: a timed assertion on a shared machine is
a flaky test.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from run import ENGINES, child_env, plugin_cmd, project_for

PROGRESS = re.compile(r"pytest-migrations: (\w+): \w+ revision (\d+)/(\d+)")


def one_run(project: Path, engine: str, signum: int) -> tuple[float, int, str]:
    """(seconds from the signal to the exit, exit code, revision reached) of one interrupted run."""
    env = dict(child_env(), PYTEST_MIGRATIONS_PROGRESS_SECONDS="0.2")
    command = plugin_cmd(engine)
    process = subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    reached = ""
    assert process.stdout is not None
    for line in process.stdout:
        match = PROGRESS.search(line)
        if match and int(match.group(2)) * 3 >= int(match.group(3)):
            reached = f"{match.group(2)}/{match.group(3)}"
            break
    else:
        process.wait()
        raise SystemExit(f"{engine}: the run ended before its walk was a third done (exit {process.returncode})")
    sent = time.perf_counter()
    process.send_signal(signum)
    process.stdout.read()
    code = process.wait()
    return time.perf_counter() - sent, code, reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    project = project_for(args.size, args.seed)
    for engine in args.engines:
        for name, signum in (("SIGINT", signal.SIGINT), ("SIGTERM", signal.SIGTERM)):
            runs = [one_run(project, engine, signum) for _ in range(args.repeat)]
            seconds = [round(run[0], 2) for run in runs]
            codes = sorted({run[1] for run in runs})
            print(
                f"{engine:10} {name:7} exit after {statistics.median(seconds):.2f} s median "
                f"(runs {seconds}, exit codes {codes}, signalled at {[run[2] for run in runs]})"
            )
    return 0


if __name__ == "__main__":
    os.chdir(Path(__file__).parent)
    sys.exit(main())
