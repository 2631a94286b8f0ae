"""Flask-SQLAlchemy and Flask-Migrate: test an app's migrations with its env.py exactly as `flask db init` wrote it.

Flask-Migrate's env.py takes its engines from the app (`db.engines`), not from
`sqlalchemy.url`, so pointing it at a throwaway database means swapping the
app's engines for the duration of a run, inside an app context, and putting
the originals back afterwards. The app's configuration is never changed.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from pytest_migrations.compat import flask_bind_keys, flask_engine, flask_engines_replaced
from pytest_migrations.project import (
    Project,
    ProjectError,
    _short_exception,
    builds_async_engine,
    describe_history,
    importable,
)
from pytest_migrations.providers import Server
from pytest_migrations.stack import FLASK, check_installed


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ where not already set (as `flask` loads .env files), then as before."""
    added = {key: value for key, value in values.items() if key not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def load_app(ref: str, rootdir: Path, origin: str = "migrations_flask_app", env: dict[str, str] | None = None) -> Any:
    """Load the app as `flask --app REF` does, from the rootdir.

    REF is `module`, `module:app`, `module:create_app()`, `module:create_app('testing')`, or a file
    path in place of the module (`app.py`, `src/app.py:create_app`). `env` holds the rootdir's .env and
    .flaskenv values, set while the app is imported and built, as `flask` sets them.
    """
    try:
        from flask.cli import NoAppException, locate_app, prepare_import
    except ImportError:
        raise ProjectError(
            f"{origin} names a Flask app but Flask is not installed: pip install pytest-migrations[flask]"
        ) from None
    # Flask's own split: a colon that starts a Windows drive or path is not the app's name.
    parts = re.split(r":(?![\\/])", ref, maxsplit=1)
    path, name = parts[0], parts[1] if len(parts) > 1 else ""
    previous = os.environ.get("PYTEST_MIGRATIONS")
    os.environ["PYTEST_MIGRATIONS"] = "1"  # lets a factory that migrates or runs create_all skip that under test
    try:
        with _environ(env or {}):
            # Relative to the rootdir, as `flask` takes it relative to where it runs.
            module = prepare_import(str(rootdir / path))
            if "script_info" in inspect.signature(locate_app).parameters:  # Flask < 2.2 takes a ScriptInfo first
                from flask.cli import ScriptInfo

                return locate_app(ScriptInfo(), module, name or None)
            return locate_app(module, name or None)
    except NoAppException as exc:
        # Flask < 2.0 words a missing factory as Python does; said as later Flasks say it.
        text = re.sub(
            r"^module '([^']+)' has no attribute '([^']+)'$", r"Failed to find attribute '\2' in '\1'.", str(exc)
        )
        raise ProjectError(f"{origin} = {ref!r}: {text}") from None
    except Exception as exc:
        raise ProjectError(f"{origin} = {ref!r}: the app failed to load: {_short_exception(exc)}") from None
    finally:
        if previous is None:
            os.environ.pop("PYTEST_MIGRATIONS", None)
        else:
            os.environ["PYTEST_MIGRATIONS"] = previous


def flask_alembic_message(app: Any) -> str:
    """What to write to check an app whose migrations Flask-Alembic runs: it builds Alembic's config in code
    and runs no env.py, and the walk runs a history through its env.py, as `alembic` and Flask-Migrate do."""
    settings = app.config.get("ALEMBIC", {}) if hasattr(app, "config") else {}
    location = str(settings.get("script_location", "migrations"))
    if not os.path.isabs(location) and ":" not in location:
        location = os.path.join(app.root_path, location)
    return (
        "the app runs its migrations with Flask-Alembic, which builds Alembic's config in code and has no env.py; "
        "pytest-migrations runs a history through its env.py, as `alembic` and Flask-Migrate do. To check it, give "
        "the history an env.py and an ini file of its own beside the app: run `alembic init -t generic "
        "alembic_env`, set `version_locations = " + location + "` in the alembic.ini it writes (Flask-Alembic "
        "keeps the revisions there), set `target_metadata = db.metadata` in alembic_env/env.py (importing db "
        "from the app), and run `pytest --migrations alembic.ini`."
    )


def _bind_keys(db: Any, app: Any) -> list[str | None]:
    with app.app_context():
        return flask_bind_keys(db, app)


@contextmanager
def app_targeting(app: Any, db: Any, url: URL, server: Server | None) -> Iterator[None]:
    """Run inside an app context with every engine of `db`, and the app's database settings, on throwaway databases.

    The settings matter to env.py files in Flask-Migrate's older style, which read
    SQLALCHEMY_DATABASE_URI from the app's config instead of taking the engine.
    """
    with app.app_context():
        saved_config = {key: app.config[key] for key in _URL_SETTINGS if key in app.config}
        extra = []
        replacements: dict[str | None, sa.engine.Engine] = {}
        try:
            for key in flask_bind_keys(db, app):
                if key is None:
                    target = url
                else:
                    if server is None:
                        raise ProjectError(f"bind {key!r} needs a throwaway database but no server was given")
                    database = server.create_database()
                    extra.append(database)
                    target = database.url
                replacements[key] = flask_engine(db, target)
            shown = {key: engine.url.render_as_string(hide_password=False) for key, engine in replacements.items()}
            app.config["SQLALCHEMY_DATABASE_URI"] = shown.get(None, url.render_as_string(hide_password=False))
            app.config["SQLALCHEMY_BINDS"] = {key: value for key, value in shown.items() if key is not None}
            with flask_engines_replaced(db, app, replacements):
                yield
        finally:
            for key in _URL_SETTINGS:
                app.config.pop(key, None)
            app.config.update(saved_config)
            for engine in replacements.values():
                engine.dispose()
            for database in extra:
                database.drop()


_URL_SETTINGS = ("SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_BINDS")


def load_flask_project(
    ref: str, rootdir: Path, origin: str = "migrations_flask_app", env: dict[str, str] | None = None
) -> Project:
    """`origin` names where `ref` came from (flag, ini key or FLASK_APP), for the messages."""
    problem = check_installed(FLASK)
    if problem is not None:  # before the app imports them: an old Flask-SQLAlchemy fails in ways that hide this
        raise ProjectError(f"{origin} = {ref!r}: {problem}")
    saved = list(sys.path)
    try:
        app = load_app(ref, rootdir, origin, env)
    finally:  # flask's prepare_import puts the app's directory on sys.path; only while the plugin needs it
        added = tuple(path for path in sys.path if path not in saved)
        sys.path[:] = saved
    paths = (*added, str(rootdir))
    state = getattr(app, "extensions", {}).get("migrate")
    if state is None and "alembic" in getattr(app, "extensions", {}):
        raise ProjectError(f"{origin} = {ref!r}: {flask_alembic_message(app)}")
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

    with importable(paths), app.app_context():  # revision files load as under `flask db`: current_app works
        project = describe_history(config_path=directory / "alembic.ini", rootdir=rootdir, config=make_config())
    project.import_paths = paths
    project.config_factory = make_config
    project.environment = environment
    project.flask_binds = _bind_keys(db, app)
    project.async_env = builds_async_engine(directory / "env.py")
    return project
