"""Provider start-up time and per-database creation time, per engine and provider.

    python benchmarks/providers.py [--repeat 10]

Uses the URL servers from PYTEST_MIGRATIONS_POSTGRESQL_URL / PYTEST_MIGRATIONS_MYSQL_URL
(defaults: the local trust servers) and starts private servers from local binaries.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import sqlalchemy as sa

from pytest_migrations.providers import LocalMariaDBServer, LocalPostgresServer, SqliteServer, UrlServer, make_url

URLS = {
    "postgresql": os.environ.get("PYTEST_MIGRATIONS_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    "mysql": os.environ.get("PYTEST_MIGRATIONS_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}


def _ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:.0f} ms"


def measure(server, repeat: int) -> tuple[str, str]:
    creations = []
    for _ in range(repeat):
        started = time.perf_counter()
        database = server.create_database()
        creations.append(time.perf_counter() - started)
        database.drop()
    clones = []
    template = server.create_database()
    try:
        engine = sa.create_engine(template.url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR(50))"))
            conn.execute(sa.text("INSERT INTO t VALUES (:i, :n)"), [{"i": i, "n": f"row {i}"} for i in range(10000)])
        engine.dispose()
        for _ in range(repeat):
            started = time.perf_counter()
            clone = server.create_database(template=template)
            clones.append(time.perf_counter() - started)
            clone.drop()
    finally:
        template.drop()
    return _ms(creations), _ms(clones)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    repeat = parser.parse_args().repeat
    rows = []
    started = time.perf_counter()
    server = SqliteServer(engine="sqlite", origin="temp dir")
    rows.append(("sqlite", "temp dir", f"{(time.perf_counter() - started) * 1000:.0f} ms", *measure(server, repeat)))
    server.stop()
    for engine, url in URLS.items():
        started = time.perf_counter()
        server = UrlServer(engine=engine, origin="server URL", admin_url=make_url(url))
        server.connect_admin()
        rows.append((engine, "url", f"{(time.perf_counter() - started) * 1000:.0f} ms", *measure(server, repeat)))
        server.stop()
    for engine, local in (("postgresql", LocalPostgresServer), ("mysql", LocalMariaDBServer)):
        server = local.start("main")
        try:
            rows.append((engine, "local", f"{server.startup_seconds * 1000:.0f} ms", *measure(server, repeat)))
        finally:
            server.stop()
    print("| engine | provider | start-up | new empty database | clone of a 10,000-row database |")
    print("| --- | --- | ---: | ---: | ---: |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
