"""Dialect noise removed before comparing: default spellings, type names, integer display widths."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

_CAST = re.compile(r"::[a-z_ ]+(\([\d, ]+\))?(\[\])?", re.I)
# Spellings of the transaction's start time with a time zone; LOCALTIMESTAMP is another value (no zone).
_NOW = re.compile(r"^(now\(\)|current_timestamp(\(\))?|transaction_timestamp\(\))$", re.I)
_LOCAL_NOW = re.compile(r"^localtimestamp(\(\))?$", re.I)
_INT_WIDTH = re.compile(r"\b(TINYINT|SMALLINT|MEDIUMINT|INTEGER|INT|BIGINT)\(\d+\)", re.I)


def normalize_default(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if text.upper() == "NULL":
        return None
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    if text.lower().startswith("nextval("):
        return "<sequence>"
    text = _CAST.sub("", text)
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    if _NOW.match(text):
        return "CURRENT_TIMESTAMP"
    if _LOCAL_NOW.match(text):
        return "LOCALTIMESTAMP"
    unquoted = text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else None
    if unquoted is not None and re.fullmatch(r"-?\d+(\.\d+)?", unquoted):
        return unquoted
    if text.lower() in ("true", "false"):
        return text.lower()
    return text


# Spellings of a boolean server default that mean the same stored value, per engine. SQLite stores
# '0' in a BOOLEAN (numeric affinity) column as 0, and reads FALSE as 0 (3.23+); but 'false' stays
# text there, so it is not one of them. PostgreSQL shows every spelling as false/true already;
# MySQL/MariaDB evaluate FALSE and b'0' to 0, so their booleans (TINYINT(1)) keep 0/1.
_FALSE_SPELLINGS = {"0", "false", "'0'", "b'0'"}
_TRUE_SPELLINGS = {"1", "true", "'1'", "b'1'"}
_QUOTED_WORDS = {"'f'": "false", "'false'": "false", "'t'": "true", "'true'": "true"}  # PostgreSQL literals


def normalize_boolean_default(default: str | None, type_text: str, dialect_name: str) -> str | None:
    """One spelling for a boolean column's default: `0`, `'0'` and `false` are one default, not three."""
    if default is None:
        return None
    lowered = default.lower()
    if dialect_name in ("mysql", "mariadb"):
        if type_text.upper() not in ("TINYINT", "BOOLEAN", "BOOL", "BIT(1)"):
            return default
        canonical = "0" if lowered in _FALSE_SPELLINGS else "1" if lowered in _TRUE_SPELLINGS else None
        return canonical or default
    if type_text.upper() != "BOOLEAN":
        return default
    if lowered in _FALSE_SPELLINGS:
        return "false"
    if lowered in _TRUE_SPELLINGS:
        return "true"
    if dialect_name == "postgresql":
        return _QUOTED_WORDS.get(lowered, default)
    return default


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if depth < 0:
            return False
    return depth == 0


def normalize_type(type_: Any, dialect: sa.Dialect) -> str:
    enum_name = getattr(type_, "name", None) if isinstance(type_, sa.Enum) else None
    if dialect.name == "postgresql" and enum_name:
        return f"enum {enum_name}"  # values are compared once, with the type
    try:
        text = type_.compile(dialect=dialect)
    except Exception:
        text = repr(type_)
    text = _INT_WIDTH.sub(lambda m: m.group(1).upper(), text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+COLLATE\s+\S+", "", text, flags=re.I)
    aliases = {
        "INT": "INTEGER",
        "CHARACTER VARYING": "VARCHAR",
        "BOOL": "BOOLEAN",
        "DOUBLE PRECISION": "DOUBLE",
        "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
        "TIME WITHOUT TIME ZONE": "TIME",
    }
    upper = text.upper()
    for alias, canonical in aliases.items():
        if upper == alias or upper.startswith(alias + "("):
            text = canonical + text[len(alias) :]
            break
    if isinstance(type_, sa.Enum) and not enum_name and not text.upper().startswith("ENUM("):
        # MySQL's ENUM compiles with its values already; a VARCHAR-backed one does not.
        text += "(" + ",".join(repr(v) for v in type_.enums) + ")"
    return text


def _sqltext(text: Any) -> str:
    value = re.sub(r"\s+", " ", str(text)).strip()
    while value.startswith("(") and value.endswith(")") and _balanced(value[1:-1]):
        value = value[1:-1].strip()
    return value.replace('"', "").replace("`", "").lower()
