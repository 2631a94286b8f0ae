"""Output a user reads: the cause up front, without the walk's log (issue 24)."""

from __future__ import annotations

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
