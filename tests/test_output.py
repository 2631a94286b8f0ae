"""Output a user reads: the cause up front, without the walk's log (issue 24)."""

from __future__ import annotations

from conftest import item_failure, revision


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
