"""Output a user reads: the cause up front, without the walk's log (issue 24)."""

from __future__ import annotations

import itertools

from conftest import ALL_ENGINES, item_failure, item_outcomes, revision


def long_history(size: int, failing: int) -> dict[str, str]:
    """`size` revisions adding a column each to one table; the upgrade of revision `failing` raises."""
    revisions = {
        "r001": revision(
            "r001", None, 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t")'
        )
    }
    for n in range(2, size + 1):
        rev, down = f"r{n:03d}", f"r{n - 1:03d}"
        upgrade = f'op.add_column("t", sa.Column("c{n}", sa.Integer()))'
        if n == failing:
            upgrade += '\nraise RuntimeError("the data is not what this revision expects")'
        revisions[rev] = revision(rev, down, upgrade, f'op.drop_column("t", "c{n}")')
    return revisions


def test_a_long_history_failing_late_prints_its_cause_in_few_lines(project, pytester):
    project(long_history(120, 100))
    result = pytester.runpytest("--migrations", "-p", "no:cacheprovider")
    lines = result.stdout.lines + result.stderr.lines
    assert len(lines) < 150, "\n".join(lines)
    assert "RuntimeError: the data is not what this revision expects" in item_failure(result, "test_upgrade[sqlite]")
    assert not [line for line in lines if "Running upgrade" in line]


def test_two_heads_on_three_engines_are_one_failure(project, run_checks):
    # A history's heads do not depend on the engine: one item tells them, once.
    tail = revision(
        "0003", "0001", 'op.create_table("u", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("u")'
    )
    first = revision(
        "0001", None, 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t")'
    )
    second = revision("0002", "0001", 'op.add_column("t", sa.Column("n", sa.Integer()))', 'op.drop_column("t", "n")')
    project({"0001_t": first, "0002_n": second, "0003_u": tail})
    result = run_checks(engines=ALL_ENGINES)
    failed = [name for name, outcome in item_outcomes(result).items() if outcome == "failed"]
    assert failed == ["test_single_head"], failed
    assert "the history has 2 heads" in item_failure(result, "test_single_head")


def test_a_walk_writes_progress_lines_in_a_log_and_none_under_q(project, pytester, monkeypatch):
    project(long_history(30, 0))
    monkeypatch.setenv("PYTEST_MIGRATIONS_PROGRESS_SECONDS", "0")  # a line per revision: no waiting in a test
    result = pytester.runpytest("--migrations", "-p", "no:cacheprovider")  # not a TTY: lines, not a live line
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "pytest-migrations: sqlite: up revision 1/30 (r001), *s",
            "pytest-migrations: sqlite: up revision 30/30 (r030), *s",
            "pytest-migrations: sqlite: down revision 30/30 (r001), *s",
        ]
    )
    quiet = pytester.runpytest("--migrations", "-q", "-p", "no:cacheprovider")
    assert quiet.ret == 0
    assert "revision 1/30" not in quiet.stdout.str()


def test_progress_in_a_log_is_a_line_every_interval_not_every_revision():
    from pytest_migrations.progress import Progress

    now = [0.0]
    written: list[tuple[str, bool]] = []
    progress = Progress(write=lambda text, in_place: written.append((text, in_place)), tty=False, clock=lambda: now[0])
    for number in range(1, 301):  # 300 revisions, 0.1 s each: 30 s
        now[0] += 0.1
        progress.step("sqlite", "up", number, 300, f"r{number}")
    numbers = [int(text.split("revision ")[1].split("/")[0]) for text, _ in written]
    assert len(numbers) in (2, 3), written  # 30 s of walk: a line each 10 s, not 300
    assert all(b - a >= 99 for a, b in itertools.pairwise(numbers)), numbers
    assert not any(in_place for _, in_place in written)


def test_k_stepwise_shows_the_cause_when_the_item_that_tells_it_is_not_selected(project, run_checks):
    history = long_history(3, 0)
    history["r003"] = history["r003"].replace(
        'op.add_column("t", sa.Column("c3", sa.Integer()))', 'op.execute("INSERT INTO nosuch (id) VALUES (1)")'
    )
    project(history)
    result = run_checks()  # the whole run: test_upgrade tells the cause, the blocked items are skipped
    assert item_outcomes(result)["test_upgrade[sqlite]"] == "failed"
    assert item_outcomes(result)["test_stepwise_roundtrip[sqlite]"] == "skipped"
    result = run_checks("-k", "stepwise")  # as the README suggests: only the item pointing there is selected
    assert list(item_outcomes(result).values()) == ["failed"]
    text = item_failure(result, "test_stepwise_roundtrip[sqlite]")
    assert "while running: INSERT INTO nosuch (id) VALUES (1)" in text
    assert text.splitlines()[-1] == "sqlite3.OperationalError: no such table: nosuch"
