"""One cause, one failure: an item that could not check because another item failed points there.

When every problem of a verdict points at other items ("not checked: see test_upgrade[postgresql]"), the
item is skipped with that pointer if those items are in the run, and fail there; the run stays red through
them. When one of them is not in the run (-k, --lf, --deselect), the item fails and carries the cause
itself, so that no run hides it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_POINTER = re.compile(r"\bsee (test_[a-z_]+)\[(\w+)\]")


def pointed_at(problems: Iterable[str], check: str) -> set[tuple[str, str]] | None:
    """The (check, engine) items every problem points at; None when one problem stands on its own."""
    found: set[tuple[str, str]] = set()
    for problem in problems:
        names = {(m[1], m[2]) for m in _POINTER.finditer(problem) if m[1] != check}
        if not names:
            return None
        found |= names
    return found or None
