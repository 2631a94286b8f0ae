"""Profile one plugin run per engine and summarize where the time goes.

    python benchmarks/profile.py [--size 200] [--engines sqlite postgresql mysql] [--top 10]

Runs `python -m cProfile -o benchmarks/generated/profile-ENGINE-nN.prof -m pytest
-p pytest_migrations.plugin --migrations --migrations-engines=ENGINE -q` in the generated
N-revision project, then prints, per engine, the own time by package and the top
cumulative entries inside pytest_migrations/ and inside sqlalchemy/ + alembic/.
The summary also replaces the profile section of benchmarks/RESULTS.md (unless
--no-write).
"""

from __future__ import annotations

import argparse
import pstats
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import GENERATED, PLUGIN, PROFILE_MARK, RESULTS, child_env, plugin_cmd, use_plugin_ref

HERE = Path(__file__).resolve().parent

# (bucket, test on "file:function") for own time; first match wins.
BUCKETS = (
    ("pytest_migrations", lambda f, n: "/pytest_migrations/" in f),
    ("sqlalchemy", lambda f, n: "/sqlalchemy/" in f),
    ("alembic", lambda f, n: "/alembic/" in f),
    ("migrations/versions + env.py", lambda f, n: "/migrations/" in f),
    ("sqlite3 driver (C)", lambda f, n: f == "~" and "sqlite3" in n),
    ("psycopg2 driver (C)", lambda f, n: f == "~" and "psycopg2" in n),
    ("pymysql driver (Python)", lambda f, n: "/pymysql/" in f),
    ("socket I/O (C)", lambda f, n: f == "~" and "socket" in n),
    ("pytest / pluggy", lambda f, n: "/_pytest/" in f or "/pluggy/" in f),
    ("import machinery", lambda f, n: "<frozen importlib" in f or "marshal" in n or "compile" in n),
    ("other", lambda f, n: True),
)


def label(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    for marker in ("/generated/plugin-", "/site-packages/", "/work/main/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            if marker == "/generated/plugin-":  # a frozen copy: drop the commit folder
                filename = filename.split("/", 1)[1]
            break
    return f"{filename}:{line}({name})"


def summarize(path: Path, engine: str, top: int, wall: float) -> list[str]:
    stats = pstats.Stats(str(path))
    entries = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    buckets: dict[str, float] = {}
    for func, (_cc, _nc, tt, _ct, _callers) in entries.items():
        filename, _line, name = func
        for bucket, test in BUCKETS:
            if test(filename, name):
                buckets[bucket] = buckets.get(bucket, 0.0) + tt
                break
    out = [
        f"### {engine}",
        "",
        f"Wall {wall:.1f}s under cProfile; profiled total {total:.1f}s. Own time by package: "
        + ", ".join(
            f"{name} {secs:.1f}s ({100 * secs / total:.0f}%)"
            for name, secs in sorted(buckets.items(), key=lambda kv: -kv[1])
            if secs >= 0.01 * total
        )
        + ".",
        "",
    ]

    def find(part: str, name: str) -> tuple[str, int, str] | None:
        return next((f for f in entries if part in f[0] and f[2] == name), None)

    def cum(part: str, name: str) -> float:
        func = find(part, name)
        return entries[func][3] if func else 0.0

    engine_total = cum("pytest_migrations/checks.py", "run_engine")
    steps = cum("alembic/runtime/migration.py", "run_migrations") - cum("pytest_migrations/walk.py", "migrations_fn")
    between = cum("pytest_migrations/walk.py", "migrations_fn")
    read_rows = find("pytest_migrations/seeding.py", "read_rows")
    reads = entries[read_rows][1] if read_rows else 0
    breakdown = [
        ("whole process (start-up, imports, collection, reporting included)", total),
        ("outside the engine walk: start-up, imports, collection, reporting", total - engine_total),
        ("the walk's migration steps (Alembic running revision code; 5 moves per revision)", steps),
        ("the walk's checks between steps (`walk.py` migrations_fn)", between),
        (
            f"  of which reading table contents back (`checks.py` refresh -> `seeding.read_rows`, {reads} reads)",
            cum("pytest_migrations/checks.py", "refresh"),
        ),
        (
            "  of which schema snapshots (`schema.py` SchemaReader.snapshot)",
            cum("pytest_migrations/schema.py", "snapshot"),
        ),
        ("  of which seeding rows (`seeding.py` seed_tables)", cum("pytest_migrations/seeding.py", "seed_tables")),
        (
            "model check in the main thread (`checks.py` _model_verdict; create_all and its snapshot run in a "
            "thread beside the walk, which cProfile does not see)",
            cum("pytest_migrations/checks.py", "_model_verdict"),
        ),
    ]
    out.extend(["| where | s (cProfile) | share |", "| --- | ---: | ---: |"])
    out.extend(f"| {what} | {secs:.1f} | {100 * secs / total:.0f}% |" for what, secs in breakdown)
    out.append("")
    chain = 0.9 * engine_total  # frames that merely contain the whole walk (runtest, drive, run_env...) say nothing

    def table(title: str, keep) -> None:
        rows = sorted(((f, v) for f, v in entries.items() if keep(f[0]) and v[3] < chain), key=lambda kv: -kv[1][3])[
            :top
        ]
        out.extend(
            [
                f"Top {top} cumulative in {title}:",
                "",
                "| function | calls | cum s | own s |",
                "| --- | ---: | ---: | ---: |",
            ]
        )
        for func, (_cc, nc, tt, ct, _callers) in rows:
            out.append(f"| `{label(func)}` | {nc} | {ct:.2f} | {tt:.2f} |")
        out.append("")

    table("pytest_migrations/", lambda f: "/pytest_migrations/" in f)
    table("sqlalchemy/ and alembic/", lambda f: "/sqlalchemy/" in f or "/alembic/" in f)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql", "mysql"])
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--no-run", action="store_true", help="summarize existing .prof files only")
    parser.add_argument("--no-write", action="store_true", help="do not update benchmarks/RESULTS.md")
    parser.add_argument("--plugin-ref", default="HEAD", help="git ref of pytest_migrations/ ('worktree': editable)")
    args = parser.parse_args(argv)
    GENERATED.mkdir(exist_ok=True)
    use_plugin_ref(args.plugin_ref)

    project = GENERATED / f"n{args.size}"
    if not (project / "alembic.ini").exists():
        subprocess.run(
            [sys.executable, str(HERE / "generate.py"), str(args.size), str(project), "--seed", str(args.seed)],
            check=True,
        )
    section = [
        PROFILE_MARK,
        f"## Profile: one N={args.size} plugin run per engine (cProfile)",
        "",
        f"`python benchmarks/profile.py --size {args.size}`: `python -m cProfile -o ... -m pytest --migrations "
        "--migrations-engines=ENGINE -q` (plugin autoloading off, as in run.py) in the generated project. cProfile slows Python code "
        "down (not the time spent waiting for the database), so Python shares are overstated. "
        + f"pytest-migrations: {PLUGIN['describe']}.",
        "",
    ]
    for engine in args.engines:
        prof = GENERATED / f"profile-{engine}-n{args.size}.prof"
        wall = 0.0
        if not args.no_run:
            cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), *plugin_cmd(engine)[1:], "-q"]
            started = time.perf_counter()
            proc = subprocess.run(cmd, cwd=project, env=child_env(), capture_output=True, text=True)
            wall = time.perf_counter() - started
            if proc.returncode != 0:
                print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
                return 1
            print(f"  profiled {engine}: {wall:.1f}s", file=sys.stderr, flush=True)
            prof.with_suffix(".wall").write_text(f"{wall:.3f}\n")
        elif prof.with_suffix(".wall").exists():
            wall = float(prof.with_suffix(".wall").read_text())
        section += summarize(prof, engine, args.top, wall)
    text = "\n".join(section)
    print(text)
    if not args.no_write:
        previous = RESULTS.read_text() if RESULTS.exists() else "# pytest-migrations benchmarks\n"
        RESULTS.write_text(previous.split(PROFILE_MARK, 1)[0].rstrip() + "\n\n" + text + "\n")
        print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
