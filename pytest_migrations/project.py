"""Project discovery: the Alembic config, the revision graph and the target metadata.

Everything a user can get wrong about their project is turned here into one
`ProjectError` paragraph that names the file and what to do.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import sysconfig
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
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
    config_path: Path  # the file the checks are collected from: alembic.ini, or pyproject.toml without one
    script: ScriptDirectory
    revisions: tuple[Revision, ...]
    heads: tuple[str, ...]
    # Alembic >= 1.16 reads script_location and friends from [tool.alembic] of pyproject.toml too.
    ini_path: Path | None = None
    toml_path: Path | None = None
    # Flask-Migrate builds its Config itself and needs an app context around env.py.
    config_factory: Callable[[], Config] | None = None
    environment: Callable[[Any, Any], AbstractContextManager[None]] | None = None
    flask_binds: list[str | None] = field(default_factory=list)
    # Environment variables env.py reads its database URL from (migrations_url_env).
    url_env: tuple[str, ...] = ()
    # env.py builds an async engine (the async templates): it gets URLs with an async driver.
    async_env: bool = False
    # The pytest_migrations_run_env hook, which wraps each run of env.py (environment.run_once).
    run_env_hook: Callable[[Callable[[], None]], None] | None = None
    env_runs: int = 0  # runs of env.py in this process that got to run_migrations and returned
    # Alembic's INFO lines ("Running upgrade a -> b") kept: with -v or a log level asked for, else left out.
    alembic_log: bool = False
    # Where the project's own code is imported from (the config's directory, prepend_sys_path, the
    # rootdir): on sys.path only while the plugin loads it or runs env.py (see `importable`).
    import_paths: tuple[str, ...] = ()

    @property
    def code_roots(self) -> tuple[str, ...]:
        """Where the project's env.py and revisions live, even inside an installed package."""
        return (self.script.dir, *self.script._version_locations)

    @property
    def by_id(self) -> dict[str, Revision]:
        return {rev.id: rev for rev in self.revisions}

    def alembic_config(self) -> Config:
        """A fresh Config per run: env.py may write into `attributes` and options."""
        if self.config_factory is not None:
            return self.config_factory()
        return open_config(self.ini_path, self.toml_path)

    def with_version_locations(self, directories: tuple[Path, ...], rootdir: Path) -> Project:
        """The same project with its revisions read from `directories` (a per-engine history)."""
        with importable(self.import_paths):
            script = ScriptDirectory.from_config(self.alembic_config())
            script.version_locations = [str(directory) for directory in directories]
            found = describe_history(self.config_path, rootdir, script=script)
        return replace(self, script=found.script, revisions=found.revisions, heads=found.heads)

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


def user_code_location(exc: BaseException, roots: tuple[str, ...] = ()) -> str:
    """file:line of the deepest frame of the user's own code (not the stdlib, an installed package or this plugin).

    `roots` are the project's own directories (env.py's, the versions'), which count as the
    user's even when the project is an installed package in site-packages.
    """
    own = tuple(os.path.join(os.path.realpath(root), "") for root in roots)
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        # "<string>": code Alembic generates (op's proxies); as a path it would resolve into the cwd
        if not frame.filename.startswith("<")
        and (
            (own and os.path.realpath(frame.filename).startswith(own))
            or (
                not frame.filename.startswith(_LIBRARY_DIRS)
                and "site-packages" not in frame.filename
                and os.path.exists(frame.filename)  # compiled modules report a path of their build, not here
            )
        )
    ]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def _has_alembic_table(path: Path) -> bool:
    """Whether `path` is a pyproject.toml with a [tool.alembic] table."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with path.open("rb") as file:
            return "alembic" in tomllib.load(file).get("tool", {})
    except (OSError, ValueError):
        return False


def find_config_files(config_path: Path, rootdir: Path) -> tuple[Path | None, Path | None]:
    """The (alembic.ini, pyproject.toml) pair Alembic itself would read for `config_path`.

    As `alembic` does: the ini file, plus pyproject.toml's [tool.alembic] when there is one
    (beside the ini file, or in the rootdir where the user runs `alembic`). Either may be missing.
    """
    if config_path.name == "pyproject.toml":
        ini = config_path.parent / "alembic.ini"
        return (ini if ini.exists() else None), config_path
    candidates = (config_path.parent / "pyproject.toml", rootdir / "pyproject.toml")
    toml = next((path for path in candidates if path.exists() and _has_alembic_table(path)), None)
    return (config_path if config_path.exists() else None), toml


def open_config(ini: Path | None, toml: Path | None) -> Config:
    if toml is None:
        return Config(str(ini) if ini else None)
    return Config(str(ini) if ini else None, toml_file=str(toml))


def builds_async_engine(env_py: Path) -> bool:
    """env.py builds an async engine, as Alembic's async templates do, and needs an async driver in its URL."""
    try:
        text = env_py.read_text(encoding="utf-8")
    except OSError:
        return False
    return re.search(r"\b(async_engine_from_config|create_async_engine|run_sync)\b", text) is not None


def load_project(config_path: Path, origin: str, rootdir: Path) -> Project:
    ini, toml = find_config_files(config_path, rootdir)
    if ini is None and toml is None:
        raise ProjectError(
            f"no Alembic config found: looked for {config_path} ({origin}) and for a pyproject.toml with "
            "[tool.alembic]. Run pytest from the directory that holds alembic.ini, or set --migrations-config PATH "
            "or the migrations_config ini key; for a Flask-Migrate app, set migrations_flask_app "
            "(e.g. app:create_app()) or FLASK_APP instead."
        )
    if toml is not None and "toml_file" not in Config.__init__.__code__.co_varnames:
        raise ProjectError(
            f"{toml} keeps the Alembic configuration in [tool.alembic], which this Alembic cannot read; "
            "upgrade Alembic to 1.16 or later."
        )
    try:
        config = open_config(ini, toml)
        location = config.get_alembic_option("script_location") if toml else config.get_main_option("script_location")
    except Exception as exc:  # configparser and TOML errors come in many classes
        raise ProjectError(f"cannot read the Alembic config {ini or toml}: {_short_exception(exc)}") from None
    if not location:
        where = f"{ini} has no script_location in its [alembic] section" + (
            f", nor {toml} in its [tool.alembic] table" if toml else ""
        )
        raise ProjectError(f"{where}; add e.g. `script_location = %(here)s/migrations`.")
    # `prepend_sys_path = .` means "the project directory" to a user who runs alembic there.
    here = (ini or toml or config_path).parent
    prepend = getattr(config, "get_prepend_sys_paths_list", lambda: None)() or []
    paths = tuple(dict.fromkeys([*(str((here / path).resolve()) for path in prepend), str(here), str(rootdir)]))
    with importable(paths):  # Alembic itself prepends prepend_sys_path for good; undone here
        project = describe_history(ini or toml or config_path, rootdir, config)
    project.ini_path, project.toml_path, project.import_paths = ini, toml, paths
    project.async_env = builds_async_engine(Path(project.script.dir) / "env.py")
    return project


def describe_history(
    config_path: Path, rootdir: Path, config: Config | None = None, script: ScriptDirectory | None = None
) -> Project:
    """Read the revision graph in upgrade order (of `script`, or the one `config` names); defects become ProjectError."""
    try:
        if script is None:
            assert config is not None
            script = ScriptDirectory.from_config(config)
    except CommandError as exc:
        assert config is not None
        location = config.get_main_option("script_location") or ""
        hint = (
            f" script_location = {location} is relative to the directory pytest runs in, not to {config_path.name}; "
            f"write `script_location = %(here)s/{location}` to make it relative to the config file."
            if location and not Path(location).is_absolute() and ":" not in location
            else ""
        )
        raise ProjectError(f"{config_path}: {exc}{hint}") from None

    try:
        with warnings.catch_warnings():
            # Alembic warns of a down_revision it cannot find, then fails on it: the ProjectError says it once.
            warnings.filterwarnings(
                "ignore", message=r"Revision \S+ referenced from .* is not present", category=UserWarning
            )
            ordered = list(reversed(list(script.revision_map.iterate_revisions("heads", "base"))))
            heads = tuple(script.get_heads())
    except SyntaxError as exc:
        raise ProjectError(
            f"a revision file does not compile: {_short_exception(exc)}. Fix the file, then run again."
        ) from None
    except (Exception, SystemExit) as exc:  # sys.exit() in a revision file, or in what it imports
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


@contextmanager
def importable(paths: tuple[str, ...]) -> Iterator[None]:
    """The project's code importable from `paths` for a while; sys.path as it was afterwards.

    The plugin must not change sys.path for the whole session: the project's ordinary tests
    would import its application only when --migrations is given. (Modules imported meanwhile
    stay imported, as any import does.)
    """
    saved = list(sys.path)
    sys.path[:0] = [path for path in paths if path not in saved]
    try:
        yield
    finally:
        sys.path[:] = saved


def import_object(ref: str, origin: str, rootdir: Path, paths: tuple[str, ...] = ()) -> Any:
    """Import `module:attr` (attr may be dotted, or a call like `create_app()`), from the rootdir or `paths`."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ProjectError(f"{origin} must look like module:attribute, got {ref!r}.")
    try:
        with importable((str(rootdir), *paths)):
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
