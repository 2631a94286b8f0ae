"""What the plugin's hooks and its fixtures share: the session in the config's stash, the stack check, warnings.

Kept apart from plugin.py so that the fixtures reach them without importing the hooks module that
registers the fixtures (data flows one way: plugin -> fixtures -> runtime -> session).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from pytest_migrations.settings import read_settings

if TYPE_CHECKING:
    from pytest_migrations.session import MigrationsSession

SESSION = pytest.StashKey["MigrationsSession"]()
STACK_PROBLEM = pytest.StashKey["str | None"]()


def unsupported_stack(config: pytest.Config) -> str | None:
    """What is wrong with the installed SQLAlchemy, Alembic or pytest, or None; asked before anything imports them."""
    if STACK_PROBLEM not in config.stash:
        from pytest_migrations.stack import CORE, check_installed

        config.stash[STACK_PROBLEM] = check_installed(CORE)
    return config.stash[STACK_PROBLEM]


def require_supported_stack(config: pytest.Config) -> None:
    """One usage error naming each unsupported package, instead of an INTERNALERROR deep inside a walk."""
    problem = unsupported_stack(config)
    if problem is not None:
        raise pytest.UsageError(f"pytest-migrations: {problem}")


def get_session(config: pytest.Config) -> MigrationsSession:
    require_supported_stack(config)
    from pytest_migrations.session import MigrationsSession

    if SESSION not in config.stash:
        settings = read_settings(config)

        def supply(revision: str, table: str) -> list[dict[str, Any]] | None:
            return config.hook.pytest_migrations_rows(revision=revision, table=table)

        def prepare(connection: Any, engine: str) -> None:
            config.hook.pytest_migrations_prepare_database(connection=connection, engine=engine)

        def find_preparer() -> Callable[[Any, str], None] | None:
            # Asked when a database is made, not now: conftest.py files below the rootdir load later.
            return prepare if config.hook.pytest_migrations_prepare_database.get_hookimpls() else None

        def run_env(run: Callable[[], None]) -> None:
            # Looked up at each run, like the preparer: a conftest.py below the rootdir may implement it.
            if config.hook.pytest_migrations_run_env.get_hookimpls():
                config.hook.pytest_migrations_run_env(run=run)
            else:
                run()

        def make_progress() -> Any:
            from pytest_migrations.progress import terminal_progress

            return terminal_progress(config)

        session = MigrationsSession(
            settings, supply_rows=supply, find_preparer=find_preparer, run_env=run_env, make_progress=make_progress
        )
        config.stash[SESSION] = session
        config.add_cleanup(session.close)
        config.add_cleanup(terminate_as_interrupt())
    return config.stash[SESSION]


def record_warnings(item: pytest.Item, found: list[Any]) -> None:
    """Warnings env.py and the revisions raised, into pytest's warnings summary under `item`.

    The project's filters decide what is shown (`ignore` hides a warning), but an `error` filter
    shows it instead of failing: it is meant for the project's tests, and would otherwise fail every
    check of a correct history over a library's deprecation notice.
    """
    import warnings

    for message in found:
        if _filter_action(warnings.filters, message) == "ignore":
            continue
        item.ihook.pytest_warning_recorded.call_historic(
            kwargs=dict(warning_message=message, when="runtest", nodeid=item.nodeid, location=None)
        )


def _filter_action(filters: Any, message: Any) -> str:
    """The action the first matching entry of `filters` takes on `message`, as warnings.warn_explicit decides."""
    import os

    text = str(message.message)
    module = os.path.splitext(os.path.basename(message.filename))[0]
    for action, pattern, category, module_pattern, lineno in filters:
        if (
            _matches(pattern, text)
            and issubclass(message.category, category)
            and _matches(module_pattern, module)
            and (lineno == 0 or lineno == message.lineno)
        ):
            return action
    return "default"


def _matches(pattern: Any, text: str) -> bool:
    """A filter field as the warnings module reads it: None for any, a regex, or (Python's own defaults) a string."""
    if pattern is None:
        return True
    return pattern == text if isinstance(pattern, str) else bool(pattern.match(text))


def terminate_as_interrupt() -> Callable[[], None]:
    """SIGTERM (a cancelled CI job, `timeout`, `docker stop`) stops the run as Ctrl-C does.

    Python's default for SIGTERM ends the process on the spot: throwaway databases stay on the
    server and private servers keep running. Routed to the SIGINT handler (the walk's own while it
    runs, which notices interrupts a migration swallows), it unwinds through the same cleanup.
    Only when nobody else handles SIGTERM, and only in the main thread. Returns the undo.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        return lambda: None

    def on_terminate(signum: int, frame: Any) -> None:
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_terminate)
    return lambda: signal.signal(signal.SIGTERM, previous)
