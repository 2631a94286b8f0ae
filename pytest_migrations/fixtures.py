"""The `migrator` fixture: a throwaway database at base, on each engine of the matrix."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_migrations.migrator import Migrator


@pytest.fixture
def migrations_engine(request: pytest.FixtureRequest) -> str:
    """The engine id the current test runs on; parametrized over the configured engines."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def migrator(request: pytest.FixtureRequest, migrations_engine: str) -> Iterator[Migrator]:
    from pytest_migrations.runtime import get_session, record_warnings, unsupported_stack

    unsupported = unsupported_stack(request.config)  # before importing what an unsupported SQLAlchemy breaks
    if unsupported is not None:
        pytest.fail(f"migrator: pytest-migrations: {unsupported}", pytrace=False)
    from pytest_migrations.migrator import Migrator
    from pytest_migrations.providers import ProviderUnavailable
    from pytest_migrations.settings import engine_name
    from pytest_migrations.walk import PrepareFailed, fresh_database

    problem = None
    try:  # failing outside the except block keeps the message alone, with no chained traceback
        session = get_session(request.config)
        # A test may parametrize migrations_engine itself, with any name a user would write.
        engine = engine_name(migrations_engine, "@pytest.mark.parametrize('migrations_engine', ...)")
        database = fresh_database(session.server(engine), session.find_preparer())
    except ProviderUnavailable as exc:  # told once per engine; later tests point at the one that told it
        # A test of the project's own fails each time: skipped, it would pass a run that tested nothing.
        message, first = session.unavailable(engine, request.node.name, exc)
        problem = message if first else f"{request.node.name}: {message}"
    except (PrepareFailed, pytest.UsageError) as exc:
        problem = f"migrator[{migrations_engine}]: {exc}"
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    project = session.project_for(engine)
    migrator = Migrator(project, database)
    # For a Flask app: an app context for the whole test, its engines (and binds) on throwaway databases.
    environment = project.environment(database.url, database.server) if project.environment else nullcontext()
    try:
        with environment:
            yield migrator
    finally:
        migrator.close()
        database.drop()
        record_warnings(request.node, migrator.warnings)
