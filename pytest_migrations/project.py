"""Project discovery: the Alembic config, the revision graph and the target metadata.

Everything a user can get wrong about their project is turned here into one
`ProjectError` paragraph that names the file and what to do.
"""

from __future__ import annotations

import importlib
import sys
import sysconfig
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError


class ProjectError(Exception):
    """The user's project cannot be used as it is; the message says why and what to do."""


@dataclass(frozen=True)
class Revision:
    id: str
    message: str
    path: str
    parents: tuple[str, ...]

    def describe(self) -> str:
        return f'{self.id} ("{self.message}", {self.path})'


@dataclass
class Project:
    config_path: Path
    script: ScriptDirectory
    revisions: tuple[Revision, ...]
    heads: tuple[str, ...]
    # Flask-Migrate builds its Config itself and needs an app context around env.py.
    config_factory: Callable[[], Config] | None = None
    environment: Callable[[Any, Any], AbstractContextManager[None]] | None = None
    flask_binds: list[str | None] = field(default_factory=list)
    # Environment variables env.py reads its database URL from (migrations_url_env).
    url_env: tuple[str, ...] = ()

    @property
    def by_id(self) -> dict[str, Revision]:
        return {rev.id: rev for rev in self.revisions}

    def alembic_config(self) -> Config:
        """A fresh Config per run: env.py may write into `attributes` and options."""
        if self.config_factory is not None:
            return self.config_factory()
        return Config(str(self.config_path))

    def resolve(self, ref: str, origin: str) -> str:
        try:
            script = self.script.get_revision(ref)
        except CommandError as exc:
            raise ProjectError(f"{origin} names revision {ref!r}, which the history does not have ({exc}).") from None
        if script is None:
            raise ProjectError(f"{origin} names revision {ref!r}, which the history does not have.")
        return script.revision


def _display_path(path: str | Path, rootdir: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(rootdir.resolve()))
    except ValueError:
        return str(path)


def _short_exception(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({exc.filename}, line {exc.lineno})"
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


# Where installed code lives: frames there are not the user's to fix.
_LIBRARY_DIRS = tuple(
    {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    | {str(Path(__file__).resolve().parent)}
)


def user_code_location(exc: BaseException) -> str:
    """file:line of the deepest frame of the user's own code (not the stdlib, an installed package or this plugin)."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith(("<", *_LIBRARY_DIRS)) and "site-packages" not in frame.filename
    ]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def load_project(config_path: Path, origin: str, rootdir: Path) -> Project:
    if not config_path.exists():
        raise ProjectError(
            f"no Alembic config found: looked for {config_path} ({origin}). "
            "Run pytest from the directory that holds alembic.ini, or set --migrations-config PATH "
            "or the migrations_config ini key; for a Flask-Migrate app, set migrations_flask_app "
            "(e.g. app:create_app()) or FLASK_APP instead."
        )
    try:
        config = Config(str(config_path))
        config.get_main_option("script_location")
    except Exception as exc:  # configparser errors come in many classes
        raise ProjectError(f"cannot read the Alembic config {config_path}: {_short_exception(exc)}") from None
    if not config.get_main_option("script_location"):
        raise ProjectError(
            f"{config_path} has no script_location in its [alembic] section; "
            "add e.g. `script_location = %(here)s/migrations`."
        )
    # `prepend_sys_path = .` means "the project directory" to a user who runs alembic there.
    here = str(config_path.parent)
    if here not in sys.path:
        sys.path.append(here)
    return describe_history(config_path, rootdir, config)


def describe_history(config_path: Path, rootdir: Path, config: Config) -> Project:
    """Read the revision graph in upgrade order; any defect in it becomes one ProjectError."""
    try:
        script = ScriptDirectory.from_config(config)
    except CommandError as exc:
        location = config.get_main_option("script_location") or ""
        hint = (
            f" script_location = {location} is relative to the directory pytest runs in, not to {config_path.name}; "
            f"write `script_location = %(here)s/{location}` to make it relative to the config file."
            if location and not Path(location).is_absolute() and ":" not in location
            else ""
        )
        raise ProjectError(f"{config_path}: {exc}{hint}") from None

    try:
        ordered = list(reversed(list(script.revision_map.iterate_revisions("heads", "base"))))
        heads = tuple(script.get_heads())
    except SyntaxError as exc:
        raise ProjectError(
            f"a revision file does not compile: {_short_exception(exc)}. Fix the file, then run again."
        ) from None
    except Exception as exc:
        where = user_code_location(exc)
        if where:  # raised while importing a revision file (or what it imports)
            raise ProjectError(
                f"a revision file fails to import: {_short_exception(exc)} (at {_display_path(where, rootdir)}). "
                "Fix that file or what it imports, then run again."
            ) from None
        raise ProjectError(
            f"the revision history in {script.versions} cannot be read: {_short_exception(exc)}. "
            + _dangling_references(script, rootdir)
            + "Check the down_revision and depends_on of the revisions it names."
        ) from None

    revisions = tuple(_describe(s, rootdir) for s in ordered)
    return Project(config_path=config_path, script=script, revisions=revisions, heads=heads)


def _dangling_references(script: ScriptDirectory, rootdir: Path) -> str:
    """Name the files whose down_revision or depends_on point at a revision that does not exist."""
    try:
        scripts = list(script._load_revisions())  # private, but the only listing left when the map is broken
    except Exception:
        return ""
    known = {s.revision for s in scripts}
    found = []
    for each in scripts:
        for kind, refs in (("down_revision", each.down_revision), ("depends_on", each.dependencies)):
            for ref in (refs,) if isinstance(refs, str) else refs or ():
                if ref not in known:
                    found.append(
                        f"{_display_path(each.path, rootdir)} ({each.revision}) has {kind} {ref!r}, which no revision has"
                    )
    return ("; ".join(found) + ". ") if found else ""


def _describe(script: Script, rootdir: Path) -> Revision:
    parents = script.down_revision or ()
    if isinstance(parents, str):
        parents = (parents,)
    return Revision(
        id=script.revision,
        message=(script.doc or "").strip().splitlines()[0] if script.doc else "",
        path=_display_path(script.path, rootdir),
        parents=tuple(parents),
    )


def import_object(ref: str, origin: str, rootdir: Path) -> Any:
    """Import `module:attr` (attr may be dotted, or a call like `create_app()`)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ProjectError(f"{origin} must look like module:attribute, got {ref!r}.")
    root = str(rootdir)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ProjectError(f"{origin} = {ref!r}: cannot import {module_name!r}: {_short_exception(exc)}") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ProjectError(f"{origin} = {ref!r}: {module_name!r} has no attribute {attr!r}.") from None
    return obj
