"""pytest hooks: wires pytest to the rest of the package and does little else."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_migrations import hooks
from pytest_migrations.fixtures import migrations_engine, migrator  # noqa: F401 - fixtures registered here
from pytest_migrations.runtime import get_session, record_warnings, require_supported_stack, unsupported_stack
from pytest_migrations.settings import add_options

# SQLAlchemy and Alembic are imported only once a run needs them: a session without
# --migrations (and without the migrator fixture) pays nothing for this plugin.
if TYPE_CHECKING:
    pass

COLLECTED = pytest.StashKey[bool]()
ITEMS_IN_RUN = pytest.StashKey[set]()  # names of the built-in items the run will run (after -k, --lf, --deselect)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """A misspelt --migrations-* option: argparse refuses it later, without naming the one that was meant."""
    from pytest_migrations.settings import unknown_options

    misspelt = unknown_options(args)
    if misspelt:
        raise pytest.UsageError(misspelt)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "migrations: a built-in pytest-migrations check")
    if config.getoption("--migrations-only"):
        config.option.migrations = True
    if not config.getoption("--migrations"):
        return
    from pytest_migrations.settings import unknown_ini_keys

    misspelt = unknown_ini_keys(_unknown_ini_keys(config))
    if misspelt:  # a key that does nothing, silently, would run other checks than the user asked for
        raise pytest.UsageError(misspelt)
    require_supported_stack(config)
    from pytest_migrations.project import ProjectError
    from pytest_migrations.reporting import Summary

    session = get_session(config)
    try:
        session.validate()
    except ProjectError as exc:
        raise pytest.UsageError(f"pytest-migrations: {exc}") from None
    reports = (
        {}
        if hasattr(config, "workerinput")
        else {  # the controller writes them, from every worker's records
            "report_path": session.settings.report_path,
            "report_md_path": session.settings.report_md_path,
        }
    )
    config.pluginmanager.register(Summary(**reports), "pytest_migrations_summary")


def _unknown_ini_keys(config: pytest.Config) -> set[str]:
    """The ini keys no plugin registered (pytest's own list; config.inicfg is deprecated in pytest 9)."""
    getter = getattr(config, "_get_unknown_ini_keys", None)
    if getter is not None:
        return set(getter())
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return set(config.inicfg)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist: with --dist load (the default of -n), one worker runs all checks of an engine."""
    if config.getoption("--migrations") and config.getvalue("dist") == "load":
        from pytest_migrations.xdist_support import make_scheduler

        return make_scheduler(config, log)
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if not config.getoption("--migrations") or hasattr(config, "workerinput"):
        return
    from pytest_migrations import providers

    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for line in providers.handle_leftovers(get_session(config).settings):
        if reporter is not None:
            reporter.write_line(f"pytest-migrations: {line}", yellow=True)


class MigrationsFile(pytest.File):
    """The Alembic config file; its children are the built-in checks, one per engine."""

    def collect(self) -> list[pytest.Item]:
        from pytest_migrations import checks

        self.config.stash[COLLECTED] = True
        settings = get_session(self.config).settings
        items = []
        wanted = (*checks.CHECKS, checks.LOCKS) if settings.forbid else checks.CHECKS
        for check in wanted:
            for engine in settings.engines:
                if check == checks.SINGLE_HEAD and not settings.version_locations:
                    # A history's heads do not depend on the engine: one item, unless engines have their own.
                    if engine != settings.engines[0]:
                        continue
                    name = check
                else:
                    # The node id spelled as pytest spells a parametrized test's, so that pytest 9's structured
                    # ids (path, names, params) match what --lf / --sw recorded.
                    name = f"{check}[{engine}]"
                item = MigrationCheck.from_parent(
                    self, name=name, nodeid=f"{self.nodeid}::{name}", check=check, engine=engine
                )
                item.add_marker(pytest.mark.migrations)
                items.append(item)
        return items


class CheckFailed(Exception):
    pass


def _skip(reason: str) -> BaseException:
    """A skip reported at the item (alembic.ini), not at the line of the plugin that raised it."""
    try:
        return pytest.skip.Exception(reason, _use_item_location=True)
    except TypeError:  # a pytest without the keyword: the plugin's line, as pytest.skip() gives
        return pytest.skip.Exception(reason)


class MigrationCheck(pytest.Item):
    def __init__(self, *, check: str, engine: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.engine = engine
        self.tracebacks: list[str] = []  # of the errors behind a failure, for --tb=long

    def runtest(self) -> None:
        from pytest_migrations import checks, providers
        from pytest_migrations.reporting import PROPERTY, failure_text, item_record

        session = get_session(self.config)
        report = None
        observations: list = []
        try:
            if self.check == checks.SINGLE_HEAD:
                verdict = checks.single_head_verdict(session.project_for(self.engine), session.settings.expected_heads)
            else:
                report = session.report(self.engine)
                verdict = report.verdicts[self.check]
                observations = session.take_observations(self.engine)
        except providers.ProviderUnavailable as exc:
            self.user_properties.append((PROPERTY, item_record(self.check, self.engine, None)))
            message, first = session.unavailable(self.engine, self.name, exc)
            if not first:
                raise _skip(f"{self.name}: {message}") from None
            raise CheckFailed(providers.mask_text(message)) from None
        server = session.server_description(self.engine)
        record = item_record(self.check, self.engine, report, verdict.notes, server, observations)
        self.user_properties.append((PROPERTY, record))
        if report is not None:
            record_warnings(self, session.take_warnings(self.engine))
        if not verdict.problems:  # a failure's notes are in its message
            for note in verdict.notes:
                self.add_report_section("call", "pytest-migrations notes", note)
        if verdict.problems and report is not None:
            self.blocked(verdict, report)
        if verdict.problems:
            self.tracebacks = verdict.tracebacks
            raise CheckFailed(failure_text(self.check, self.engine, verdict))
        if verdict.skip_reason:
            raise _skip(f"{self.check}[{self.engine}]: {verdict.skip_reason}")

    def blocked(self, verdict: Any, report: Any) -> None:
        """Skip an item whose every problem points at items of this run that fail (one cause, one failure);
        where one of them is not in the run, fail with their cause told here as well."""
        from pytest_migrations.blocked import pointed_at
        from pytest_migrations.reporting import failure_text

        owners = pointed_at(verdict.problems, self.check)
        if owners is None:
            return
        in_run = self.config.stash.get(ITEMS_IN_RUN, set())
        verdicts = report.verdicts
        if not all(
            engine == self.engine and check in verdicts and verdicts[check].problems for check, engine in owners
        ):
            return  # a pointer to something that did not fail: the item's own failure stands as it is
        if all(f"{check}[{engine}]" in in_run for check, engine in owners):
            raise _skip("; ".join(verdict.problems))
        causes = "\n".join(failure_text(check, engine, report.verdicts[check]) for check, engine in sorted(owners))
        self.tracebacks = [t for check, _e in sorted(owners) for t in report.verdicts[check].tracebacks]
        raise CheckFailed(
            failure_text(self.check, self.engine, verdict)
            + "\n(that item is not in this run; what it says:)\n"
            + causes
        )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CheckFailed):
            from pytest_migrations.providers import mask_text
            from pytest_migrations.reporting import failure_repr

            text = str(excinfo.value)
            if (style or self.config.getoption("tbstyle", "auto")) == "long" and self.tracebacks:
                text += "\n\nThe original error (--tb=long):\n" + "\n".join(self.tracebacks)
            return failure_repr(mask_text(text), self.path)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, f"{self.check}[{self.engine}]"  # line 0: skips are reported at the config file


def pytest_collection_finish(session: pytest.Session) -> None:
    """The built-in items this run will run, after -k, --lf and --deselect: a blocked item points at them."""
    session.config.stash[ITEMS_IN_RUN] = {item.name for item in session.items if isinstance(item, MigrationCheck)}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    """What env.py or a revision prints (a URL, with the throwaway server's password) is masked in the report."""
    report = yield
    if report.sections and (isinstance(item, MigrationCheck) or "migrator" in getattr(item, "fixturenames", ())):
        from pytest_migrations.providers import mask_text

        report.sections = [(title, mask_text(content)) for title, content in report.sections]
    return report


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """--migrations-only: nothing but the Alembic config is collected (the project's own tests are not even
    imported); checks whose config lies elsewhere are added after collection."""
    if not config.getoption("--migrations-only"):
        return None
    target = get_session(config).settings.config_path
    if target is not None and (collection_path == target or collection_path in target.parents):
        return None
    return True


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    config = parent.config
    if not config.getoption("--migrations"):
        return None
    if file_path == get_session(config).project.config_path:
        return MigrationsFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add the checks when the Alembic config lies outside what pytest collected."""
    if not config.getoption("--migrations") or config.stash.get(COLLECTED, False):
        return
    if any("::" in str(arg) for arg in config.args):
        return  # the user picked items by node id
    path = get_session(config).project.config_path
    items.extend(MigrationsFile.from_parent(session, path=path).collect())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "migrations_engine" in metafunc.fixturenames and not _picks_its_engines(metafunc):
        if unsupported_stack(metafunc.config):  # the migrator fixture fails the test, saying why
            return
        engines = get_session(metafunc.config).settings.engines
        metafunc.parametrize("migrations_engine", engines, ids=list(engines))


def _picks_its_engines(metafunc: pytest.Metafunc) -> bool:
    """A test parametrized over `migrations_engine` itself runs on the engines it names, not on the matrix."""
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",")]
        if "migrations_engine" in names:
            return True
    return False


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if not config.getoption("--migrations"):
        return None
    from pytest_migrations.reporting import header_lines

    return header_lines(get_session(config))
