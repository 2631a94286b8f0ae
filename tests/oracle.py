"""Plain Alembic as the oracle: the verdicts a user would see running one `alembic` command at a time.

For each revision r in upgrade order, on a database at r's parent:

    alembic upgrade r        -> upgrade ok?
    alembic downgrade -1     -> downgrade ok? does the schema equal the one before r?
    alembic upgrade +1       -> re-upgrade ok? does the schema equal the one after the first upgrade?

When the downgrade or the re-upgrade fails, or the cycle changed the schema, the database is rebuilt
with `alembic upgrade r` on a fresh database, as a user would start again. Then head -> base
(`alembic downgrade base`) and base -> head again. Each command is Alembic's own `command.upgrade` /
`command.downgrade`, running the project's env.py unmodified on a database this module creates and
drops; schemas are compared with SQLAlchemy's inspector, independently of the plugin's own reader.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from conftest import SERVER_URLS


@dataclass
class Facts:
    """Per revision: None where the step was not reached."""

    upgrade: dict[str, bool] = field(default_factory=dict)
    downgrade: dict[str, bool] = field(default_factory=dict)
    reupgrade: dict[str, bool] = field(default_factory=dict)
    stepwise_equal: dict[str, bool] = field(default_factory=dict)  # the cycle gave back both schemas
    head_to_base: bool | None = None
    base_to_head_again: bool | None = None

    def verdicts(self) -> dict[str, str]:
        """The checks a user would call failed or passed, from these facts."""
        ups = list(self.upgrade.values())
        cycles = [
            self.downgrade.get(rev, True) and self.reupgrade.get(rev, True) and self.stepwise_equal.get(rev, True)
            for rev in self.upgrade
        ]
        return {
            "test_upgrade": "passed" if ups and all(ups) else "failed",
            "test_stepwise_roundtrip": "passed" if all(cycles) and all(ups) else "failed",
            "test_downgrade": "passed" if self.head_to_base else "failed",
            "test_roundtrip": "passed" if self.head_to_base and self.base_to_head_again else "failed",
        }


@contextlib.contextmanager
def fresh_database(engine: str, directory: Path) -> Iterator[sa.engine.URL]:
    """A database of `engine` for the oracle alone, dropped afterwards."""
    if engine == "sqlite":
        path = directory / f"oracle-{uuid.uuid4().hex[:8]}.sqlite"
        try:
            yield sa.engine.URL.create("sqlite", database=str(path))
        finally:
            path.unlink(missing_ok=True)
        return
    admin_url = sa.engine.make_url(SERVER_URLS[engine])
    if "+" not in admin_url.drivername:  # the drivers the suite installs, whatever SQLAlchemy's default
        admin_url = admin_url.set(drivername={"postgresql": "postgresql+psycopg2", "mysql": "mysql+pymysql"}[engine])
    name = f"oracle_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield admin_url.set(database=name)
    finally:
        with admin.connect() as conn:
            if engine == "postgresql":
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


def schema_of(url: sa.engine.URL) -> dict[str, Any]:
    """Tables, columns, keys and indexes, as SQLAlchemy's inspector reads them (the version table left out)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        inspector = sa.inspect(engine)
        found: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            if table == "alembic_version":
                continue
            found[table] = {
                "columns": sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)),
                "pk": sorted(inspector.get_pk_constraint(table).get("constrained_columns") or []),
                "fks": sorted(
                    (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
                    for fk in inspector.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (tuple(str(c) for c in ix["column_names"]), bool(ix["unique"]))
                    for ix in inspector.get_indexes(table)
                ),
            }
        return found
    finally:
        engine.dispose()


class Alembic:
    """`alembic -c alembic.ini <command>` against one database, in this process."""

    def __init__(self, root: Path, url: sa.engine.URL) -> None:
        self.root, self.url = root, url
        self.config = Config(str(root / "alembic.ini"))
        self.config.set_main_option("sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%"))

    def run(self, verb: str, *target: str) -> bool:
        """True if the command succeeded; the project's modules are imported afresh, as by a new process."""
        for name in [name for name, module in sys.modules.items() if _from(module, self.root)]:
            del sys.modules[name]
        sys.path.insert(0, str(self.root))
        try:
            getattr(command, verb)(self.config, *target)
            return True
        except Exception:
            return False
        finally:
            sys.path.remove(str(self.root))


def _from(module: Any, root: Path) -> bool:
    path = getattr(module, "__file__", None)
    return bool(path) and Path(path).resolve().is_relative_to(root.resolve())


def plain_alembic_facts(root: Path, engine: str, scratch: Path) -> Facts:
    """What plain Alembic, one command at a time, says of every revision of the project at `root`."""
    script = ScriptDirectory.from_config(Config(str(root / "alembic.ini")))
    order = [rev.revision for rev in reversed(list(script.walk_revisions("base", "heads")))]
    facts = Facts()
    stack = contextlib.ExitStack()
    with stack:
        url = stack.enter_context(fresh_database(engine, scratch))
        alembic = Alembic(root, url)
        initial = before = schema_of(url)
        for rev in order:
            ok = alembic.run("upgrade", rev)
            facts.upgrade[rev] = ok
            if not ok:
                return facts  # the user's `alembic upgrade head` stops here too
            after = schema_of(url)
            down = alembic.run("downgrade", "-1")
            facts.downgrade[rev] = down
            clean = down
            if down:
                back = schema_of(url)
                again = alembic.run("upgrade", "+1")
                facts.reupgrade[rev] = again
                clean = again and back == before and schema_of(url) == after
                facts.stepwise_equal[rev] = back == before and (not again or schema_of(url) == after)
            if not clean:  # start again from a database upgraded to rev
                url = stack.enter_context(fresh_database(engine, scratch))
                alembic = Alembic(root, url)
                alembic.run("upgrade", rev)
            before = schema_of(url)
        head = schema_of(url)
        facts.head_to_base = alembic.run("downgrade", "base") and schema_of(url) == initial
        if facts.head_to_base:
            facts.base_to_head_again = alembic.run("upgrade", "heads") and schema_of(url) == head
    return facts
