"""The per-process state of a run: project, servers and walk results, created lazily, closed once.

One `MigrationsSession` lives in the pytest config's stash. Under pytest-xdist
each worker has its own, so servers and throwaway databases are never shared.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_migrations import checks
from pytest_migrations.environment import EnvRunner
from pytest_migrations.project import Project, ProjectError, import_object, load_project
from pytest_migrations.providers import ProviderUnavailable, Server, open_server
from pytest_migrations.schema import check_ignore_rule
from pytest_migrations.seeding import RowSupplier
from pytest_migrations.settings import Settings
from pytest_migrations.walk import Preparer


@dataclass
class MigrationsSession:
    settings: Settings
    supply_rows: RowSupplier | None = None
    find_preparer: Callable[[], Preparer | None] = lambda: None  # the pytest_migrations_prepare_database hook
    run_env: EnvRunner | None = None  # the pytest_migrations_run_env hook, around each run of env.py
    make_progress: Callable[[], Any] = lambda: None  # progress.Progress on pytest's terminal, asked when a walk starts
    worker: str = field(default_factory=lambda: os.environ.get("PYTEST_XDIST_WORKER", "main"))
    _project: Project | None = None
    _engine_projects: dict[str, Project] = field(default_factory=dict)
    _options: checks.CheckOptions | None = None
    _metadata: Any = None
    _servers: dict[str, Server] = field(default_factory=dict)
    _server_errors: dict[str, str] = field(default_factory=dict)
    _told: dict[str, str] = field(default_factory=dict)  # engine -> the item whose failure gave its server's message
    _reports: dict[str, checks.EngineReport] = field(default_factory=dict)
    _load_warnings: list[Any] = field(default_factory=list)  # raised while the project's code loaded

    def __post_init__(self) -> None:
        from pytest_migrations.connect_timeout import set_connect_timeout

        set_connect_timeout(self.settings.connect_timeout)

    @property
    def project(self) -> Project:
        if self._project is None and self.settings.flask_app:
            from pytest_migrations.flask_support import load_flask_project

            self._project = load_flask_project(
                self.settings.flask_app, self.settings.rootdir, self.settings.flask_app_origin, self.settings.flask_env
            )
        if self._project is None:
            if self.settings.config_path is None:
                raise ProjectError(
                    f"no Alembic config found ({self.settings.config_origin}); set --migrations-config PATH, "
                    "the migrations_config ini key, or migrations_flask_app for a Flask-Migrate app."
                )
            self._project = load_project(self.settings.config_path, self.settings.config_origin, self.settings.rootdir)
        self._project.url_env = self.settings.url_env
        self._project.run_env_hook = self.run_env
        self._project.alembic_log = self.settings.alembic_log
        return self._project

    def project_for(self, engine: str) -> Project:
        """The project as `engine` sees it: its own version directories if migrations_version_locations names some."""
        directories = self.settings.version_locations.get(engine)
        if directories is None:
            return self.project
        if engine not in self._engine_projects:
            self._engine_projects[engine] = self.project.with_version_locations(directories, self.settings.rootdir)
        return self._engine_projects[engine]

    @property
    def options(self) -> checks.CheckOptions:
        if self._options is None:
            for rule in self.settings.ignore_rules:
                try:
                    check_ignore_rule(rule)
                except ValueError as exc:
                    raise ProjectError(f"migrations_ignore: {exc}.") from None
            project = self.project
            upgrade_only = "*" in self.settings.irreversible  # the whole history: upgrades only
            self._options = checks.CheckOptions(
                irreversible=frozenset(rev.id for rev in project.revisions)
                if upgrade_only
                else frozenset(project.resolve(ref, "migrations_irreversible") for ref in self.settings.irreversible),
                upgrade_only=upgrade_only,
                allow_data_loss=frozenset(
                    project.resolve(ref, "migrations_allow_data_loss") for ref in self.settings.allow_data_loss
                ),
                ignore_rules=self.settings.ignore_rules,
                rows_per_table=self.settings.rows_per_table,
                seed=self.settings.seed,
                start=self.settings.start,
                model_strict=self.settings.model_strict,
                forbid=self.settings.forbid,
                allow=frozenset(
                    (project.resolve(ref, "migrations_allow"), finding) for ref, finding in self.settings.allow
                ),
                lock_threshold=self.settings.lock_threshold,
                table_rows=self.settings.table_rows,
                volume=self.settings.volume,
            )
        return self._options

    @property
    def metadata(self) -> Any:
        if self._metadata is None and self.settings.metadata_ref:
            origin = "--migrations-metadata / migrations_metadata"
            found = import_object(self.settings.metadata_ref, origin, self.settings.rootdir, self.project.import_paths)
            self._metadata = as_metadata(found, f"{origin} = {self.settings.metadata_ref!r}")
        return self._metadata

    def validate(self) -> None:
        """Everything that can be checked without a database, so bad input is a usage error up front.

        This loads the project's code (the Flask app, the metadata) while pytest configures, where its
        warning filters are not yet in force: the warnings are kept for the first check's report, where
        they are.
        """
        with warnings.catch_warnings(record=True) as found:
            warnings.simplefilter("always")
            _ = self.project, self.options, self.metadata
        self._load_warnings.extend(found)
        for engine in self.settings.version_locations:
            self.project_for(engine)

    def server(self, engine: str) -> Server:
        if engine in self._server_errors:
            raise ProviderUnavailable(self._server_errors[engine])
        if engine not in self._servers:
            try:
                self._servers[engine] = open_server(engine, self.settings, self.worker)
            except ProviderUnavailable as exc:
                self._server_errors[engine] = str(exc)
                raise
        return self._servers[engine]

    def report(self, engine: str) -> checks.EngineReport:
        if engine not in self._reports:
            server = self.server(engine)
            try:
                self._reports[engine] = checks.run_engine(
                    self.project_for(engine),
                    server,
                    self.options,
                    self.metadata,
                    self.supply_rows,
                    self.find_preparer(),
                    self.make_progress(),
                )
            except ProviderUnavailable as exc:  # e.g. the account may not create databases: once is enough
                self._server_errors[engine] = str(exc)
                raise
        return self._reports[engine]

    def server_description(self, engine: str) -> str | None:
        """What runs `engine`'s checks in this process (provider, version, image or masked URL), once it is open."""
        server = self._servers.get(engine)
        return server.describe() if server is not None else None

    def unavailable(self, engine: str, item: str, exc: ProviderUnavailable) -> tuple[str, bool]:
        """The server's message for the first item that meets it, and True; a pointer to that item for the
        others, and False (one cause, one failure: they are skipped, the first one fails in this run).

        The session remembers the failure (no second pull or connect per item), and the report says it once.
        """
        first = self._told.setdefault(engine, item)
        if first == item:
            return f"{item} could not run: {exc}", True
        # Not "no server": the cause may be a missing driver, an account without rights, a URL that cannot be read.
        return f"not checked: {engine} cannot be used here (see {first} for why).", False

    def take_warnings(self, engine: str) -> list[Any]:
        """The warnings the walk of `engine` recorded, handed out once (to the first of its items that runs),
        with those the project's code raised as it loaded (to the first item of any engine)."""
        report = self._reports.get(engine)
        if report is None:
            return []
        found, report.warnings = self._load_warnings + report.warnings, []
        self._load_warnings = []
        return found

    def take_observations(self, engine: str) -> list[dict[str, Any]]:
        """What the walk of `engine` observed, as report records, handed out once (to the first of its items):
        with every statement when a report file is asked for, else what the summary shows."""
        report = self._reports.get(engine)
        if report is None or not report.observations:
            return []
        found, report.observations = report.observations, []
        full = self.settings.report_path is not None or self.settings.report_md_path is not None
        return [step.as_record(statements=full) for step in found]

    def close(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


def as_metadata(found: Any, origin: str) -> Any:
    """The MetaData `found` is or holds: a declarative Base and Flask-SQLAlchemy's `db` carry one as `.metadata`."""
    import sqlalchemy as sa

    if isinstance(found, sa.MetaData):
        return found
    if isinstance(found, (list, tuple)):  # Alembic takes a sequence of MetaData too
        if not found:
            raise ProjectError(f"{origin} is an empty list; name a MetaData, or a list of them.")
        return [as_metadata(item, f"{origin}, item {index}") for index, item in enumerate(found)]
    held = getattr(found, "metadata", None)
    if isinstance(held, sa.MetaData) and not isinstance(found, sa.Table):  # a Table is one table, not the model
        return held
    raise ProjectError(
        f"{origin} is {type(found).__name__!r}, not a SQLAlchemy MetaData; name the MetaData itself, "
        "e.g. myapp.models:Base.metadata or myapp.models:metadata."
    )
