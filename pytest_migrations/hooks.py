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
