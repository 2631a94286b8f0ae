"""Time `pytest --migrations` against the floor: a plain `alembic upgrade head` + `alembic downgrade base`.

    python benchmarks/run.py [--sizes 50 200] [--engines sqlite postgresql mysql] [--repeat 3]

Generates the projects (benchmarks/generate.py) into benchmarks/generated/, then
for each engine and size runs, interleaved and each in a fresh process:

- the floor: one process that runs alembic.command.upgrade(head) and
  downgrade(base) on a freshly created throwaway database (a SQLite temp file,
  or CREATE DATABASE on the server, created and dropped outside the timing);
- the plugin: `pytest -p pytest_migrations.plugin --migrations --migrations-engines=ENGINE -q`
  in the project directory, with PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 so that only
  our plugin is loaded (not whatever else the machine has installed).

Also times pytest-xdist (-n 2) on all engines against a serial run, collection
alone, the import overhead of the plugin on an empty directory, and the peak
RSS of one plugin run on a large project. Prints a markdown report (medians of
the repeats) and writes it to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
GENERATED = HERE / "generated"
RESULTS = HERE / "RESULTS.md"
PROFILE_MARK = "<!-- profile -->"
DEFAULT_URLS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/postgres",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/mysql",
}
ENGINES = ("sqlite", "postgresql", "mysql")

FLOOR_SCRIPT = """
import sys
from alembic import command
from alembic.config import Config
config = Config(sys.argv[1])
config.set_main_option("sqlalchemy.url", sys.argv[2].replace("%", "%%"))
command.upgrade(config, "head")
command.downgrade(config, "base")
"""

RSS_SCRIPT = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[2:], cwd=sys.argv[1], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""

WALK_LINE = re.compile(r"^(\w+): (\d+) revisions? walked in ([\d.]+)s", re.M)


def server_url(engine: str) -> str:
    return os.environ.get(f"PYTEST_MIGRATIONS_{engine.upper()}_URL") or DEFAULT_URLS[engine]


def with_driver(url: str) -> sa.engine.URL:
    """The URL with an installed driver named: SQLAlchemy 2.1 takes bare postgresql:// to mean psycopg 3."""
    parsed = sa.engine.make_url(url)
    if "+" not in parsed.drivername:
        candidates = {"postgresql": ("psycopg", "psycopg2", "pg8000"), "mysql": ("pymysql", "MySQLdb")}
        for module in candidates.get(parsed.drivername, ()):
            if importlib.util.find_spec(module) is not None:
                return parsed.set(drivername=f"{parsed.drivername}+{module.lower()}")
    return parsed


PLUGIN = {"path": "", "describe": "the working tree (editable install)"}


def use_plugin_ref(ref: str) -> None:
    """Run the children against a frozen copy of pytest_migrations/ at git `ref` (not the moving working tree)."""
    if ref == "worktree":
        return
    git = ["git", "-C", str(HERE.parent)]
    sha = subprocess.run([*git, "rev-parse", "--short", ref], capture_output=True, text=True, check=True).stdout.strip()
    subject = subprocess.run([*git, "log", "-1", "--format=%s", sha], capture_output=True, text=True).stdout.strip()
    dest = GENERATED / f"plugin-{sha}"
    if not (dest / "pytest_migrations" / "plugin.py").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run([*git, "archive", sha, "pytest_migrations"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    PLUGIN["path"] = str(dest)
    PLUGIN["describe"] = f"commit {sha} ({subject}), run from a copy in {dest.relative_to(HERE.parent)}"
    check = [sys.executable, "-c", "import pytest_migrations; print(pytest_migrations.__file__)"]
    where = subprocess.run(check, cwd=GENERATED, env=child_env(), capture_output=True, text=True, check=True)
    where = where.stdout.strip()
    if not where.startswith(str(dest)):
        raise SystemExit(f"the frozen plugin copy is not the one imported: {where}")


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    if PLUGIN["path"]:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (PLUGIN["path"], env.get("PYTHONPATH", "")) if p)
    for engine in ("postgresql", "mysql"):
        env[f"PYTEST_MIGRATIONS_{engine.upper()}_URL"] = server_url(engine)
    env.pop("PYTEST_ADDOPTS", None)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


# ------------------------------------------------------------ databases


@contextmanager
def throwaway_database(engine: str) -> Iterator[str]:
    """A fresh, empty database of `engine`; yields its URL and drops it afterwards."""
    if engine == "sqlite":
        folder = tempfile.mkdtemp(prefix="bench-floor-")
        try:
            yield f"sqlite:///{folder}/floor.db"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    admin_url = with_driver(server_url(engine))
    name = f"bench_floor_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    quote = admin.dialect.identifier_preparer.quote
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {quote(name)}")
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quote(name)}")
    finally:
        admin.dispose()


# ------------------------------------------------------------ measuring


@dataclass
class Run:
    seconds: float
    output: str = ""
    walk: float | None = None


@dataclass
class Series:
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def walk_median(self) -> float | None:
        walks = [r.walk for r in self.runs if r.walk is not None]
        return statistics.median(walks) if walks else None


class BenchmarkError(Exception):
    pass


def timed(cmd: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> Run:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=child_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode not in ok:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise BenchmarkError(f"{' '.join(cmd)} (in {cwd}) exited {proc.returncode}:\n{tail}")
    walks = [float(m.group(3)) for m in WALK_LINE.finditer(proc.stdout)]
    return Run(seconds, proc.stdout, sum(walks) if walks else None)


def floor_run(project: Path, engine: str) -> Run:
    with throwaway_database(engine) as url:
        cmd = [sys.executable, "-c", FLOOR_SCRIPT, str(project / "alembic.ini"), url]
        return timed(cmd, project)


# Plugin autoloading is off in the children: only pytest-migrations (and xdist where asked for) is loaded,
# so plugins that merely happen to be installed on the machine (hypothesis alone costs ~0.6s to import
# here) are not counted as our cost. A user's own plugins cost them the same with or without us.
ONLY_OUR_PLUGIN = ["-p", "pytest_migrations.plugin", "-p", "no:cacheprovider"]


def plugin_cmd(engines: str, xdist: bool = False) -> list[str]:
    extra = ["-p", "xdist.plugin"] if xdist else []
    return [sys.executable, "-m", "pytest", *ONLY_OUR_PLUGIN, *extra, "--migrations", f"--migrations-engines={engines}"]


def plugin_run(project: Path, engine: str) -> Run:
    return timed([*plugin_cmd(engine), "-q"], project)


def interleave(repeat: int, label: str, *jobs: tuple[str, Callable[[], Run]]) -> dict[str, Series]:
    series = {name: Series() for name, _ in jobs}
    for i in range(repeat):
        for name, job in jobs:
            run = job()
            series[name].runs.append(run)
            extra = f" (walk {run.walk:.2f}s)" if run.walk is not None else ""
            print(f"  {label} {name} #{i + 1}: {run.seconds:.2f}s{extra}", file=sys.stderr, flush=True)
    return series


def project_for(size: int, seed: int) -> Path:
    path = GENERATED / f"n{size}"
    subprocess.run([sys.executable, str(HERE / "generate.py"), str(size), str(path), "--seed", str(seed)], check=True)
    # Compile the revision files now, so the first timed process does not pay for it.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(path)], check=True)
    return path


def peak_rss(project: Path, cmd: list[str]) -> tuple[float, int]:
    """(seconds, max RSS in MiB) of `cmd` run in a wrapper process, so RUSAGE_CHILDREN sees only it."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(project), *cmd],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    seconds = time.perf_counter() - started
    code, kib = int(out[0]), int(out[1])
    if code != 0:
        raise BenchmarkError(f"{' '.join(cmd)} exited {code} in the RSS run")
    return seconds, kib // 1024


# ------------------------------------------------------------ machine


def machine_description() -> list[str]:
    import alembic
    import pytest

    lines = [
        f"- pytest-migrations: {PLUGIN['describe']}",
        f"- CPU cores: {os.cpu_count()} ({platform.processor() or platform.machine()}), "
        f"memory: {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        f"- {platform.system()} {platform.release()}",
        f"- {subprocess.run([sys.executable, '--version'], capture_output=True, text=True).stdout.strip()}, "
        f"SQLAlchemy {sa.__version__}, Alembic {alembic.__version__}, pytest {pytest.__version__}",
        f"- SQLite {sqlite3.sqlite_version} (temp files under {tempfile.gettempdir()})",
    ]
    for engine in ("postgresql", "mysql"):
        try:
            eng = sa.create_engine(with_driver(server_url(engine)), poolclass=sa.pool.NullPool)
            with eng.connect() as conn:
                version = conn.exec_driver_sql("SELECT version()").scalar()
            eng.dispose()
            lines.append(f"- {engine}: {version} at {sa.engine.make_url(server_url(engine)).host}")
        except Exception as exc:
            lines.append(f"- {engine}: unavailable ({exc.__class__.__name__})")
    return lines


# ------------------------------------------------------------ report


def fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}"


def build_report(args: argparse.Namespace, results: dict[str, object], elapsed: float) -> str:
    out = ["# pytest-migrations benchmarks", ""]
    out.append(
        f"Generated by `python benchmarks/run.py --sizes {' '.join(map(str, args.sizes))} "
        f"--engines {' '.join(args.engines)} --repeat {args.repeat}` on {time.strftime('%Y-%m-%d')}, "
        f"in {elapsed / 60:.1f} min. Times are wall-clock medians of {args.repeat} run(s), each in a fresh process "
        "(interpreter start-up included), floor and plugin interleaved."
    )
    load = results.get("load", ())
    out += ["", "## Machine", "", *machine_description()]
    if load:
        out.append(
            f"- 1-minute load average {load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end "
            "(anything else running on the machine shows up as noise, SQLite's fsyncs most of all)"
        )
    out.append("")
    out += [
        "## Plugin vs floor",
        "",
        "floor = one process running `alembic upgrade head` then `alembic downgrade base` on a fresh database "
        "(created and dropped outside the timing). plugin = `pytest -p pytest_migrations.plugin --migrations "
        "--migrations-engines=ENGINE -q` with PYTEST_DISABLE_PLUGIN_AUTOLOAD=1, so only our plugin is loaded "
        "(all seven checks; includes pytest's start-up and creating and dropping its own databases). "
        "walk = the plugin's own `N revisions walked in` figure.",
        "",
        "| engine | N | floor s | plugin s | ratio | plugin walk s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    table: dict[tuple[str, int], dict[str, Series]] = results["table"]  # type: ignore[assignment]
    for engine in args.engines:
        for size in args.sizes:
            series = table.get((engine, size))
            if series is None:
                continue
            floor, plugin = series["floor"].median, series["plugin"].median
            out.append(
                f"| {engine} | {size} | {floor:.2f} | {plugin:.2f} | {plugin / floor:.1f}x | "
                f"{fmt(series['plugin'].walk_median)} |"
            )
    sizes = sorted(args.sizes)
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        out += [
            "",
            f"Growth from N={small} to N={large} ({large / small:.0f}x the revisions):",
            "",
            f"| engine | floor {large}/{small} | plugin {large}/{small} | plugin walk {large}/{small} |",
            "| --- | ---: | ---: | ---: |",
        ]
        for engine in args.engines:
            a, b = table.get((engine, small)), table.get((engine, large))
            if a is None or b is None:
                continue
            wa, wb = a["plugin"].walk_median, b["plugin"].walk_median
            walk_growth = f"{wb / wa:.1f}x" if wa and wb else "-"
            out.append(
                f"| {engine} | {b['floor'].median / a['floor'].median:.1f}x | "
                f"{b['plugin'].median / a['plugin'].median:.1f}x | {walk_growth} |"
            )
    out += ["", "## Other measurements", "", "| measurement | result |", "| --- | --- |"]
    xdist = results.get("xdist")
    if xdist:
        serial, parallel = xdist["serial"].median, xdist["parallel"].median  # type: ignore[index]
        out.append(
            f"| xdist, N={args.xdist_size}, {'+'.join(args.engines)} | serial {serial:.2f}s; `-n 2` {parallel:.2f}s "
            f"(speedup {serial / parallel:.2f}x) |"
        )
    collect = results.get("collect")
    if collect:
        plain, plugin = collect["plain"].median, collect["plugin"].median  # type: ignore[index]
        out.append(
            f"| collection, N={args.collect_size} (`pytest --migrations --collect-only -q`) | {plugin:.2f}s "
            f"(plain `pytest --collect-only -q` in the same dir: {plain:.2f}s; difference {plugin - plain:+.2f}s) |"
        )
    imports = results.get("imports")
    if imports:
        without, with_ = imports["without"].median, imports["with"].median  # type: ignore[index]
        out.append(
            f"| import overhead (`pytest --co -q` on an empty dir, {args.import_repeat} runs) | "
            f"with `-p pytest_migrations.plugin` {with_:.3f}s, without {without:.3f}s: {1000 * (with_ - without):+.0f} ms |"
        )
    rss = results.get("rss")
    if rss:
        out.append(
            f"| peak RSS, N={args.rss_size}, {args.rss_engine} (1 run) | plugin {rss['plugin'][1]} MiB "  # type: ignore[index]
            f"in {rss['plugin'][0]:.1f}s; floor {rss['floor'][1]} MiB in {rss['floor'][0]:.1f}s |"  # type: ignore[index]
        )
    out.append("")
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    if PROFILE_MARK in previous:  # keep the section benchmarks/profile.py wrote
        out.append(PROFILE_MARK + previous.split(PROFILE_MARK, 1)[1].rstrip())
    return "\n".join(out)


# ------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2024, help="generator seed")
    parser.add_argument("--xdist-size", type=int, default=50, help="N for the -n 2 comparison (0 to skip)")
    parser.add_argument("--collect-size", type=int, default=200, help="N for the collection timing (0 to skip)")
    parser.add_argument("--import-repeat", type=int, default=7, help="runs for the import overhead (0 to skip)")
    parser.add_argument("--rss-size", type=int, default=500, help="N for the peak RSS run (0 to skip)")
    parser.add_argument("--rss-engine", choices=ENGINES, default="sqlite")
    parser.add_argument("--no-write", action="store_true", help="print the report, do not write RESULTS.md")
    parser.add_argument(
        "--plugin-ref",
        default="HEAD",
        help="git ref of pytest_migrations/ to benchmark, from a frozen copy ('worktree': the editable install)",
    )
    args = parser.parse_args(argv)
    GENERATED.mkdir(exist_ok=True)
    use_plugin_ref(args.plugin_ref)

    started = time.perf_counter()
    projects = {size: project_for(size, args.seed) for size in sorted(set(args.sizes))}
    results: dict[str, object] = {"table": {}, "load": os.getloadavg()}
    try:
        for size in sorted(args.sizes):
            for engine in args.engines:
                project = projects[size]
                results["table"][(engine, size)] = interleave(  # type: ignore[index]
                    args.repeat,
                    f"{engine} N={size}",
                    ("floor", lambda p=project, e=engine: floor_run(p, e)),
                    ("plugin", lambda p=project, e=engine: plugin_run(p, e)),
                )

        if args.xdist_size:
            project = projects.get(args.xdist_size) or project_for(args.xdist_size, args.seed)
            engines = ",".join(args.engines)
            results["xdist"] = interleave(
                args.repeat,
                f"xdist N={args.xdist_size}",
                ("serial", lambda: timed([*plugin_cmd(engines), "-q"], project)),
                ("parallel", lambda: timed([*plugin_cmd(engines, xdist=True), "-q", "-n", "2"], project)),
            )

        if args.collect_size:
            project = projects.get(args.collect_size) or project_for(args.collect_size, args.seed)
            base = [sys.executable, "-m", "pytest", *ONLY_OUR_PLUGIN, "--collect-only", "-q"]
            results["collect"] = interleave(
                args.repeat,
                f"collect N={args.collect_size}",
                ("plain", lambda: timed(base, project, ok=(0, 5))),
                ("plugin", lambda: timed([*base, "--migrations"], project)),
            )

        if args.import_repeat:
            with tempfile.TemporaryDirectory(prefix="bench-empty-") as empty:
                folder = Path(empty)
                (folder / "pytest.ini").write_text("[pytest]\n")
                base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--co", "-q"]
                results["imports"] = interleave(
                    args.import_repeat,
                    "import",
                    ("without", lambda: timed(base, folder, ok=(5,))),
                    ("with", lambda: timed([*base, "-p", "pytest_migrations.plugin"], folder, ok=(5,))),
                )

        if args.rss_size:
            project = projects.get(args.rss_size) or project_for(args.rss_size, args.seed)
            with throwaway_database(args.rss_engine) as url:
                floor = peak_rss(project, [sys.executable, "-c", FLOOR_SCRIPT, str(project / "alembic.ini"), url])
            print(f"  rss floor N={args.rss_size}: {floor[1]} MiB in {floor[0]:.1f}s", file=sys.stderr, flush=True)
            plugin = peak_rss(project, [*plugin_cmd(args.rss_engine), "-q"])
            print(f"  rss plugin N={args.rss_size}: {plugin[1]} MiB in {plugin[0]:.1f}s", file=sys.stderr, flush=True)
            results["rss"] = {"floor": floor, "plugin": plugin}
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1

    report = build_report(args, results, time.perf_counter() - started)
    print(report)
    if not args.no_write:
        RESULTS.write_text(report)
        print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
