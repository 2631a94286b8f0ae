"""The versions of pytest, SQLAlchemy, Alembic and the Flask packages this plugin supports, checked at run time.

pip enforces pyproject.toml's ranges, but not after `pip install --no-deps`, a vendored copy or a
hand-made environment. Code written for a newer SQLAlchemy then dies deep inside a walk with an
AttributeError, which pytest shows as an INTERNALERROR. This module imports nothing but the standard
library and `packaging` (a dependency of pytest itself), so it can judge a SQLAlchemy it could not use.
Keep these floors equal to pyproject.toml's and to requirements/oldest.txt (tests/test_stack.py checks).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from packaging.version import InvalidVersion, Version

# Distribution name -> lowest supported version. README "Supported versions" says why each one.
CORE = {"pytest": "8.0.2", "SQLAlchemy": "1.4.49", "alembic": "1.7.7"}
# Checked only when a Flask app is in play: the project may have them installed for something else.
FLASK = {"Flask": "1.1.4", "Flask-SQLAlchemy": "2.5.1", "Flask-Migrate": "2.5.3"}


def installed_versions(names: list[str]) -> dict[str, str | None]:
    """The installed version of each distribution in `names`; None when it is not installed."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def unsupported(found: dict[str, str | None], floors: dict[str, str]) -> list[str]:
    """One phrase per package of `floors` that is missing, below its floor or unreadable in `found`."""
    problems = []
    for name, floor in floors.items():
        got = found.get(name)
        if got is None:
            problems.append(f"{name} is not installed (supported: {name} >= {floor})")
            continue
        try:
            too_old = Version(got) < Version(floor)
        except InvalidVersion:
            problems.append(f"{name} {got} is not a version this plugin can read (supported: {name} >= {floor})")
            continue
        if too_old:
            problems.append(f"{name} {got} is installed (supported: {name} >= {floor})")
    return problems


def stack_problem(found: dict[str, str | None], floors: dict[str, str]) -> str | None:
    """The one message for every unsupported package in `found`, or None when all are supported."""
    problems = unsupported(found, floors)
    if not problems:
        return None
    wanted = " ".join(f"'{name}>={floors[name]}'" for name in floors if any(p.startswith(name + " ") for p in problems))
    return (
        f"this version of pytest-migrations cannot run here: {'; '.join(problems)}. "
        f"Install a supported version (pip install {wanted}), or run without --migrations and the migrator fixture."
    )


def check_installed(floors: dict[str, str]) -> str | None:
    """stack_problem() for what is installed in this environment."""
    return stack_problem(installed_versions(list(floors)), floors)
