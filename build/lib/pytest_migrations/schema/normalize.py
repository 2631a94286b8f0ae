"""Dialect noise removed before comparing: default spellings, type names, integer display widths."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

_CAST = re.compile(r"::[a-z_ ]+(\([\d, ]+\))?(\[\])?", re.I)
_NOW = re.compile(r"^(now\(\)|current_timestamp(\(\))?|localtimestamp(\(\))?|transaction_timestamp\(\))$", re.I)
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
    unquoted = text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else None
    if unquoted is not None and re.fullmatch(r"-?\d+(\.\d+)?", unquoted):
        return unquoted
    if text.lower() in ("true", "false"):
        return text.lower()
    return text


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
    if isinstance(type_, sa.Enum) and not enum_name:
        text += "(" + ",".join(repr(v) for v in type_.enums) + ")"
    return text


def _sqltext(text: Any) -> str:
    value = re.sub(r"\s+", " ", str(text)).strip()
    while value.startswith("(") and value.endswith(")") and _balanced(value[1:-1]):
        value = value[1:-1].strip()
    return value.replace('"', "").replace("`", "").lower()
