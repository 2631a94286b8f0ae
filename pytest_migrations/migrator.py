"""The `migrator` object: a throwaway database at base that a test moves through the history."""

from __future__ import annotations

import warnings
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy.pool import NullPool

from pytest_migrations import compat
from pytest_migrations.environment import run_env
from pytest_migrations.project import Project
from pytest_migrations.providers import Database


class Migrator:
    """Upgrade, downgrade and look at one throwaway database."""

    def __init__(self, project: Project, database: Database) -> None:
        self.project = project
        self.database = database
        self.engine: sa.Engine = compat.create_engine(database.url, poolclass=NullPool)
        self._connection: sa.Connection | None = None
        self.warnings: list[warnings.WarningMessage] = []  # raised by env.py and revisions, for pytest's summary

    @property
    def revisions(self) -> list[str]:
        """Revision ids in upgrade order (base first)."""
        return [rev.id for rev in self.project.revisions]

    @property
    def connection(self) -> sa.Connection:
        """A connection for your own SQL; committed before every migration step."""
        if self._connection is None:
            self._connection = self.engine.connect()
        return self._connection

    def _release(self) -> None:
        if self._connection is not None and self._connection.in_transaction():
            self._connection.commit()

    def _run(self, action: str, revision: str) -> None:
        """What `alembic upgrade/downgrade REV` does, but refusing any database env.py finds other than ours."""
        self._release()
        url = self.database.url

        def steps(current: Any, context: Any) -> Any:
            script = context.script or self.project.script
            if action == "upgrade":
                return script._upgrade_revs(revision, current)
            return script._downgrade_revs(revision, current)

        # The fixture holds a Flask app's engines on throwaway databases for the whole test (app=False).
        run_env(self.project, url, self.database.server, self.warnings, app=False, fn=steps, destination_rev=revision)

    def upgrade(self, revision: str = "heads") -> None:
        self._run("upgrade", revision)

    def downgrade(self, revision: str = "base") -> None:
        self._run("downgrade", revision)

    def current(self) -> tuple[str, ...]:
        """The revision ids the database is at (empty at base)."""
        self._release()
        with self.engine.connect() as conn:
            return tuple(MigrationContext.configure(conn).get_current_heads())

    def table(self, name: str) -> sa.Table:
        """`name` as reflected at the current revision."""
        self._release()
        return sa.Table(name, sa.MetaData(), autoload_with=self.engine)

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        reflected = self.table(table)
        with self.engine.begin() as conn:
            conn.execute(reflected.insert(), rows)

    def rows(self, table: str, order_by: str | list[str] | None = None) -> list[dict[str, Any]]:
        """Every row as a dict, ordered by `order_by` or else by the primary key."""
        reflected = self.table(table)
        if order_by is None:
            keys = [reflected.c[c.name] for c in reflected.primary_key.columns] or list(reflected.c)
        else:
            keys = [reflected.c[name] for name in ([order_by] if isinstance(order_by, str) else order_by)]
        with self.engine.connect() as conn, compat.reading_rows(conn):
            return [dict(row) for row in conn.execute(sa.select(reflected).order_by(*keys)).mappings()]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.engine.dispose()
