"""Generated values as the application writes them: through the model's TypeDecorators.

A column the database knows as TEXT may hold only JSON, an enum's names or UUIDs, because the model
writes it through a TypeDecorator. A data migration that reads it (`json.loads(payload)`) fails on plain
generated text, though no row the application wrote would make it fail. So where the target metadata
types a column with a TypeDecorator that processes what it binds, the generated value is a Python value
the decorator accepts (an enum member, a UUID, a dict) passed through its own bind processing.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

Encoder = Callable[[int], Any]  # n -> the value to store, as the model's type binds it


def model_encoders(metadata: Any, dialect: sa.Dialect) -> dict[tuple[str, str], Encoder]:
    """Per (table, column) of the model, how to make its values, where a TypeDecorator binds them."""
    found: dict[tuple[str, str], Encoder] = {}
    metadatas = metadata if isinstance(metadata, (list, tuple)) else [metadata]
    for meta in metadatas:
        for table in getattr(meta, "tables", {}).values():
            for column in table.columns:
                encoder = _encoder(column.type, column.name, dialect)
                if encoder is not None:
                    found[(table.name, column.name)] = encoder
    return found


def _overrides(type_: Any, method: str) -> bool:
    return getattr(type(type_), method, None) is not getattr(sa.TypeDecorator, method)


def _enum_class(type_: Any) -> type[enum.Enum] | None:
    """A Python Enum the decorator holds (its members are what the application binds)."""
    for value in vars(type_).values():
        if isinstance(value, type) and issubclass(value, enum.Enum) and len(value):
            return value
    return None


def _candidates(type_: Any, column: str) -> list[Callable[[int], Any]]:
    """Kinds of Python value an application may bind through the decorator, most specific first."""
    kinds: list[Callable[[int], Any]] = []
    members = _enum_class(type_)
    if members is not None:
        listed = list(members)
        kinds.append(lambda n: listed[n % len(listed)])
    kinds.append(lambda n: uuid.uuid5(uuid.NAMESPACE_OID, f"{column}-{n}"))
    kinds.append(lambda n: {"n": n, "column": column})
    return kinds


def _encoder(type_: Any, column: str, dialect: sa.Dialect) -> Encoder | None:
    if not isinstance(type_, sa.TypeDecorator) or not _overrides(type_, "process_bind_param"):
        return None
    checks_back = _overrides(type_, "process_result_value")
    for make in _candidates(type_, column):
        try:
            sample = make(1)
            stored = type_.process_bind_param(sample, dialect)
            if stored is None or stored is sample:
                continue
            if checks_back and type_.process_result_value(stored, dialect) != sample:
                continue
        except Exception:
            continue
        length = getattr(getattr(type_, "impl_instance", None), "length", None)
        if isinstance(stored, str) and length is not None and len(stored) > length:
            continue

        def encode(n: int, make: Callable[[int], Any] = make) -> Any:
            return type_.process_bind_param(make(n), dialect)

        return encode
    return None
