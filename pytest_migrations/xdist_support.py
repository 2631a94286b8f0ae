"""pytest-xdist: keep each engine's built-in checks on one worker, so one walk serves them all.

xdist's own `--dist loadgroup` cannot be relied on (with pytest 9.2 its node id suffix is ignored),
so the plugin hands xdist a scheduler of its own for `--dist load`, the default of `-n`.
"""

from __future__ import annotations

import re
from typing import Any

from pytest_migrations.checks import CHECKS, LOCKS

_ITEM = re.compile(r"^(?P<file>[^:]+)::(?P<check>test_[a-z_]+)\[(?P<engine>sqlite|postgresql|mysql)\]$")


def engine_scope(nodeid: str) -> str | None:
    """The engine a built-in item belongs to; None for any other test."""
    match = _ITEM.match(nodeid)
    if match and match["check"] in (*CHECKS, LOCKS) and not match["file"].endswith(".py"):
        return f"pytest-migrations[{match['engine']}]"
    return None


def make_scheduler(config: Any, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class EngineScheduling(LoadScopeScheduling):
        """Like `--dist load`, except that the built-in checks of one engine are one unit of work."""

        def _split_scope(self, nodeid: str) -> str:
            return engine_scope(nodeid) or nodeid

    return EngineScheduling(config, log)
