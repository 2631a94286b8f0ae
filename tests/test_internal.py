"""No internal error in disguise: values of every type compare, and a bug of the plugin is told as the plugin's."""

from __future__ import annotations

from conftest import item_failure, item_outcomes, revision

FLAGS = {
    "0001_item": revision(
        "0001",
        None,
        """
        op.create_table(
            "item",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.false()),
            sa.Column("price", sa.Numeric(8, 2), nullable=True),
        )
        """,
        'op.drop_table("item")',
        message="item",
    ),
    "0002_all_active": revision(
        "0002", "0001", 'op.execute("UPDATE item SET active = true")', "pass", message="all active"
    ),
}


def test_a_boolean_data_migration_is_a_changed_value_not_an_inspection_error(project, run_checks, engine):
    project(FLAGS)
    result = run_checks(engines=engine)
    out = result.stdout.str()
    assert "could not inspect" not in out and "internal error" not in out
    assert item_outcomes(result)[f"test_data_preserved[{engine}]"] == "failed"
    assert "changed values of item.active in " in item_failure(result, f"test_data_preserved[{engine}]")
    for check in ("test_upgrade", "test_downgrade", "test_roundtrip", "test_stepwise_roundtrip"):
        assert item_outcomes(result)[f"{check}[{engine}]"] == "passed", check


PARENT_CHILD = {
    "0001_parent": revision(
        "0001",
        None,
        'op.create_table("parent", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(20)))',
        'op.drop_table("parent")',
        message="parent",
    ),
    "0002_child": revision(
        "0002",
        "0001",
        """
        op.create_table(
            "child",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("parent_id", sa.Integer(), sa.ForeignKey("parent.id"), nullable=False),
        )
        """,
        "pass",
        message="child",
    ),
}


def test_a_downgrade_that_forgets_a_child_table_is_told_on_every_engine(project, run_checks, engine):
    project(PARENT_CHILD)
    result = run_checks(engines=engine)
    out = result.stdout.str()
    assert "could not inspect" not in out and "internal error" not in out and "KeyError" not in out
    stepwise = item_failure(result, f"test_stepwise_roundtrip[{engine}]")
    assert 'downgrade of 0002 ("child", migrations/versions/0002_child.py) does not restore the schema' in stepwise
    assert item_outcomes(result)[f"test_upgrade[{engine}]"] == "passed"


ROWS_ONLY_THEN_LOSS = {
    **{name: text for name, text in FLAGS.items() if name == "0001_item"},
    "0002_sku": revision(
        "0002",
        "0001",
        'op.add_column("item", sa.Column("sku", sa.String(20), nullable=False))',
        """
        with op.batch_alter_table("item") as batch_op:
            batch_op.drop_column("sku")
        """,
        message="sku without default",
    ),
    "0003_drop_price": revision(
        "0003",
        "0002",
        """
        with op.batch_alter_table("item") as batch_op:
            batch_op.drop_column("price")
        """,
        'op.add_column("item", sa.Column("price", sa.Numeric(8, 2), nullable=True))',
        message="drop price",
    ),
}


def test_the_data_check_keeps_checking_after_a_failure_only_rows_cause(project, run_checks, engine):
    """0002 fails only with rows (NOT NULL, no default); 0003 after it loses values: both are told."""
    project(ROWS_ONLY_THEN_LOSS)
    result = run_checks(engines=engine)
    data = item_failure(result, f"test_data_preserved[{engine}]")
    rows_only = 'upgrade to 0002 ("sku without default", migrations/versions/0002_sku.py) failed on '
    if engine != "mysql":  # MySQL fills a new NOT NULL column with its type's implicit default
        assert data.index(rows_only) < data.index("upgrade 0002 -> 0003 dropped column item.price holding values")
        assert "the revisions after 0002 were checked with rows again." in data
    assert item_outcomes(result)[f"test_upgrade[{engine}]"] == "passed"
