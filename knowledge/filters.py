"""Attribute filters of vector store search, as the API has them.

    comparison: {"type": "eq" | "ne" | "gt" | "gte" | "lt" | "lte", "key": str, "value": str | number | bool}
    compound:   {"type": "and" | "or", "filters": [filter, …]}

A store holds few files, so a filter is checked against each file's attributes in Python, and the
search then looks only in the files it lets through.
"""

from __future__ import annotations

from typing import Any

from common.errors import InvalidInput
from knowledge.models import VectorStore, VectorStoreFile

COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte")
MAX_DEPTH = 8


def check_filter(value: Any, param: str = "filters", depth: int = 0) -> dict:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"Invalid '{param}': filters are nested too deeply.", param=param)
    if not isinstance(value, dict):
        raise InvalidInput(f"Invalid '{param}': expected an object.", param=param)
    kind = value.get("type")
    if kind in COMPARISONS:
        if set(value) - {"type", "key", "value"} or not isinstance(value.get("key"), str):
            raise InvalidInput(f"Invalid '{param}': a comparison has a 'type', a 'key' and a 'value'.", param=param)
        if not isinstance(value.get("value"), str | int | float | bool):
            raise InvalidInput(f"Invalid '{param}.value': expected a string, a number or a boolean.", param=param)
        return value
    if kind in ("and", "or"):
        filters = value.get("filters")
        if set(value) - {"type", "filters"} or not isinstance(filters, list) or not filters:
            raise InvalidInput(
                f"Invalid '{param}': a compound filter has a 'type' and a list of 'filters'.", param=param
            )
        for i, item in enumerate(filters):
            check_filter(item, f"{param}.filters[{i}]", depth + 1)
        return value
    raise InvalidInput(
        f"Invalid '{param}.type': expected one of {', '.join(COMPARISONS)}, and, or; got {kind!r}.", param=param
    )


def matches(rule: dict, attributes: dict) -> bool:
    kind = rule["type"]
    if kind == "and":
        return all(matches(item, attributes) for item in rule["filters"])
    if kind == "or":
        return any(matches(item, attributes) for item in rule["filters"])
    if rule["key"] not in attributes:
        return kind == "ne"
    have, want = attributes[rule["key"]], rule["value"]
    if kind == "eq":
        return have == want
    if kind == "ne":
        return have != want
    if isinstance(have, bool) or isinstance(want, bool) or isinstance(have, str) != isinstance(want, str):
        return False  # ordering compares numbers with numbers and strings with strings only
    try:
        return {"gt": have > want, "gte": have >= want, "lt": have < want, "lte": have <= want}[kind]
    except TypeError:
        return False


def allowed_files(stores: list[VectorStore], rule: dict | None) -> set[int] | None:
    """The store files `rule` lets through (None: no filter, all of them)."""
    if rule is None:
        return None
    rows = VectorStoreFile.objects.filter(vector_store__in=stores).values_list("pk", "attributes")
    return {pk for pk, attributes in rows if matches(rule, attributes or {})}
