"""CHECK constraints read as rules for generated values: the common forms, per column.

Databases echo a CHECK back in their own spelling (PostgreSQL: `status::text = ANY (ARRAY[...])` and
`~~` for LIKE, MariaDB: backquotes and lowercase keywords, SQLite: as written), so each is
normalized first. Understood: conjunctions of `IN (...)`, comparisons with a literal, `BETWEEN`,
`length(col)` / `char_length(col)` compared with a number, `json_valid(col)`, `LIKE` / `ILIKE`
patterns, `IS NOT NULL`, and one column compared with another. In a disjunction the generated values
keep to one branch whose parts are all understood; `col IS NULL` branches are passed over, since
generated values are not NULL and a NULL makes the other branches unknown, which a CHECK lets
through. Any other constraint is left alone: rows that break it fail to insert and the coverage line
names the table, never silently skipped.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa


@dataclass
class ColumnRule:
    """What a column's CHECK constraints (and known enum values) allow."""

    values: tuple[Any, ...] | None = None  # IN (...), or an enum's values
    low: decimal.Decimal | None = None
    low_open: bool = False
    high: decimal.Decimal | None = None
    high_open: bool = False
    min_length: int | None = None
    max_length: int | None = None
    json: bool = False
    pattern: str | None = None  # LIKE / ILIKE, with % and _ as the only wildcards
    # (operator, column declared before this one): `ends_at > starts_at` is (">", "starts_at") on ends_at
    relations: list[tuple[str, str]] = field(default_factory=list)
    excluded: set[Any] = field(default_factory=set)  # <> / != literals
    encode: Any = None  # n -> the value as the model's TypeDecorator binds it (seeding.model_types)
    widest: int | None = None  # the widest bounded length the column had so far in the history

    def allow(self, values: Iterable[Any]) -> None:
        values = tuple(values)
        self.values = values if self.values is None else tuple(v for v in self.values if v in values)

    def at_least(self, bound: decimal.Decimal, open_: bool) -> None:
        if self.low is None or bound > self.low or (bound == self.low and open_):
            self.low, self.low_open = bound, open_

    def at_most(self, bound: decimal.Decimal, open_: bool) -> None:
        if self.high is None or bound < self.high or (bound == self.high and open_):
            self.high, self.high_open = bound, open_


_CAST = re.compile(
    r"::\s*(?:character varying|double precision|time(?:stamp)? with(?:out)? time zone|bit varying|[a-z_][a-z0-9_]*)"
    r"(?:\s*\(\d+(?:\s*,\s*\d+)?\))?(?:\[\])*",
    re.I,
)
# PostgreSQL echoes negative and bigint constants quoted: `debit <= '-1'::integer`.
_QUOTED_NUMBER = re.compile(
    r"'(-?\d+(?:\.\d+)?)'(?=\s*::\s*(?:integer|bigint|smallint|numeric|decimal|real|double precision|int[248]?)\b)",
    re.I,
)
_WRAPPED_NAME = re.compile(r"(?<![\w\s])\(\s*([A-Za-z_]\w*)\s*\)")
_BETWEEN = re.compile(r"((?:\b[A-Za-z_]\w*\s*\(\s*)?\b[A-Za-z_]\w*(?:\s*\))?)\s+between\s+(\S+)\s+and\s+(\S+)", re.I)
_LITERAL = r"(?:'(?:[^']|'')*'|-?\d+(?:\.\d+)?(?:e-?\d+)?|true|false)"
_IN = re.compile(r"^([A-Za-z_]\w*)\s+in\s*\((.*)\)$", re.I | re.S)
_ANY = re.compile(r"^([A-Za-z_]\w*)\s*=\s*any\s*\(\s*\(?\s*array\s*\[(.*)\]\s*\)?\s*\)$", re.I | re.S)
_COMPARE = re.compile(rf"^([A-Za-z_]\w*)\s*(<=|>=|<>|!=|<|>|=)\s*({_LITERAL})$", re.I)
_COMPARE_REVERSED = re.compile(rf"^({_LITERAL})\s*(<=|>=|<>|!=|<|>|=)\s*([A-Za-z_]\w*)$", re.I)
_LENGTH = re.compile(
    r"^(?:char_length|character_length|octet_length|length|len)\s*\(\s*([A-Za-z_]\w*)\s*\)\s*(<=|>=|<>|!=|<|>|=)\s*(\d+)$",
    re.I,
)
_COLUMNS = re.compile(r"^([A-Za-z_]\w*)\s*(<=|>=|<>|!=|<|>|=)\s*([A-Za-z_]\w*)$", re.I)
_JSON_VALID = re.compile(r"^json_valid\s*\(\s*([A-Za-z_]\w*)\s*\)$", re.I)
_LIKE = re.compile(r"^([A-Za-z_]\w*)\s+i?like\s+'((?:[^'\\]|'')*)'$", re.I)
_IS_NULL = re.compile(r"^[A-Za-z_]\w*\s+is\s+null$", re.I)
_IS_NOT_NULL = re.compile(r"^[A-Za-z_]\w*\s+is\s+not\s+null$", re.I)
# PostgreSQL's spelling of LIKE and ILIKE; the negated forms first, so they stay negated (and not understood).
_PG_LIKE = ((re.compile(r"!~~\*?"), " not like "), (re.compile(r"~~\*?"), " like "))
_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>", "!=": "!="}


def normalize_check(text: str) -> str:
    """One spelling for every engine: no casts, no identifier quotes, no redundant parentheses."""
    text = _CAST.sub("", _QUOTED_NUMBER.sub(r"\1", text)).replace("`", "").replace('"', "")
    for operator, spelled in _PG_LIKE:
        text = operator.sub(spelled, text)
    text = re.sub(r"\s+", " ", text).strip()
    previous = None
    while previous != text:
        previous = text
        text = _WRAPPED_NAME.sub(r"\1", text)
        text = _strip_outer(text)
    return _BETWEEN.sub(r"\1 >= \2 and \1 <= \3", text)


def _strip_outer(text: str) -> str:
    while text.startswith("(") and text.endswith(")") and _top_level(text[1:-1], ")") is None:
        text = text[1:-1].strip()
    return text


def _top_level(text: str, target: str) -> int | None:
    """Index of `target` outside quotes and parentheses, or None; ')' finds an unbalanced close."""
    depth, quoted, i = 0, False, 0
    while i < len(text):
        char = text[i]
        if char == "'":
            quoted = not quoted
        elif not quoted:
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth < 0:
                    return i
            elif depth == 0 and target != ")" and text[i : i + len(target)].lower() == target:
                before = text[i - 1] if i else " "
                after = text[i + len(target)] if i + len(target) < len(text) else " "
                if not target.isalpha() or not (_word_char(before) or _word_char(after)):
                    return i
        i += 1
    return None


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _split(text: str, word: str) -> list[str]:
    parts = []
    while (at := _top_level(text, word)) is not None:
        parts.append(text[:at].strip())
        text = text[at + len(word) :]
    parts.append(text.strip())
    return parts


def literal(text: str) -> Any:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    number = decimal.Decimal(text)
    return int(number) if number == number.to_integral_value() and "." not in text and "e" not in text else number


def _literals(text: str) -> tuple[Any, ...]:
    return tuple(literal(part) for part in _split(text, ",") if part)


class _Rules:
    """The rules being read for one table's columns, looked up by any spelling of a column's name."""

    def __init__(self, columns: Iterable[str]) -> None:
        self.names = {name.lower(): name for name in columns}
        self.positions = {lower: i for i, lower in enumerate(self.names)}
        self.found: dict[str, ColumnRule] = {}

    def __call__(self, name: str) -> ColumnRule | None:
        real = self.names.get(name.lower())
        return None if real is None else self.found.setdefault(real, ColumnRule())

    def scratch(self) -> _Rules:
        """Rules for the same columns that start empty: to try a part without changing these."""
        return _Rules(self.names.values())


def parse_checks(texts: Iterable[str], columns: Iterable[str]) -> dict[str, ColumnRule]:
    """Rules per column (lowercase-insensitive names matched to the real ones) from CHECK texts."""
    rules = _Rules(columns)
    for text in texts:
        for part in _parts_to_obey(normalize_check(text), rules):
            _apply(part, rules)
    return rules.found


def _parts_to_obey(normalized: str, rules: _Rules) -> list[str]:
    """The conjuncts generated values must meet: all of a conjunction, or one understood branch of an OR."""
    branches = _split(normalized, "or")
    if len(branches) == 1:
        return [_strip_outer(part) for part in _split(normalized, "and")]
    for branch in branches:
        branch = _strip_outer(branch)
        if _IS_NULL.match(branch):
            continue
        parts = [_strip_outer(part) for part in _split(branch, "and")]
        trial = rules.scratch()
        if all(_apply(part, trial) for part in parts):
            return parts
    return []


def _apply(part: str, rules: _Rules) -> bool:
    """Narrow the rule of the column `part` is about; False when `part` is not a form understood here."""
    try:
        return _apply_form(part, rules)
    except (decimal.InvalidOperation, ValueError):
        return False


def _apply_form(part: str, rules: _Rules) -> bool:
    if match := _IN.match(part) or _ANY.match(part):
        if target := rules(match.group(1)):
            target.allow(_literals(match.group(2)))
    elif match := _JSON_VALID.match(part):
        if target := rules(match.group(1)):
            target.json = True
    elif match := _LENGTH.match(part):
        if target := rules(match.group(1)):
            _bound_length(target, match.group(2), int(match.group(3)))
    elif match := _LIKE.match(part):
        if target := rules(match.group(1)):
            _like(target, match.group(2).replace("''", "'"))
    elif _IS_NOT_NULL.match(part):
        return True  # generated values are not NULL
    elif (match := _COMPARE.match(part)) or (match := _COMPARE_REVERSED.match(part)):
        reversed_ = match.re is _COMPARE_REVERSED
        name, op, value = (match.group(3), _FLIPPED[match.group(2)], match.group(1)) if reversed_ else match.groups()
        if target := rules(name):
            _bound_value(target, op, literal(value))
    elif match := _COLUMNS.match(part):
        left, op, right = match.group(1).lower(), match.group(2), match.group(3).lower()
        if left not in rules.positions or right not in rules.positions or left == right:
            return False
        if rules.positions[left] < rules.positions[right]:  # the later column is set from the earlier one
            left, op, right = right, _FLIPPED[op], left
        target = rules(left)
        target.relations.append((op, rules.names[right]))
    else:
        return False
    return target is not None


def _like(target: ColumnRule, pattern: str) -> None:
    if "%" in pattern or "_" in pattern:
        target.pattern = pattern
    else:
        target.allow((pattern,))


def _bound_length(target: ColumnRule, op: str, n: int) -> None:
    if op in (">", ">="):
        target.min_length = max(target.min_length or 0, n + (op == ">"))
    elif op in ("<", "<="):
        limit = n - (op == "<")
        target.max_length = limit if target.max_length is None else min(target.max_length, limit)
    elif op == "=":
        target.min_length = target.max_length = n


def _bound_value(target: ColumnRule, op: str, value: Any) -> None:
    if op in ("<>", "!="):
        target.excluded.add(value)
    elif op == "=":
        target.allow((value,))
    elif isinstance(value, (int, decimal.Decimal)) and not isinstance(value, bool):
        bound = decimal.Decimal(value)
        if op in (">", ">="):
            target.at_least(bound, op == ">")
        else:
            target.at_most(bound, op == "<")


def mysql_column_checks(conn: sa.Connection, table: str) -> list[str]:
    """MariaDB keeps a column's own CHECK (JSON's `json_valid` among them) where reflection does not look."""
    try:
        rows = conn.execute(
            sa.text(
                "SELECT check_clause FROM information_schema.check_constraints "
                "WHERE constraint_schema = DATABASE() AND table_name = :t AND level = 'Column'"
            ),
            {"t": table},
        )
        return [row[0] for row in rows]
    except sa.exc.DBAPIError:  # MySQL: no LEVEL column, and its column checks are reflected as table checks
        return []
