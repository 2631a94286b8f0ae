"""The plugin's own connections through an async driver, for projects that install no sync one.

The plugin's code is synchronous (as Alembic's is). SQLAlchemy's async dialects wrap their
driver in a DBAPI-shaped adapter whose methods await the driver's coroutines with `await_()`,
which only works inside a greenlet started by `greenlet_spawn`. Here every call on such an
adapter (connection or cursor) runs in a greenlet of that kind, and each coroutine it awaits
runs on one event loop in a background thread, the loop the driver's connections belong to.
So the walk, seeding and reflection use an asyncpg/aiosqlite/asyncmy/aiomysql/psycopg-async
connection as they use a sync one, from any thread, with no event loop of the caller's: an
async env.py still runs its own `asyncio.run()` in the main thread.

Only used when no sync driver of the engine is installed (see providers.url.with_driver).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

T = TypeVar("T")
_LOOP: asyncio.AbstractEventLoop | None = None
_THREAD: threading.Thread | None = None
_LOCK = threading.Lock()


def _loop() -> asyncio.AbstractEventLoop:
    """The session's background event loop, started on first use (a daemon thread: it never blocks exit)."""
    global _LOOP, _THREAD
    with _LOCK:
        if _LOOP is None:
            loop = asyncio.new_event_loop()
            _THREAD = threading.Thread(target=loop.run_forever, name="pytest-migrations-async", daemon=True)
            _THREAD.start()
            _LOOP = loop
    return _LOOP


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` run on the background loop's thread, where SQLAlchemy's `await_()` can await."""
    from sqlalchemy.util.concurrency import greenlet_spawn

    if threading.current_thread() is _THREAD:
        # Already there: everything on that thread runs inside greenlet_spawn (a method calling another).
        return fn(*args, **kwargs)
    return asyncio.run_coroutine_threadsafe(greenlet_spawn(fn, *args, **kwargs), _loop()).result()


class _Bridged:
    """An async dialect's adapter (connection or cursor) whose every call goes through `call`."""

    __slots__ = ("_adapted",)

    def __init__(self, adapted: Any) -> None:
        object.__setattr__(self, "_adapted", adapted)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._adapted, name)
        if not callable(value) or isinstance(value, type):
            return value

        def bridged(*args: Any, **kwargs: Any) -> Any:
            result = call(value, *args, **kwargs)
            return _Bridged(result) if name == "cursor" else result

        return bridged

    def __setattr__(self, name: str, value: Any) -> None:
        call(setattr, self._adapted, name, value)  # e.g. `autocommit`, whose setter awaits on some drivers

    def __iter__(self) -> Any:
        return iter(call(lambda: list(self._adapted)))


def create_engine(url: sa.engine.URL, **options: Any) -> sa.Engine:
    """A synchronous Engine over `url`'s async driver."""
    engine = sa.create_engine(url, **options)
    # Checking out a connection runs the pool's first-connect events under an asyncio lock: all of it goes
    # to the loop, the new connection's setup (dialect.initialize's queries) included.
    raw_connection = engine.raw_connection
    engine.raw_connection = lambda: call(raw_connection)  # type: ignore[method-assign]

    # Every new connection is bridged, whoever asks the dialect for it (the do_connect listeners do too).
    connect = engine.dialect.connect
    engine.dialect.connect = lambda *cargs, **cparams: _Bridged(call(connect, *cargs, **cparams))  # type: ignore[method-assign]
    return engine
