"""Configuration: every flag, ini key and environment variable the plugin reads.

The names here are a public contract (users put them in CI scripts), so they are
declared in one place and read into one plain dataclass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ENGINES = ("sqlite", "postgresql", "mysql")
PROVIDERS = ("url", "local", "docker")
DEFAULT_POSTGRESQL_IMAGE = "postgres:17"
DEFAULT_MYSQL_IMAGE = "mysql:8.4"
DEFAULT_ROWS_PER_TABLE = 3
DEFAULT_CONNECT_TIMEOUT = 10


INI_KEYS: list[str] = []  # every ini key the plugin reads, for telling a misspelt one
OPTIONS: list[str] = []  # every --migrations-* option, for the same reason


def _addini(parser: pytest.Parser, name: str, help: str, **kwargs: object) -> None:
    if name not in INI_KEYS:
        INI_KEYS.append(name)
    parser.addini(name, help, **kwargs)  # type: ignore[arg-type]


def _addoption(group: pytest.OptionGroup, name: str, **kwargs: object) -> None:
    if name not in OPTIONS:
        OPTIONS.append(name)
    group.addoption(name, **kwargs)


def unknown_options(args: list[str]) -> str | None:
    """A usage error's text for `--migrations...` arguments the plugin does not have, or None.

    argparse refuses them too, but without naming the option that was meant."""
    names = []
    for arg in args:
        if arg == "--":
            break
        names.append(arg.split("=", 1)[0])
    found = _unknown(names, OPTIONS, "--migrations")
    return found and f"pytest-migrations: unknown {found}; `pytest --help` lists the plugin's options."


def unknown_ini_keys(keys: object) -> str | None:
    """A usage error's text for ini keys that look like the plugin's (migrations_...) and are not, or None."""
    found = _unknown([str(key) for key in keys], INI_KEYS, "migrations")  # type: ignore[attr-defined]
    return found and f"pytest-migrations: unknown ini {found}; the plugin's keys are {', '.join(sorted(INI_KEYS))}."


def _unknown(names: list[str], known: list[str], prefix: str) -> str:
    """ "key X (did you mean Y?), Z" for the names that start with `prefix` and are not known; "" when none.

    Names are matched on what follows the prefix, which every known name shares."""
    import difflib

    found = sorted({name for name in names if name.startswith(prefix) and name not in known})
    if not found:
        return ""
    tails = {name[len(prefix) + 1 :]: name for name in known}
    parts = []
    for name in found:
        close = difflib.get_close_matches(name[len(prefix) + 1 :], tails, n=1, cutoff=0.6)
        parts.append(f"{name} (did you mean {tails[close[0]]}?)" if close else name)
    kind = "option" if prefix.startswith("--") else "key"
    return f"{kind}{'s' if len(found) > 1 else ''} {', '.join(parts)}"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("migrations", "pytest-migrations: Alembic migration checks")
    _addoption(
        group,
        "--migrations",
        action="store_true",
        default=False,
        help="Collect and run the built-in migration checks.",
    )
    _addoption(
        group,
        "--migrations-only",
        action="store_true",
        default=False,
        help="Collect only the built-in migration checks, not the project's own tests (implies --migrations).",
    )
    _addoption(
        group, "--migrations-config", metavar="PATH", help="Alembic ini file (default: alembic.ini in the rootdir)."
    )
    _addoption(group, "--migrations-metadata", metavar="MODULE:ATTR", help="Target metadata for the model check.")
    _addoption(
        group,
        "--migrations-engines",
        metavar="LIST",
        help="Comma-separated engines to run the checks on: sqlite, postgresql, mysql (default: sqlite).",
    )
    _addoption(
        group, "--migrations-provider", choices=PROVIDERS, help="Force where servers come from: url, local or docker."
    )
    for engine in ("postgresql", "mysql"):
        _addoption(
            group,
            f"--migrations-{engine}-url",
            metavar="URL",
            help=f"A {engine} server URL whose account may create databases "
            f"(or env PYTEST_MIGRATIONS_{engine.upper()}_URL).",
        )
    _addoption(group, "--migrations-flask-app", metavar="APP", help="Flask app: module:app or module:create_app().")
    _addoption(group, "--migrations-seed", type=int, metavar="N", help="Seed for generated rows (default 0).")
    _addoption(
        group,
        "--migrations-report",
        metavar="PATH",
        help="Write what each revision did (statements, locks, rewrites, scans, findings, verdicts) as JSON.",
    )
    _addoption(
        group,
        "--migrations-volume",
        type=int,
        metavar="N",
        help="Also time each upgrade, and its locks, on tables filled with N generated rows (a walk of its own).",
    )
    _addoption(
        group,
        "--migrations-report-md",
        metavar="PATH",
        help="Write the findings as a markdown table, for a pull-request comment.",
    )
    _addoption(
        group,
        "--migrations-drop-stale",
        action="store_true",
        default=False,
        help="Drop throwaway databases left behind by an earlier, killed run.",
    )

    _addini(parser, "migrations_config", "Alembic ini file, relative to the rootdir.", default="")
    _addini(parser, "migrations_metadata", "module:attribute of the target MetaData.", default="")
    # "args": `sqlite,postgresql` in an ini file, or a list in pyproject.toml.
    _addini(parser, "migrations_engines", "Comma-separated engines (default: sqlite).", type="args", default=[])
    _addini(parser, "migrations_provider", "url, local or docker: force where servers come from.", default="")
    _addini(parser, "migrations_postgresql_url", "PostgreSQL server URL for throwaway databases.", default="")
    _addini(parser, "migrations_mysql_url", "MySQL/MariaDB server URL for throwaway databases.", default="")
    _addini(parser, "migrations_postgresql_image", "Docker image for the PostgreSQL container.", default="")
    _addini(parser, "migrations_mysql_image", "Docker image for the MySQL container.", default="")
    _addini(parser, "migrations_irreversible", "Revisions whose downgrade is not attempted.", type="args", default=[])
    _addini(
        parser,
        "migrations_allow_data_loss",
        "Revisions whose data loss is intended (reported, not failed).",
        type="args",
        default=[],
    )
    _addini(
        parser,
        "migrations_ignore",
        "Schema differences to ignore: TABLE, TABLE.COLUMN, KIND or KIND:TABLE[.COLUMN], one per line.",
        type="linelist",
        default=[],
    )
    # Text, read by _rows_per_table: pytest's own "int" type would answer "2.5" with a bare ValueError.
    _addini(parser, "migrations_rows_per_table", "Rows generated per table and revision.", default="")
    _addini(parser, "migrations_flask_app", "Flask app: module:app or module:create_app().", default="")
    _addini(
        parser,
        "migrations_connect_timeout",
        "Seconds to wait for a database server to answer a connection (default 10).",
        default="",
    )
    _addini(
        parser,
        "migrations_start",
        "Where the walk starts: base (an empty database, the default) or create_all (the model, stamped at head).",
        default="",
    )
    _addini(
        parser,
        "migrations_version_locations",
        "Per-engine version directories, one `ENGINE: DIR [DIR ...]` per line (relative to the rootdir).",
        type="linelist",
        default=[],
    )
    _addini(
        parser,
        "migrations_heads",
        "How many heads the history has by design (separate branches upgraded with `upgrade heads`).",
        default="",
    )
    _addini(
        parser,
        "migrations_model_strict",
        "Kinds of model difference that fail though autogenerate does not report them (e.g. server_default "
        "check primary_key), or * for all.",
        type="args",
        default=[],
    )
    _addini(
        parser,
        "migrations_forbid",
        "Finding ids (rewrite, blocking-scan, ...) that fail test_locks; naming any collects test_locks. * for all.",
        type="args",
        default=[],
    )
    _addini(
        parser,
        "migrations_allow",
        "REV:ID ...: findings a revision is allowed (as a `# pytest-migrations: allow[ID]` comment would).",
        type="args",
        default=[],
    )
    _addini(
        parser,
        "migrations_lock_threshold_ms",
        "Milliseconds of ACCESS EXCLUSIVE on a table with rows that make access-exclusive-on-rows (default 100).",
        default="",
    )
    _addini(
        parser,
        "migrations_table_rows",
        "TABLE:ROWS ... (or a .json file of them): production sizes the findings' times are scaled to.",
        type="args",
        default=[],
    )
    _addini(
        parser,
        "migrations_url_env",
        "Environment variables env.py reads its database URL from; set to each throwaway database while env.py runs.",
        type="args",
        default=[],
    )


@dataclass(frozen=True)
class Settings:
    """Everything the plugin was told, already merged from flags, ini keys and env."""

    enabled: bool
    rootdir: Path
    config_path: Path | None
    config_origin: str
    metadata_ref: str | None
    engines: tuple[str, ...]
    provider: str | None
    server_urls: dict[str, str] = field(default_factory=dict, repr=False)  # may hold passwords
    url_origins: dict[str, str] = field(default_factory=dict)  # where each URL was given, for messages
    images: dict[str, str] = field(default_factory=dict)
    irreversible: frozenset[str] = frozenset()
    allow_data_loss: frozenset[str] = frozenset()
    ignore_rules: tuple[str, ...] = ()
    rows_per_table: int = DEFAULT_ROWS_PER_TABLE
    seed: int = 0
    drop_stale: bool = False
    flask_app: str | None = None
    flask_app_origin: str = "migrations_flask_app"  # the flag, the ini key or FLASK_APP, for messages
    url_env: tuple[str, ...] = ()
    version_locations: dict[str, tuple[Path, ...]] = field(default_factory=dict)  # engine -> its own versions
    flask_env: dict[str, str] = field(default_factory=dict, repr=False)  # .env and .flaskenv of the rootdir
    start: str = "base"  # migrations_start
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT  # migrations_connect_timeout
    model_strict: frozenset[str] = frozenset()  # migrations_model_strict: kinds failed though autogenerate skips them
    expected_heads: int | None = None  # migrations_heads: the history has this many heads by design
    alembic_log: bool = False  # keep Alembic's INFO lines: -v, or a log level asked for (--log-level, log_level)
    forbid: frozenset[str] = frozenset()  # migrations_forbid: finding ids that fail test_locks
    allow: tuple[tuple[str, str], ...] = ()  # migrations_allow: (revision ref, finding id)
    lock_threshold: float = 0.1  # migrations_lock_threshold_ms, in seconds
    table_rows: tuple[tuple[str, int], ...] = ()  # migrations_table_rows: production row counts
    volume: int = 0  # --migrations-volume
    report_path: Path | None = None  # --migrations-report
    report_md_path: Path | None = None  # --migrations-report-md


def _first(*values: str | None) -> str | None:
    for value in values:
        if value:
            return value
    return None


_ENGINE_ALIASES = {"mariadb": "mysql", "postgres": "postgresql", "pg": "postgresql"}


def engine_name(name: str, where: str = "--migrations-engines / migrations_engines") -> str:
    """The engine id for a name a user wrote (`MariaDB`, `pg`, ...); a name that is none is a usage error."""
    engine = _ENGINE_ALIASES.get(name.strip().lower(), name.strip().lower())
    if engine not in ENGINES:
        raise pytest.UsageError(
            f"pytest-migrations: unknown engine {name.strip()!r} in {where}; choose from {', '.join(ENGINES)}."
        )
    return engine


def parse_engines(raw: str) -> tuple[str, ...]:
    engines: list[str] = []
    for name in (part for part in raw.split(",") if part.strip()):
        engine = engine_name(name)
        if engine not in engines:
            engines.append(engine)
    return tuple(engines) or ("sqlite",)


def _rows_per_table(raw: object) -> int:
    if raw in (None, ""):
        return DEFAULT_ROWS_PER_TABLE
    try:
        rows = int(str(raw).strip())
    except ValueError:
        raise pytest.UsageError(
            f"pytest-migrations: migrations_rows_per_table must be a whole number of at least 1, got {raw!r}."
        ) from None
    if rows < 1:
        raise pytest.UsageError(
            f"pytest-migrations: migrations_rows_per_table must be a whole number of at least 1, got {raw!r} "
            "(with no rows the data check would prove nothing)."
        )
    return rows


def _version_locations(lines: list[str], rootdir: Path, here: Path | None = None) -> dict[str, tuple[Path, ...]]:
    """`ENGINE: DIR [DIR ...]` per line: a history kept per dialect, each engine walking its own directories."""
    found: dict[str, tuple[Path, ...]] = {}
    for line in (line.strip() for line in lines):
        if not line:
            continue
        name, sep, rest = line.partition(":")
        if not sep or not rest.split():
            raise pytest.UsageError(
                f"pytest-migrations: migrations_version_locations lines look like `ENGINE: DIR [DIR ...]`, got {line!r}."
            )
        engine = engine_name(name, "migrations_version_locations")
        directories = tuple(_version_location(part, rootdir, here) for part in rest.split())
        missing = [str(directory) for directory in directories if not directory.is_dir()]
        if missing:
            raise pytest.UsageError(
                f"pytest-migrations: migrations_version_locations names {', '.join(missing)} for {engine}, "
                "which is not a directory (a path is relative to the rootdir, or to the ini file's directory where "
                "it is there; `%(here)s` and package resources `mypkg.db:versions/sqlite` work as in Alembic)."
            )
        found[engine] = directories
    return found


def _version_location(text: str, rootdir: Path, here: Path | None) -> Path:
    """One directory as Alembic's version_locations takes it: `%(here)s/...`, a package resource, a path."""
    if here is not None:
        text = text.replace("%(here)s", str(here))
    if not Path(text).is_absolute() and ":" in text:  # mypkg.db:migrations/versions, found as Alembic finds it
        import sys

        from alembic.util.pyfiles import coerce_resource_to_filename

        added = [str(p) for p in (rootdir, here) if p is not None and str(p) not in sys.path]
        sys.path[:0] = added
        try:
            return coerce_resource_to_filename(text).resolve()
        except (ImportError, TypeError, ValueError, OSError) as exc:
            raise pytest.UsageError(
                f"pytest-migrations: migrations_version_locations names the package resource {text!r}, which "
                f"cannot be found: {type(exc).__name__}: {exc}."
            ) from None
        finally:
            for path in added:
                sys.path.remove(path)
    path = Path(text)
    if path.is_absolute():
        return path.resolve()
    if here is not None and (here / path).is_dir() and not (rootdir / path).is_dir():
        return (here / path).resolve()
    return (rootdir / path).resolve()


def config_named_in_args(args: list[str], invocation_dir: Path) -> Path | None:
    """The Alembic config a command-line argument names, wherever it is: an ini file with an [alembic]
    section, a pyproject.toml with [tool.alembic], or a directory holding alembic.ini. None unless exactly one."""
    found = set()
    for arg in args:
        path = (invocation_dir / arg.split("::")[0]).resolve()
        if path.is_dir() and (path / "alembic.ini").is_file():
            path = path / "alembic.ini"
        if not path.is_file():
            continue
        if (path.suffix == ".ini" and _has_alembic_section(path)) or (
            path.name == "pyproject.toml" and _has_alembic_table(path)
        ):
            found.add(path)
    return found.pop() if len(found) == 1 else None


def _has_alembic_section(path: Path) -> bool:
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return False
    return parser.has_section("alembic")


def _has_alembic_table(path: Path) -> bool:
    from pytest_migrations.project import _has_alembic_table

    return path.exists() and _has_alembic_table(path)


def dotenv_values(rootdir: Path) -> dict[str, str]:
    """What `flask` loads from the rootdir's .env and .flaskenv (when python-dotenv is installed); .env wins."""
    try:
        import dotenv
    except ImportError:
        return {}
    found: dict[str, str] = {}
    for name in (".flaskenv", ".env"):
        path = rootdir / name
        if path.is_file():
            found.update({key: value for key, value in dotenv.dotenv_values(path).items() if value is not None})
    return found


def _flask_app_as_flask_finds_it(rootdir: Path, flask_env: dict[str, str]) -> tuple[str | None, str]:
    """With no Alembic config and no app named to the plugin: FLASK_APP (environment, .env, .flaskenv), then
    wsgi.py or app.py in the rootdir, as `flask` looks for them."""
    if os.environ.get("FLASK_APP"):
        return os.environ["FLASK_APP"], "FLASK_APP"
    if flask_env.get("FLASK_APP"):
        return flask_env["FLASK_APP"], "FLASK_APP (from the rootdir's .flaskenv or .env)"
    for name in ("wsgi.py", "app.py"):
        if (rootdir / name).is_file():
            return name, f"{name} in the rootdir (found as `flask` finds it)"
    return None, "migrations_flask_app"


def _connect_timeout(raw: object) -> int:
    if raw in (None, ""):
        return DEFAULT_CONNECT_TIMEOUT
    try:
        seconds = int(str(raw).strip())
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise pytest.UsageError(
            f"pytest-migrations: migrations_connect_timeout must be a whole number of seconds, at least 1, got {raw!r}."
        )
    return seconds


STARTS = ("base", "create_all")


def _start(raw: str) -> str:
    start = (raw or "base").strip()
    if start not in STARTS:
        raise pytest.UsageError(
            f"pytest-migrations: migrations_start must be base (an empty database) or create_all (what the model "
            f"builds, stamped at head), got {raw!r}."
        )
    return start


# The kinds of model difference migrations_model_strict can make failures (schema.KINDS, less those
# autogenerate always reports: tables, columns, nullability).
STRICT_KINDS = (
    "type",
    "server_default",
    "primary_key",
    "foreign_key",
    "unique",
    "index",
    "check",
    "enum",
    "sequence",
    "schema",
)


def _names(
    values: list[str], known: tuple[str, ...], key: str, what: tuple[str, str], star: bool = True
) -> frozenset[str]:
    """The names an ini key lists, each one of `known` (`*` for all of them where `star`); else a usage error."""
    names = {value.strip().strip(",") for value in values if value.strip().strip(",")}
    if star and "*" in names:
        return frozenset(known)
    unknown = sorted(names - set(known))
    if unknown:
        raise pytest.UsageError(
            f"pytest-migrations: {key} names {', '.join(unknown)}, which is not {what[0]}; the {what[1]} are "
            f"{' '.join(known)}{', or * for all of them' if star else ''}."
        )
    return frozenset(names)


def _model_strict(values: list[str]) -> frozenset[str]:
    """The kinds of model difference that fail though autogenerate would not report them; `*` for all."""
    return _names(values, STRICT_KINDS, "migrations_model_strict", ("a kind of difference", "kinds"))


def _finding_ids(values: list[str], key: str, star: bool = True) -> frozenset[str]:
    from pytest_migrations.observe.findings import FINDINGS

    return _names(values, tuple(FINDINGS), key, ("a finding id", "ids"), star)


def _allow(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in (v.strip().strip(",") for v in values):
        if not value:
            continue
        rev, sep, finding = value.partition(":")
        if not sep or not rev or not finding:
            raise pytest.UsageError(
                f"pytest-migrations: migrations_allow takes REVISION:FINDING (e.g. 3f2a9c1b7e21:rewrite), got {value!r}."
            )
        (finding_id,) = _finding_ids([finding], "migrations_allow", star=False)
        pairs.append((rev, finding_id))
    return tuple(pairs)


def _table_rows(values: list[str], rootdir: Path) -> tuple[tuple[str, int], ...]:
    """TABLE:ROWS entries, or a JSON file ({"table": rows, ...}, relative to the rootdir) of production sizes."""
    import json

    found: dict[str, int] = {}
    for value in (v.strip().strip(",") for v in values):
        if not value:
            continue
        if value.endswith(".json"):
            try:
                loaded = json.loads((rootdir / value).read_text(encoding="utf-8"))
                found.update({str(table): int(rows) for table, rows in loaded.items()})
            except (OSError, ValueError, TypeError, AttributeError) as exc:
                raise pytest.UsageError(
                    f"pytest-migrations: migrations_table_rows names {value}, which is not a JSON object of table "
                    f"names and row counts ({type(exc).__name__}: {exc})."
                ) from None
            continue
        table, sep, rows = value.rpartition(":")
        if not sep or not table or not rows.replace("_", "").isdigit():
            raise pytest.UsageError(
                f"pytest-migrations: migrations_table_rows takes TABLE:ROWS (e.g. orders:5000000) or a .json file, "
                f"got {value!r}."
            )
        found[table] = int(rows.replace("_", ""))
    return tuple(sorted(found.items()))


def _volume(value: int | None) -> int:
    if value is None:
        return 0
    if value < 1:
        raise pytest.UsageError(
            f"pytest-migrations: --migrations-volume takes a number of rows of at least 1, got {value}."
        )
    return value


def _lock_threshold(raw: str) -> float:
    text = (raw or "").strip()
    if not text:
        return 0.1
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise pytest.UsageError(
            f"pytest-migrations: migrations_lock_threshold_ms must be a number of milliseconds (e.g. 100), got {raw!r}."
        )
    return value / 1000


def _report_path(value: str | None, config: pytest.Config) -> Path | None:
    return Path(config.invocation_params.dir, value) if value else None


def _expected_heads(raw: str) -> int | None:
    text = (raw or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise pytest.UsageError(
            f"pytest-migrations: migrations_heads must be a whole number of heads, 1 or more, got {raw!r}."
        )
    return int(text)


def read_settings(config: pytest.Config) -> Settings:
    opt = config.getoption
    rootdir = Path(config.rootpath)

    config_value = _first(opt("--migrations-config"), config.getini("migrations_config"))
    flask_app = _first(opt("--migrations-flask-app", None), config.getini("migrations_flask_app"))
    flask_origin = "--migrations-flask-app" if opt("--migrations-flask-app", None) else "migrations_flask_app"
    named = None if config_value else config_named_in_args(config.args, Path(config.invocation_params.dir))
    if config_value:
        origin = "--migrations-config" if opt("--migrations-config") else "the migrations_config ini key"
        path = Path(config_value)
        base = Path(config.invocation_params.dir) if opt("--migrations-config") else rootdir
        config_path: Path | None = (path if path.is_absolute() else base / path).resolve()
    elif named is not None:
        origin, config_path = "the command line", named
    else:
        origin = f"alembic.ini in the rootdir ({rootdir})"
        config_path = rootdir / "alembic.ini"
        alembic_here = config_path.exists() or _has_alembic_table(rootdir / "pyproject.toml")
        if not alembic_here and flask_app is None:
            flask_app, flask_origin = _flask_app_as_flask_finds_it(rootdir, dotenv_values(rootdir))
        if not alembic_here and flask_app:
            config_path = None

    rows = _rows_per_table(config.getini("migrations_rows_per_table"))
    urls: dict[str, str] = {}
    origins: dict[str, str] = {}
    images: dict[str, str] = {}
    for engine in ("postgresql", "mysql"):
        # Flag first, then the environment (CI sets it), then the ini key.
        sources = (
            (opt(f"--migrations-{engine}-url"), f"--migrations-{engine}-url"),
            (os.environ.get(f"PYTEST_MIGRATIONS_{engine.upper()}_URL"), f"PYTEST_MIGRATIONS_{engine.upper()}_URL"),
            (config.getini(f"migrations_{engine}_url"), f"the migrations_{engine}_url ini key"),
        )
        for url, source in sources:
            if url:
                urls[engine] = url
                origins[engine] = source
                break
        image = config.getini(f"migrations_{engine}_image")
        if image:
            images[engine] = image

    provider = _first(opt("--migrations-provider"), config.getini("migrations_provider"))
    if provider and provider not in PROVIDERS:
        raise pytest.UsageError(
            f"pytest-migrations: migrations_provider must be one of {', '.join(PROVIDERS)}, got {provider!r}."
        )

    seed = opt("--migrations-seed")
    return Settings(
        enabled=bool(opt("--migrations")),
        rootdir=rootdir,
        config_path=config_path,
        config_origin=origin,
        metadata_ref=_first(opt("--migrations-metadata"), config.getini("migrations_metadata")),
        engines=parse_engines(
            _first(opt("--migrations-engines"), ",".join(config.getini("migrations_engines"))) or "sqlite"
        ),
        provider=provider,
        server_urls=urls,
        url_origins=origins,
        images=images,
        irreversible=frozenset(config.getini("migrations_irreversible")),
        allow_data_loss=frozenset(config.getini("migrations_allow_data_loss")),
        ignore_rules=tuple(rule.strip() for rule in config.getini("migrations_ignore") if rule.strip()),
        rows_per_table=rows,
        seed=seed if seed is not None else 0,
        drop_stale=bool(opt("--migrations-drop-stale")),
        flask_app=flask_app,
        flask_app_origin=flask_origin,
        url_env=tuple(config.getini("migrations_url_env")),
        version_locations=_version_locations(
            config.getini("migrations_version_locations"), rootdir, config_path.parent if config_path else None
        ),
        flask_env=dotenv_values(rootdir) if flask_app else {},  # read only for a Flask app: it costs an import
        start=_start(config.getini("migrations_start")),
        connect_timeout=_connect_timeout(config.getini("migrations_connect_timeout")),
        model_strict=_model_strict(config.getini("migrations_model_strict")),
        expected_heads=_expected_heads(config.getini("migrations_heads")),
        forbid=_finding_ids(config.getini("migrations_forbid"), "migrations_forbid"),
        allow=_allow(config.getini("migrations_allow")),
        lock_threshold=_lock_threshold(config.getini("migrations_lock_threshold_ms")),
        table_rows=_table_rows(config.getini("migrations_table_rows"), rootdir),
        volume=_volume(opt("--migrations-volume", None)),
        report_path=_report_path(opt("--migrations-report", None), config),
        report_md_path=_report_path(opt("--migrations-report-md", None), config),
        alembic_log=config.getoption("verbose", 0) > 0
        or bool(opt("log_level", None) or config.getini("log_level") or opt("log_cli_level", None)),
    )
