"""Hooks users may implement in conftest.py."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_migrations_rows(revision: str, table: str) -> list[dict[str, Any]] | None:
    """Rows to insert into `table` while the history stands at `revision` (`base` before the first).

    Return None to let pytest-migrations generate rows, or a list of dicts (column -> value)
    for tables whose constraints generation cannot satisfy or where real-looking data matters.
    """


@pytest.hookspec
def pytest_migrations_prepare_database(connection: Any, engine: str) -> None:
    """Build what the history's first revision expects to exist, on each fresh throwaway database.

    Called before any migration runs, for the walk's databases and the `migrator` fixture's,
    with a SQLAlchemy connection inside a transaction that is committed afterwards (do not commit
    it yourself). For histories
    that start by altering tables an older `create_all()` made. What it builds is the base state:
    test_downgrade expects to find it again after downgrading to base. `engine` is the engine id
    (`sqlite`, `postgresql`, `mysql`).
    """


@pytest.hookspec
def pytest_migrations_run_env(run: Any) -> None:
    """Wrap each run of env.py: call `run()` once, inside whatever env.py needs around it.

    For env.py files that must run in a worker thread, an application's event loop or
    context the plugin cannot know, e.g.::

        def pytest_migrations_run_env(run):
            anyio.run(anyio.to_thread.run_sync, run)

    Implement it once; exceptions `run()` raises must reach the caller. `run.url` is the throwaway
    database's URL and `run.urls` every database's by name (the multidb template's), for an
    application that read its settings at import::

        def pytest_migrations_run_env(run):
            get_settings().database_url = run.url
            run()
    """
