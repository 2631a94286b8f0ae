"""The whole corpus against plain Alembic: per engine, how many histories' facts differ, and where.

    python benchmarks/corpus.py --seeds 200 --engines sqlite postgresql mysql [--start 0] [--workers 2]
                                [--timeout 300] [--no-rerun] [--out DIR]

Runs tests/test_corpus.py (pytest, at most 2 xdist workers) over seeds START .. START+SEEDS-1 on each
engine: each history is run by plain Alembic one command at a time (tests/oracle.py) and by
`pytest --migrations`, and each case writes its facts and mismatches to a JSON file in DIR. A
mismatching case is run once more, since a mismatch may come from a plugin that is changing under
the run; the summary says whether it came back. A case that hangs past --timeout ends its worker
and is listed as having no result.

The servers are those the suite uses: PYTEST_MIGRATIONS_POSTGRESQL_URL and PYTEST_MIGRATIONS_MYSQL_URL
(by default the local ones).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("sqlite", "postgresql", "mysql")
DEFAULT_URLS = {
    "PYTEST_MIGRATIONS_POSTGRESQL_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
    "PYTEST_MIGRATIONS_MYSQL_URL": "mysql+pymysql://root@127.0.0.1:3306/mysql",
}


def run_cases(seeds: list[int], engines: list[str], out: Path, workers: int, timeout: float, log: Path) -> float:
    """Run tests/test_corpus.py over `seeds` x `engines`, each case's record in `out`; the seconds it took."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **{k: os.environ.get(k) or v for k, v in DEFAULT_URLS.items()}}
    env.update(
        PYTEST_MIGRATIONS_CORPUS_SEEDS=",".join(map(str, seeds)),
        PYTEST_MIGRATIONS_CORPUS_REPORT=str(out),
        PYTEST_MIGRATIONS_CORPUS_TIMEOUT=str(timeout),
    )
    cmd = [sys.executable, "-m", "pytest", "tests/test_corpus.py", "-q", "-p", "no:cacheprovider"]
    cmd += ["-k", " or ".join(engines)]
    if workers > 1:
        cmd += ["-n", str(workers), "--max-worker-restart", str(len(seeds) * len(engines))]
    started = time.perf_counter()
    with log.open("a") as sink:
        sink.write(f"$ {' '.join(cmd)}\n")
        sink.flush()
        subprocess.run(cmd, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, check=False)
    return time.perf_counter() - started


def records(out: Path) -> dict[tuple[int, str], dict]:
    found = {}
    for path in out.glob("*.json"):
        record = json.loads(path.read_text())
        found[record["seed"], record["engine"]] = record
    return found


def differs(record: dict) -> bool:
    return bool(record["mismatches"] or record["unreached"])


def describe(record: dict) -> list[str]:
    if record["oracle"] and not record["plugin"]:  # nothing to compare: the plugin's run itself went wrong
        failed = sorted(name for name, outcome in record.get("plugin_outcomes", {}).items() if outcome != "passed")
        return [f"the plugin's run gave no facts at all (items not passed: {', '.join(failed) or 'none'})"]
    lines = [f"{m['revision']} {m['fact']}: oracle {m['oracle']}, plugin {m['plugin']}" for m in record["mismatches"]]
    for rev in record["unreached"]:
        upgraded = record["oracle"][rev].get("upgrade")
        lines.append(
            f"{rev}: "
            + (
                "upgraded by plain Alembic, never reached by the plugin"
                if upgraded
                else "upgrade fails under plain Alembic, the plugin records no fact of it"
            )
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=60, help="how many histories per engine")
    parser.add_argument("--start", type=int, default=0, help="the first seed")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--workers", type=int, choices=(1, 2), default=2, help="xdist workers (2 at most)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one case may take before it is ended")
    parser.add_argument("--no-rerun", action="store_true", help="do not run mismatching cases a second time")
    parser.add_argument("--out", type=Path, help="folder for the per-case JSON records and the pytest log")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="corpus-"))
    log = out / "pytest.log"
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.start, args.start + args.seeds))
    seconds = run_cases(seeds, args.engines, out / "first", args.workers, args.timeout, log)
    first = records(out / "first")
    print(f"{len(seeds)} seeds x {len(args.engines)} engines in {seconds:.0f}s; records and log in {out}")

    # Run again what differed or gave no record: per engine, only its seeds.
    suspects = defaultdict(list)
    for seed in seeds:
        for engine in args.engines:
            record = first.get((seed, engine))
            if record is None or differs(record):
                suspects[engine].append(seed)
    second: dict[tuple[int, str], dict] = {}
    if suspects and not args.no_rerun:
        for engine, again in suspects.items():
            run_cases(again, [engine], out / "again", args.workers, args.timeout, log)
        second = records(out / "again")

    status = 0
    kinds: Counter[tuple[str, str, str]] = Counter()
    for engine in args.engines:
        got = {seed: first.get((seed, engine)) for seed in seeds}
        ran = [seed for seed, record in got.items() if record is not None]
        bad = [seed for seed in ran if differs(got[seed])]
        missing = [seed for seed, record in got.items() if record is None]
        revisions = sum(got[seed]["revisions"] for seed in ran)
        print(f"\n{engine}: {len(ran)} histories ({revisions} revisions), {len(bad)} mismatching", end="")
        print(f", {len(missing)} without a result: seeds {missing}" if missing else "")
        for seed in bad:
            status = 1
            again = second.get((seed, engine))
            if args.no_rerun:
                verdict = ""
            elif again is None:
                verdict = " (run again: no result)"
            elif not differs(again):
                verdict = " (run again: gone)"
            elif describe(again) == describe(got[seed]):
                verdict = " (run again: the same)"
            else:
                verdict = f" (run again: different: {'; '.join(describe(again))})"
            print(f"  seed {seed}{verdict}")
            for line in describe(got[seed]):
                print(f"    {line}")
            for m in got[seed]["mismatches"]:
                kinds[engine, m["fact"], f"oracle {m['oracle']}, plugin {m['plugin']}"] += 1
            for rev in got[seed]["unreached"]:
                upgraded = got[seed]["oracle"][rev].get("upgrade")
                kinds[engine, "upgrade", f"oracle {upgraded}, plugin no record"] += 1
        for seed in missing:
            status = 1
            again = second.get((seed, engine))
            if again is not None:
                print(f"  seed {seed}: no result the first time; run again: {'; '.join(describe(again)) or 'agrees'}")
    if kinds:
        print("\nmismatching facts, by kind:")
        for (engine, fact, values), count in sorted(kinds.items()):
            print(f"  {engine:10} {fact:15} {values}: {count} revision(s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
