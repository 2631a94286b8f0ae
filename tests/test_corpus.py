"""The corpus (tests/corpus.py) against plain Alembic: the plugin's per-revision facts must be the oracle's.

For each history and engine, plain Alembic runs one command at a time (tests/oracle.py) and the plugin
runs `pytest --migrations`; the stepwise item's JSON record carries the plugin's facts. For every
revision both reached, each fact the oracle has (upgrade, downgrade, reupgrade, stepwise_equal) must be
the plugin's, and the plugin must have a fact of every revision whose upgrade the oracle ran, the one
whose upgrade failed included (its record is to be {"upgrade": false}).

A fixed sample of seeds runs by default. benchmarks/corpus.py runs many more through the environment:

    PYTEST_MIGRATIONS_CORPUS_SEEDS    seeds to run instead: "0-199" or "3,17,40-45"
    PYTEST_MIGRATIONS_CORPUS_REPORT   a folder: each case writes SEED-ENGINE.json there (facts, mismatches)
    PYTEST_MIGRATIONS_CORPUS_TIMEOUT  seconds: a case still running then ends its process (a hang, not a verdict)
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from corpus import generate

from conftest import SERVER_URLS, item_reports
from oracle import plain_alembic_facts

FACTS = ("upgrade", "downgrade", "reupgrade", "stepwise_equal")
# Together: foreign keys, has_table, ORM sessions (with and without commit), INSERTs, renames, drop_table,
# unique indexes, and the four kinds of broken downgrade; each history's upgrades pass on every engine.
SAMPLE = [36, 45, 97, 116, 140, 173]


def seeds_from(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.replace(" ", "").split(","):
        if "-" in part:
            low, high = part.split("-")
            seeds.extend(range(int(low), int(high) + 1))
        elif part:
            seeds.append(int(part))
    return seeds


SEEDS = (
    seeds_from(os.environ["PYTEST_MIGRATIONS_CORPUS_SEEDS"])
    if os.environ.get("PYTEST_MIGRATIONS_CORPUS_SEEDS")
    else SAMPLE
)
REPORT = os.environ.get("PYTEST_MIGRATIONS_CORPUS_REPORT")
TIMEOUT = float(os.environ.get("PYTEST_MIGRATIONS_CORPUS_TIMEOUT") or 0)


def plugin_facts(result: pytest.RunResult, engine: str) -> dict[str, dict[str, bool]]:
    report = item_reports(result).get(f"test_stepwise_roundtrip[{engine}]")
    if report is None:
        return {}
    record = dict(report.user_properties).get("pytest_migrations")
    return json.loads(record).get("facts", {}) if record else {}


def stepwise_text(result: pytest.RunResult, engine: str) -> str:
    """What the plugin's stepwise item said when it failed (its first lines), for reading a mismatch."""
    report = item_reports(result).get(f"test_stepwise_roundtrip[{engine}]")
    return report.longreprtext[:3000] if report is not None and report.outcome != "passed" else ""


def compare(oracle: dict[str, dict[str, bool]], plugin: dict[str, dict[str, bool]]) -> tuple[list[dict], list[str]]:
    """Mismatches (revision, fact, oracle's, plugin's), and the revisions whose upgrade the oracle ran (passing or
    failing) of which the plugin tells no fact."""
    mismatches = [
        {"revision": rev, "fact": fact, "oracle": value, "plugin": plugin[rev].get(fact)}
        for rev, facts in oracle.items()
        if rev in plugin
        for fact, value in facts.items()
        if plugin[rev].get(fact) != value
    ]
    # The oracle tried the upgrade of each revision it has (a failed one ends its walk, as it ends the plugin's).
    unreached = [rev for rev in oracle if rev not in plugin]
    return mismatches, unreached


def unreached_text(facts: dict[str, bool]) -> str:
    if facts.get("upgrade"):
        return "upgraded by plain Alembic, never reached by the plugin"
    return "its upgrade fails under plain Alembic; the plugin has no fact of it (expected upgrade: false)"


def by_revision(facts) -> dict[str, dict[str, bool]]:
    out: dict[str, dict[str, bool]] = {}
    for fact in FACTS:
        for rev, value in getattr(facts, fact).items():
            out.setdefault(rev, {})[fact] = value
    return out


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{seed}" for seed in SEEDS])
def test_the_plugin_finds_plain_alembics_facts(seed, project, run_checks, engine, tmp_path):
    if TIMEOUT:
        faulthandler.dump_traceback_later(TIMEOUT, exit=True, file=sys.stderr)
    try:
        started = time.perf_counter()
        revisions, models = generate(seed, engine)
        root = project(revisions, models)
        with pytest.MonkeyPatch.context() as patch:
            # PyMySQL builds a TLS context for every connection (~40 ms) and the oracle connects some 250
            # times a history: without TLS, for the oracle alone (the plugin's run keeps the URL as given).
            if engine == "mysql":
                url = sa.engine.make_url(SERVER_URLS["mysql"]).update_query_dict({"ssl_disabled": "true"})
                patch.setitem(SERVER_URLS, "mysql", url.render_as_string(hide_password=False))
            oracle = by_revision(plain_alembic_facts(root, engine, tmp_path))
        result = run_checks(engines=engine)
        plugin = plugin_facts(result, engine)
        mismatches, unreached = compare(oracle, plugin)
    finally:
        if TIMEOUT:
            faulthandler.cancel_dump_traceback_later()
    if REPORT:
        record = {
            "seed": seed,
            "engine": engine,
            "revisions": len(revisions),
            "oracle": oracle,
            "plugin": plugin,
            "mismatches": mismatches,
            "unreached": unreached,
            "plugin_outcomes": {name: report.outcome for name, report in item_reports(result).items()},
            "plugin_stepwise": stepwise_text(result, engine),
            "seconds": round(time.perf_counter() - started, 2),
        }
        Path(REPORT, f"{seed}-{engine}.json").write_text(json.dumps(record, indent=1))
    if mismatches or unreached:
        lines = [f"seed {seed} on {engine}: the plugin's facts are not plain Alembic's"]
        lines += [f"  {m['revision']} {m['fact']}: oracle {m['oracle']}, plugin {m['plugin']}" for m in mismatches]
        lines += [f"  {rev}: {unreached_text(oracle[rev])}" for rev in unreached]
        lines += ["", f"oracle: {json.dumps(oracle)}", f"plugin: {json.dumps(plugin)}", ""]
        lines += [f"# ---- {name}.py\n{text}" for name, text in revisions.items()]
        lines += ["# ---- the plugin's run", result.stdout.str()]
        pytest.fail("\n".join(lines), pytrace=False)
