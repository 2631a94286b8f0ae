"""The built-in checks, served by one walk through the history per engine.

One module per part: `verdicts` (names, Verdict, options), `program` (the moves of a walk and
what is compared between them), `model` (the model check), `messages` (failure texts) and
`engine` (one engine's walks and verdicts).
"""

from pytest_migrations.checks.engine import run_engine
from pytest_migrations.checks.verdicts import (
    CHECKS,
    DATA,
    DOWNGRADE,
    LOCKS,
    MODEL,
    ROUNDTRIP,
    SINGLE_HEAD,
    STEPWISE,
    UPGRADE,
    WALK_CHECKS,
    CheckOptions,
    EngineReport,
    Verdict,
    single_head_verdict,
)

__all__ = [
    "CHECKS",
    "DATA",
    "DOWNGRADE",
    "LOCKS",
    "MODEL",
    "ROUNDTRIP",
    "SINGLE_HEAD",
    "STEPWISE",
    "UPGRADE",
    "WALK_CHECKS",
    "CheckOptions",
    "EngineReport",
    "Verdict",
    "run_engine",
    "single_head_verdict",
]
