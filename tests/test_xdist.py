"""pytest-xdist: the same verdicts and summary as a serial run, one walk per engine."""

from __future__ import annotations

import re

from conftest import QUIET, SERVER_URLS, revision

FORGETFUL = {
    "0001_t": revision(
        "0001", None, 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t")'
    ),
    "0002_x": revision("0002", "0001", 'op.add_column("t", sa.Column("x", sa.Integer()))', ""),
}
MODELS = 't = sa.Table("t", metadata, sa.Column("id", sa.Integer(), primary_key=True), sa.Column("x", sa.Integer()))\n'


def _summary(result) -> list[str]:
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "pytest-migrations summary" in line)
    section = []
    for line in lines[start + 1 :]:
        if line.startswith("="):
            break
        if not line.startswith("  slowest"):  # timings differ from run to run (slowest, lock times); verdicts must not
            section.append(re.sub(r" for \d+ ms", "", re.sub(r" in [\d.]+s", "", line)))
    return section


def test_parallel_run_gives_the_serial_verdicts_with_one_worker_per_engine(pytester, project, monkeypatch):
    project(FORGETFUL, MODELS)
    for engine, url in SERVER_URLS.items():
        monkeypatch.setenv(f"PYTEST_MIGRATIONS_{engine.upper()}_URL", url)
    args = ("--migrations", "--migrations-engines=sqlite,postgresql,mysql", *QUIET)
    serial = pytester.runpytest_subprocess(*args)
    parallel = pytester.runpytest_subprocess(*args, "-n", "2", "-v")

    # test_single_head is one item per history: 1 + 6 checks x 3 engines.
    assert serial.parseoutcomes() == parallel.parseoutcomes() == {"passed": 16, "failed": 3}
    assert _summary(serial) == _summary(parallel)
    summary = _summary(serial)
    assert re.fullmatch(r"  server  mysql \S+ from server URL \S+ \(PYTEST_MIGRATIONS_MYSQL_URL\)", summary.pop(1))
    assert summary[:3] == [
        "mysql: 2 revisions walked (2 walks)",  # MySQL cannot undo the failed re-upgrade: rebuilt past it
        "  failed  test_stepwise_roundtrip",
        "  passed  test_upgrade, test_downgrade, test_roundtrip, test_model_matches_migrations, test_data_preserved",
    ]

    workers: dict[str, set[str]] = {}
    for line in parallel.outlines:
        match = re.match(r"\[(gw\d+)\] .*::(test_\w+)\[(\w+)\]", line)
        if match:
            workers.setdefault(match.group(3), set()).add(match.group(1))
    assert set(workers) == {"sqlite", "postgresql", "mysql"}
    assert all(len(ids) == 1 for ids in workers.values()), workers
