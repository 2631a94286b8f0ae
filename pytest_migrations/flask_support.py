"""Flask-SQLAlchemy and Flask-Migrate: test an app's migrations with its env.py exactly as `flask db init` wrote it.

Flask-Migrate's env.py takes its engines from the app (`db.engines`), not from
`sqlalchemy.url`, so pointing it at a throwaway database means swapping the
app's engines for the duration of a run, inside an app context, and putting
the originals back afterwards. The app's configuration is never changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from pytest_migrations.project import Project, ProjectError, _short_exception, describe_history
from pytest_migrations.providers import Server


def load_app(ref: str, rootdir: Path, origin: str = "migrations_flask_app") -> Any:
    """`module:app`, `module:create_app()`, `module:create_app('testing')` or `module`, as Flask's --app takes them."""
    try:
        from flask.cli import NoAppException, locate_app
    except ImportError:
        raise ProjectError(
            "migrations_flask_app is set but Flask is not installed: pip install pytest-migrations[flask]"
        ) from None
    module, _, attr = ref.partition(":")
    root = str(rootdir)
    import sys

    if root not in sys.path:
        sys.path.insert(0, root)
    # Lets a factory that runs migrations or create_all itself skip that under test.
    previous = os.environ.get("PYTEST_MIGRATIONS")
    os.environ["PYTEST_MIGRATIONS"] = "1"
    try:
        return locate_app(module, attr or None)
    except NoAppException as exc:
        raise ProjectError(f"{origin} = {ref!r}: {exc}") from None
    except Exception as exc:
        raise ProjectError(f"{origin} = {ref!r}: the app failed to load: {_short_exception(exc)}") from None
    finally:
        if previous is None:
            os.environ.pop("PYTEST_MIGRATIONS", None)
        else:
            os.environ["PYTEST_MIGRATIONS"] = previous


def _bind_keys(db: Any, app: Any) -> list[str | None]:
    with app.app_context():
        return list(db.engines.keys())


@contextmanager
def app_targeting(app: Any, db: Any, url: URL, server: Server | None) -> Iterator[None]:
    """Run inside an app context with every engine of `db` pointing at a throwaway database."""
    with app.app_context():
        engines = db._app_engines[app]
        saved = dict(engines)
        extra = []
        replacements: dict[str | None, sa.Engine] = {}
        try:
            for key in saved:
                if key is None:
                    target = url
                else:
                    if server is None:
                        raise ProjectError(f"bind {key!r} needs a throwaway database but no server was given")
                    database = server.create_database()
                    extra.append(database)
                    target = database.url
                replacements[key] = sa.create_engine(target, poolclass=NullPool)
            engines.clear()
            engines.update(replacements)
            yield
        finally:
            engines.clear()
            engines.update(saved)
            for engine in replacements.values():
                engine.dispose()
            for database in extra:
                database.drop()


def load_flask_project(ref: str, rootdir: Path, origin: str = "migrations_flask_app") -> Project:
    """`origin` names where `ref` came from (flag, ini key or FLASK_APP), for the messages."""
    app = load_app(ref, rootdir, origin)
    state = getattr(app, "extensions", {}).get("migrate")
    if state is None:
        raise ProjectError(f"{origin} = {ref!r}: the app has no Flask-Migrate extension; call Migrate(app, db) in it.")
    migrate = state.migrate
    db = state.db
    directory = Path(migrate.directory)
    if not directory.is_absolute():
        candidates = [rootdir / directory, Path(app.root_path) / directory, Path(app.root_path).parent / directory]
        directory = next((c for c in candidates if c.exists()), candidates[0])
    if not (directory / "env.py").exists():
        raise ProjectError(
            f"Flask-Migrate's migrations directory {directory} has no env.py; run `flask db init` "
            "(or pass directory= to Migrate) first."
        )

    def make_config() -> Any:
        with app.app_context():
            return migrate.get_config(str(directory))

    def environment(url: URL, server: Server | None) -> Any:
        return app_targeting(app, db, url, server)

    project = describe_history(
        config_path=directory / "alembic.ini",
        rootdir=rootdir,
        config=make_config(),
    )
    project.config_factory = make_config
    project.environment = environment
    project.flask_binds = _bind_keys(db, app)
    return project
