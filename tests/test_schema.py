"""Schema snapshots on the real servers: the fast catalog paths must see what SQLAlchemy's Inspector sees.

PostgreSQL tables are reflected with one catalog query instead of five Inspector calls, and
MySQL/MariaDB tables are fingerprinted with SHOW CREATE TABLE; a difference either of them
missed would hide a broken downgrade, one they invented would be a false alarm.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from conftest import SERVER_URLS, needs
from pytest_migrations import schema
from pytest_migrations.providers import UrlServer
from pytest_migrations.schema import reflect


@pytest.fixture
def throwaway(request: pytest.FixtureRequest) -> Iterator[sa.Connection]:
    """A connection to a fresh database on the real server, dropped afterwards."""
    server = UrlServer(
        engine=request.param, origin="test", worker="schema", admin_url=make_url(SERVER_URLS[request.param])
    )
    server.connect_admin()
    database = server.create_database()
    engine = sa.create_engine(database.url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()
        server.stop()


POSTGRESQL_TABLES = (
    "CREATE TYPE mood AS ENUM ('calm', 'angry')",
    """CREATE TABLE owner (
        id serial, region integer, name text, nick varchar(20) DEFAULT 'none', feeling mood,
        PRIMARY KEY (id, region), UNIQUE (name, nick),
        CHECK (region > 0 AND region < 100), CONSTRAINT named_check CHECK (name <> '' OR nick IS NOT NULL))""",
    """CREATE TABLE pet (
        id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner_id integer, owner_region integer,
        born timestamp DEFAULT now(), weight numeric(6, 2),
        FOREIGN KEY (owner_id, owner_region) REFERENCES owner (id, region) ON DELETE SET NULL ON UPDATE CASCADE)""",
    "CREATE INDEX ix_owner_lower_name ON owner (lower(name), region)",
    "CREATE UNIQUE INDEX ix_owner_partial ON owner (nick) WHERE region > 3",
    "CREATE INDEX ix_pet_owner ON pet (owner_region, owner_id)",
)


@pytest.mark.parametrize("throwaway", ["postgresql"], indirect=True)
@needs("SQLAlchemy", "2.0", "SQLAlchemy's inspector as the reference (1.4's skips expression indexes)")
def test_postgresql_catalog_reflection_matches_the_inspector(throwaway):
    conn = throwaway
    for statement in POSTGRESQL_TABLES:
        conn.exec_driver_sql(statement)
    inspector = sa.inspect(conn)
    for name in ("owner", "pet"):
        fast = schema.reflect_table(inspector, name, conn.dialect)
        parts = reflect._reflect_with_inspector(inspector, name)
        slow = schema.table_schema(name, inspector.get_columns(name), parts, conn.dialect)
        # Indexes apart: the inspector reads an expression index's columns only, and no WHERE clause.
        assert fast == dataclasses.replace(slow, indexes=fast.indexes)
        assert fast.links == slow.links
    owner = schema.reflect_table(inspector, "owner", conn.dialect)
    assert owner.primary_key == ("id", "region")
    assert owner.unique == frozenset({"(name, nick)"})
    assert owner.indexes == frozenset(
        {
            "index ix_owner_lower_name on (lower(name), region)",
            "unique index ix_owner_partial on (nick) WHERE (region > 3)",
        }
    )
    assert owner.checks == frozenset({"region > 0 and region < 100", "name <> ''::text or nick is not null"})
    pet = schema.reflect_table(inspector, "pet", conn.dialect)
    assert pet.foreign_keys == frozenset(
        {"(owner_id, owner_region) -> owner(id, region) ON DELETE SET NULL ON UPDATE CASCADE"}
    )
    assert pet.generated == frozenset({"id"})


@pytest.mark.parametrize("throwaway", ["mysql"], indirect=True)
def test_mysql_fingerprint_follows_the_schema_and_not_the_rows(throwaway):
    conn = throwaway
    conn.exec_driver_sql("CREATE TABLE owner (id integer PRIMARY KEY AUTO_INCREMENT, name varchar(20))")
    conn.exec_driver_sql(
        "CREATE TABLE pet (id integer PRIMARY KEY AUTO_INCREMENT, owner_id integer, "
        "CONSTRAINT fk_pet_owner FOREIGN KEY (owner_id) REFERENCES owner (id))"
    )

    def prints() -> dict[str, str]:
        return reflect._table_fingerprints(conn)[0]

    start = prints()
    assert set(start) == {"owner", "pet"}
    conn.exec_driver_sql("INSERT INTO owner (name) VALUES ('a'), ('b')")
    assert prints() == start, "inserting rows (the AUTO_INCREMENT counter) is not a schema change"
    for change, table in (
        ("ALTER TABLE owner ALTER COLUMN name SET DEFAULT 'x'", "owner"),
        ("CREATE INDEX ix_owner_name ON owner (name)", "owner"),
        ("ALTER TABLE owner ADD CONSTRAINT ck_name CHECK (name <> '')", "owner"),
        ("ALTER TABLE pet DROP FOREIGN KEY fk_pet_owner", "pet"),
        (
            "ALTER TABLE pet ADD CONSTRAINT fk_pet_owner FOREIGN KEY (owner_id) REFERENCES owner (id) ON DELETE CASCADE",
            "pet",
        ),
    ):
        before = prints()
        conn.exec_driver_sql(change)
        after = prints()
        assert after[table] != before[table], change
        assert {k: v for k, v in after.items() if k != table} == {k: v for k, v in before.items() if k != table}
