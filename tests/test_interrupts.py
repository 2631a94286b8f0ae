"""Interrupted runs: what is left behind, and how the next run reports and removes it.

The migration under test blocks on a FIFO, so the test knows exactly when the walk is
in the middle of a revision without sleeping: opening the FIFO is the rendezvous.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import SERVER_URLS, revision
from pytest_migrations.providers import make_url, with_driver

PG_URL = with_driver(make_url(SERVER_URLS["postgresql"]), "postgresql")

BLOCKING = {
    "0001_t": revision(
        "0001", None, 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t")'
    ),
    "0002_block": revision(
        "0002",
        "0001",
        """
        import os
        with open(os.environ["READY_FIFO"], "w") as ready:
            ready.write(str(os.getpid()))
        with open(os.environ["GO_FIFO"]) as go:
            go.read()
        op.add_column("t", sa.Column("x", sa.Integer()))
        """,
        'op.drop_column("t", "x")',
    ),
}


def _our_databases(pid: int) -> list[str]:
    engine = sa.create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            names = conn.execute(
                sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'pytest\\_migrations\\_%'")
            )
            return [name for (name,) in names if f"_{pid}_" in name]
    finally:
        engine.dispose()


def _our_temp_dirs(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"pytest-migrations-{pid}-*"))


def _start(pytester, tmp_path, *args):
    ready, go = tmp_path / "ready", tmp_path / "go"
    os.mkfifo(ready)
    os.mkfifo(go)
    env = dict(
        os.environ, READY_FIFO=str(ready), GO_FIFO=str(go), PYTEST_MIGRATIONS_POSTGRESQL_URL=SERVER_URLS["postgresql"]
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "--migrations",
            "--migrations-engines=postgresql,sqlite",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with open(ready) as handle:  # returns once the migration has reached the FIFO
        walking_pid = int(handle.read())
    return process, walking_pid


def _collect_only(pytester, *args: str) -> subprocess.CompletedProcess[str]:
    """A fresh run that only collects: enough for the start-of-session leftover report."""
    command = [sys.executable, "-m", "pytest", "--migrations", "--migrations-engines=postgresql", "--co", "-q"]
    return subprocess.run(
        [*command, "-p", "no:cacheprovider", *args],
        cwd=pytester.path,
        env=dict(os.environ, PYTEST_MIGRATIONS_POSTGRESQL_URL=SERVER_URLS["postgresql"]),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_mid_walk_leaves_nothing_behind(pytester, project, tmp_path, signum):
    """Ctrl-C, or SIGTERM from a cancelled CI job: the run unwinds, databases and temp dirs go."""
    project(BLOCKING)
    process, walking_pid = _start(pytester, tmp_path)
    try:
        assert walking_pid == process.pid
        assert _our_databases(process.pid), "the walk's throwaway database should exist while it runs"
    finally:
        process.send_signal(signum)
        output, _ = process.communicate(timeout=120)
    assert "KeyboardInterrupt" in output
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    # The summary says the run was interrupted, and reports no unfinished check as passed.
    summary = output.split("pytest-migrations summary")[1]
    assert summary.splitlines()[1].startswith("interrupted: only the checks listed below ran to the end"), summary
    passed = [line for line in summary.splitlines() if line.startswith("  passed")]
    assert passed in ([], ["  passed  test_single_head"]), summary  # reads files only: it did finish
    assert _our_databases(process.pid) == []
    assert _our_temp_dirs(process.pid) == []


def test_killed_worker_leftovers_are_listed_then_dropped_on_request(pytester, project, tmp_path):
    project(BLOCKING)
    process, worker_pid = _start(pytester, tmp_path, "-n", "1")
    try:
        assert worker_pid != process.pid
        os.kill(worker_pid, signal.SIGKILL)
    finally:
        # The controller would start a replacement worker that blocks on the FIFO again; stop the run instead.
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=120)
    try:
        leftovers = _our_databases(worker_pid)
        assert leftovers, "a SIGKILLed worker cannot drop its database"
        result = _collect_only(pytester)
        for name in leftovers:
            assert f"left by a killed run: database {name}" in result.stdout
        assert "pytest --migrations --migrations-drop-stale" in result.stdout
        assert _our_databases(worker_pid) == leftovers, "listing must not drop anything"
        # A run that walks SQLite only lists them too: it has a URL for the server they are on.
        result = _collect_only(pytester, "--migrations-engines=sqlite")
        assert f"left by a killed run: database {leftovers[0]}" in result.stdout

        result = _collect_only(pytester, "--migrations-drop-stale")
        assert f"dropped: database {leftovers[0]}" in result.stdout
        assert _our_databases(worker_pid) == []
        assert _our_temp_dirs(worker_pid) == []
    finally:
        engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in _our_databases(worker_pid):
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def _ctrl_c_caught_by_the_migration(handler: str) -> dict[str, str]:
    """A revision that sends itself Ctrl-C and catches it, as a finalizer or Alembic's batch cleanup may."""
    return {
        "0001_t": BLOCKING["0001_t"],
        "0002_caught": revision(
            "0002",
            "0001",
            f"""
            import os, signal
            try:
                os.kill(os.getpid(), signal.SIGINT)  # the handler runs before the next line
            except KeyboardInterrupt:
                {handler}
            op.add_column("t", sa.Column("x", sa.Integer()))
            """,
            'op.drop_column("t", "x")',
        ),
    }


@pytest.mark.parametrize("handler", ["pass", 'raise RuntimeError("cleanup failed")'])
def test_ctrl_c_swallowed_or_replaced_still_stops_the_run(pytester, project, handler):
    project(_ctrl_c_caught_by_the_migration(handler))
    result = pytester.runpytest_subprocess("--migrations", "-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
    assert "cleanup failed" not in result.stdout.str()  # an interrupt, not a failing revision


def test_sigterm_stops_a_private_local_server_and_removes_its_directory(pytester, project, tmp_path):
    project(BLOCKING)
    process, walking_pid = _start(pytester, tmp_path, "--migrations-provider=local")
    try:
        assert walking_pid == process.pid
        directories = [path for path in _our_temp_dirs(process.pid) if "-postgresql-" in path.name]
        assert directories, "the private PostgreSQL server's directory should exist while it runs"
        postmaster = directories[0] / "data" / "postmaster.pid"
        server_pid = int(postmaster.read_text().split()[0]) if postmaster.exists() else None
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=120)
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert _our_temp_dirs(process.pid) == []
    assert server_pid is not None
    assert _gone(server_pid), f"the private server (pid {server_pid}) still runs"


def _gone(pid: int) -> bool:
    """The process has ended (a zombie not yet reaped by its new parent has ended too)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")
