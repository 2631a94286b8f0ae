"""One generated value per column type: distinct for every n, and inside what the column's rules allow.

Every type the three engines reflect has a generator: a column left NULL could lose its values
unseen. Types are matched by class where SQLAlchemy has one for every version we support, and by
name where a dialect's type stands alone (PostgreSQL's INTERVAL, MySQL's YEAR and BIT).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import operator
import uuid
from typing import Any

import sqlalchemy as sa

from pytest_migrations import compat
from pytest_migrations.seeding.rules import ColumnRule

_FILLER = "Lorem Ipsum Dolor Sit Amet "  # capitals: a lower() or upper() a revision applies shows


# Text fills a bounded column to its width (a narrowing that would cut production values must show), up to
# this many characters; an unbounded one (TEXT, VARCHAR) gets more than the widest width the column had
# in the history, and at least UNBOUNDED_WIDTH: wider than the VARCHAR(255) it is most often narrowed to.
MAX_WIDTH = 4000
UNBOUNDED_WIDTH = 300
_SMALL_TEXT = {"TINYTEXT": 255}  # MySQL's: unbounded to SQLAlchemy, bounded to the server


def _text(n: int, length: int | None, column: str, min_length: int = 0) -> str:
    prefix = f"{n} {column} "
    target = max(min(length or 40, MAX_WIDTH), min(min_length, length or min_length))
    text = prefix + _FILLER * (target // len(_FILLER) + 1)
    return text[:target] if len(prefix) <= target else str(n)[-target:].rjust(min(min_length, target), "0")


def _matching(pattern: str, n: int, length: int | None, min_length: int = 0) -> str:
    """Text a LIKE `pattern` accepts, distinct for every n: n's digits in the first %, or in the _s if none."""
    fixed = len(pattern.replace("%", ""))
    if "%" in pattern:
        room = (length or 255) - fixed
        fill = str(n)[-room:] if room > 0 else ""
        fill = fill.rjust(max(min_length - fixed, len(fill)), "0")
        head, _, tail = pattern.partition("%")
        pattern = head + fill + tail.replace("%", "")
    digits = iter(str(n).rjust(pattern.count("_"), "0")[-pattern.count("_") :])
    return "".join(next(digits) if char == "_" else char for char in pattern)


def _name(type_: Any) -> str:
    return type(type_).__name__.upper()


def _is_interval(type_: Any) -> bool:
    return isinstance(type_, sa.Interval) or _name(type_) == "INTERVAL"


def _is_uuid(type_: Any) -> bool:
    return isinstance(type_, compat.UUID_TYPES) or _name(type_) == "UUID"


def _is_float(type_: Any) -> bool:
    # Float is no Numeric subclass from SQLAlchemy 2.1 on; REAL and DOUBLE are Floats everywhere.
    return isinstance(type_, sa.Float) or _name(type_) in ("REAL", "DOUBLE", "DOUBLE_PRECISION")


def plain_value(type_: Any, n: int, column: str, rule: ColumnRule | None = None, position: int = 0) -> Any:
    """A value of `type_`, distinct for every n (so unique columns hold), before any range is applied.

    `position` is the column's place in its table: dates and times grow with it, so that an "end"
    column declared after its "start" holds the later value (`CHECK (ends_at > starts_at)`).
    """
    rule = rule or ColumnRule()
    domain_type = getattr(type_, "data_type", None)  # a PostgreSQL domain: its base type
    if _name(type_) == "DOMAIN" and domain_type is not None:
        return plain_value(domain_type, n, column, rule, position)
    if isinstance(type_, sa.Enum) and type_.enums:
        return type_.enums[n % len(type_.enums)]
    if _name(type_) == "SET" and getattr(type_, "values", None):
        return type_.values[n % len(type_.values)]
    if isinstance(type_, sa.Boolean):
        return n % 2 == 1
    if _name(type_) == "TINYINT" and getattr(type_, "display_width", None) == 1:
        return n % 2  # MySQL's BOOL: what a Boolean reads back
    if isinstance(type_, sa.Integer):
        if isinstance(type_, sa.SmallInteger) or _name(type_) in ("TINYINT", "SMALLINT"):
            return n % 100
        if isinstance(type_, sa.BigInteger) or _name(type_) == "BIGINT":
            return n + 2**32  # beyond INTEGER: a narrowing to it must show
        return n
    if _name(type_) == "YEAR":
        return 1901 + n % 250
    if _name(type_) == "BIT":
        bits = getattr(type_, "length", None) or 1
        value = n % (2 ** min(bits, 31))
        return value if type(type_).__module__.endswith("mysql.types") else format(value, f"0{bits}b")
    if _is_float(type_):
        # Quarters are exact in binary, in single precision too: what a REAL keeps is what was written.
        value = n % 10_000 + (n % 4 + 1) / 4
        return decimal.Decimal(str(value)) if getattr(type_, "asdecimal", False) else value
    if isinstance(type_, sa.Numeric) or _name(type_) == "MONEY":
        scale = type_.scale if getattr(type_, "scale", None) is not None else 2
        precision = type_.precision if getattr(type_, "precision", None) is not None else 10
        whole_digits = max(precision - scale, 0)  # NUMERIC(4, 4) holds 0.9999 at most
        # Every whole digit in use, so a narrowing of the precision must show: 10^(w-1) <= value < 10^w.
        top = min(whole_digits, 15)
        value = decimal.Decimal(10 ** (top - 1) + n % 10 ** (top - 1) if top > 1 else n % 10**top)
        if scale > 0:  # every decimal place in use, the last one never 0: narrowing the scale must show
            places = min(scale, 9)
            fraction = (n % 10 ** (places - 1)) * 10 + n % 9 + 1
            value += decimal.Decimal(fraction).scaleb(-places)
        return float(value) if getattr(type_, "asdecimal", True) is False else value
    if isinstance(type_, sa.DateTime):
        base = dt.datetime(2001, 2, 3, 4, 5, 6) + dt.timedelta(days=n % 9000 + position, seconds=n % 86400)
        return base.replace(tzinfo=dt.timezone.utc) if getattr(type_, "timezone", False) else base
    if isinstance(type_, sa.Date):
        return dt.date(2001, 2, 3) + dt.timedelta(days=n % 9000 + position)
    if isinstance(type_, sa.Time):
        return dt.time(n % 12 + min(position, 11), n % 60, n % 60)
    if _is_interval(type_):
        return dt.timedelta(days=n % 30, seconds=n % 3600)
    if _is_uuid(type_):
        value = uuid.uuid5(uuid.NAMESPACE_OID, f"{column}-{n}")
        return value if getattr(type_, "as_uuid", True) else str(value)
    if isinstance(type_, sa.JSON):
        return {"n": n, "column": column}
    if isinstance(type_, sa.ARRAY):
        return [plain_value(type_.item_type, n + i, column) for i in range(2)]
    if isinstance(type_, sa.types._Binary):
        length = getattr(type_, "length", None) or 16
        return (f"{n}:".encode() + b"\x00\x01\xfe\xff" * 8)[: min(length, 32)]
    if _name(type_) in ("INET", "CIDR"):
        return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" + ("/32" if _name(type_) == "CIDR" else "")
    if _name(type_) in ("MACADDR", "MACADDR8"):
        return "08:00:2b:" + ":".join(f"{n >> shift & 255:02x}" for shift in (16, 8, 0))
    if _name(type_) == "TSVECTOR":
        return f"word{n} {column}"
    if isinstance(type_, sa.String) and rule.pattern is not None:
        length = getattr(type_, "length", None)
        if rule.max_length is not None:
            length = min(length or rule.max_length, rule.max_length)
        return _matching(rule.pattern, n, length, rule.min_length or 0)
    if isinstance(type_, sa.String) and getattr(type_, "length", None) in (32, 36) and rule.max_length is None:
        # How a UUID is stored without a native type (sa.Uuid: CHAR(32); str(uuid): 36): read back
        # through a Uuid, anything else fails. Distinct text all the same where it is plain text.
        value = uuid.uuid5(uuid.NAMESPACE_OID, f"{column}-{n}")
        return value.hex if type_.length == 32 else str(value)
    if isinstance(type_, sa.String):
        length = getattr(type_, "length", None) or _SMALL_TEXT.get(_name(type_))
        if length is None:
            length = max(UNBOUNDED_WIDTH, (rule.widest or 0) + 1)
        if rule.max_length is not None:
            length = min(length or rule.max_length, rule.max_length)
        return _text(n, length, column, rule.min_length or 0)
    raise TypeError(f"no generator for column type {type_!r}")


def value_for(type_: Any, n: int, column: str, rule: ColumnRule | None = None, position: int = 0) -> Any:
    """A value of `type_` distinct for every n, obeying the column's CHECK rules and known enum values."""
    if rule is not None and rule.values:
        allowed = [v for v in rule.values if v not in rule.excluded and v is not None]
        if allowed:
            return allowed[n % len(allowed)]
    if rule is not None and rule.encode is not None:
        encoded = rule.encode(n)
        length = getattr(type_, "length", None)
        if not (isinstance(encoded, str) and length is not None and len(encoded) > length):
            return encoded
    if rule is not None and rule.json:
        return json.dumps({"n": n, "column": column})
    value = plain_value(type_, n, column, rule, position)
    if rule is None or isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        return value
    whole = isinstance(value, int) or getattr(type_, "scale", None) == 0
    fitted = _within(decimal.Decimal(str(value)), n, rule, whole)
    if isinstance(value, int):
        return int(fitted)
    return float(fitted) if isinstance(value, float) else fitted


def _within(value: decimal.Decimal, n: int, rule: ColumnRule, whole: bool) -> decimal.Decimal:
    """`value`, or one derived from n, inside the rule's bounds (and not one of its excluded values)."""
    step = decimal.Decimal(1) if whole else decimal.Decimal("0.25")
    low = None if rule.low is None else rule.low + (step if rule.low_open else 0)
    high = None if rule.high is None else rule.high - (step if rule.high_open else 0)
    if whole:
        low = None if low is None else low.to_integral_value(decimal.ROUND_CEILING)
        high = None if high is None else high.to_integral_value(decimal.ROUND_FLOOR)
    inside = (low is None or value >= low) and (high is None or value <= high)
    if not inside:
        if low is not None and high is not None:
            span = max(int((high - low) / step), 0) + 1
            value = low + step * (n % span)
        elif low is not None:
            value = low + step * (n % 1000)
        else:
            value = high - step * (n % 1000)
    for _ in range(3):
        if value not in rule.excluded and float(value) not in rule.excluded:
            break
        value = value + step if high is None or value + step <= high else value - step
    return value


_HOLDS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq}
_HOLDS.update({"<>": operator.ne, "!=": operator.ne})


def related_value(value: Any, op: str, other: Any, type_: Any) -> Any:
    """`value`, or the nearest one to `other` that makes `value op other` hold (`ends_at > starts_at`).

    Numbers, dates and times move by their smallest generated step; other types are left as they are.
    """
    try:
        if value is None or other is None or _HOLDS[op](value, other):
            return value
    except TypeError:  # values of types that do not compare (naive and aware datetimes): left alone
        return value
    if op in ("=", "<=", ">="):
        return other
    step = _step(type_, other)
    if step is None:
        return value
    return other - step if op == "<" else other + step


def _step(type_: Any, value: Any) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return 1
    if isinstance(value, float):
        return 0.25
    if isinstance(value, decimal.Decimal):
        scale = getattr(type_, "scale", None)
        return decimal.Decimal(1).scaleb(-(scale or 0))
    if isinstance(value, dt.datetime):
        return dt.timedelta(hours=1)
    if isinstance(value, dt.date):
        return dt.timedelta(days=1)
    if isinstance(value, dt.timedelta):
        return dt.timedelta(seconds=1)
    return None
