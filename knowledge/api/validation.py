"""Request bodies of /v1/files and /v1/vector_stores, checked as the API checks them: unknown
fields refused, each value's type and range, errors naming the exact param."""

from __future__ import annotations

from typing import Any

from knowledge import filters
from knowledge.chunking import parse_chunking_strategy
from knowledge.services import check_attributes
from runtime.api.validation import check_metadata
from runtime.errors import InvalidRequest

MAX_FILE_IDS = 500  # a vector store's create
MAX_BATCH_FILES = 2000  # a file batch's file_ids or files
MAX_QUERY_CHARS = 4096
# An upload's expires_after (anchored on created_at): an hour to 30 days, as the API allows.
FILE_EXPIRY_SECONDS = (3600, 2_592_000)


def body(data: Any, allowed: set[str]) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.")
    for key in data:
        if key not in allowed:
            raise InvalidRequest(f"Unknown parameter: '{key}'.", param=key)
    return dict(data)


def string(value: Any, param: str, *, max_length: int, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise InvalidRequest(f"Missing required parameter: '{param}'.", param=param)
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"Invalid type for '{param}': expected a string.", param=param)
    if len(value) > max_length:
        raise InvalidRequest(f"Invalid '{param}': string too long (at most {max_length} characters).", param=param)
    return value


def integer(value: Any, param: str, *, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"Invalid type for '{param}': expected an integer.", param=param)
    if not low <= value <= high:
        raise InvalidRequest(f"Invalid '{param}': expected {low} to {high}, but got {value}.", param=param)
    return value


def boolean(value: Any, param: str, *, default: bool = False) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidRequest(f"Invalid type for '{param}': expected a boolean.", param=param)
    return value


def file_ids(value: Any, param: str = "file_ids", *, limit: int = MAX_FILE_IDS) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequest(f"Invalid type for '{param}': expected an array of file ids.", param=param)
    if len(value) > limit:
        raise InvalidRequest(f"Invalid '{param}': at most {limit} files.", param=param)
    return list(dict.fromkeys(value))


def chunking_strategy(value: Any, param: str = "chunking_strategy") -> dict | None:
    try:
        parse_chunking_strategy(value)
    except ValueError as error:
        # The parser names the exact field at fault (chunking_strategy.static.…); keep it, under `param`.
        exact = getattr(error, "param", None) or "chunking_strategy"
        raise InvalidRequest(str(error), param=param + exact.removeprefix("chunking_strategy")) from None
    return value


def file_expires_after(form) -> int | None:
    """An upload's `expires_after[anchor]` and `expires_after[seconds]` (multipart fields): the
    seconds after its creation that it expires, or None."""
    anchor, seconds = form.get("expires_after[anchor]"), form.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise InvalidRequest("Invalid 'expires_after.anchor': expected 'created_at'.", param="expires_after.anchor")
    low, high = FILE_EXPIRY_SECONDS
    if not isinstance(seconds, str) or not seconds.isdigit() or not low <= int(seconds) <= high:
        raise InvalidRequest(
            f"Invalid 'expires_after.seconds': expected an integer from {low} to {high}.",
            param="expires_after.seconds",
        )
    return int(seconds)


def expires_after(value: Any, param: str = "expires_after") -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"anchor", "days"}:
        raise InvalidRequest(f"Invalid '{param}': expected {{'anchor': 'last_active_at', 'days': N}}.", param=param)
    if value["anchor"] != "last_active_at":
        raise InvalidRequest(f"Invalid '{param}.anchor': expected 'last_active_at'.", param=param)
    integer(value["days"], f"{param}.days", low=1, high=365, default=1)
    return dict(value)


def metadata(value: Any) -> dict | None:
    return None if value is None else check_metadata(value)


def attributes(value: Any) -> dict:
    return check_attributes(value)


def search_query(value: Any) -> list[str]:
    queries = [value] if isinstance(value, str) else value
    if not isinstance(queries, list) or not queries or not all(isinstance(q, str) for q in queries):
        raise InvalidRequest("Invalid 'query': expected a string or an array of strings.", param="query")
    if any(not q.strip() for q in queries):
        raise InvalidRequest("Invalid 'query': must not be empty.", param="query")
    if sum(len(q) for q in queries) > MAX_QUERY_CHARS:
        raise InvalidRequest(f"Invalid 'query': at most {MAX_QUERY_CHARS} characters.", param="query")
    return queries


def search_filters(value: Any) -> dict | None:
    if value is None:
        return None
    return filters.check_filter(_memberships_as_compounds(value))


def _memberships_as_compounds(value: Any, param: str = "filters") -> Any:
    """The API's `in` and `nin` comparisons (the value a list) in the terms knowledge.filters reads:
    `in` as an `or` of `eq`, `nin` as an `and` of `ne`. Anything else is left for check_filter."""
    if not isinstance(value, dict):
        return value
    kind = value.get("type")
    if kind in ("and", "or") and isinstance(value.get("filters"), list):
        return {
            **value,
            "filters": [
                _memberships_as_compounds(item, f"{param}.filters[{i}]") for i, item in enumerate(value["filters"])
            ],
        }
    if kind not in ("in", "nin"):
        return value
    items = value.get("value")
    if set(value) - {"type", "key", "value"} or not isinstance(value.get("key"), str):
        raise InvalidRequest(f"Invalid '{param}': a comparison has a 'type', a 'key' and a 'value'.", param=param)
    if (
        not isinstance(items, list)
        or not items
        or not all(isinstance(item, str | int | float) and not isinstance(item, bool) for item in items)
    ):
        raise InvalidRequest(
            f"Invalid '{param}.value': '{kind}' compares with a non-empty array of strings or numbers.", param=param
        )
    each = "eq" if kind == "in" else "ne"
    return {
        "type": "or" if kind == "in" else "and",
        "filters": [{"type": each, "key": value["key"], "value": item} for item in items],
    }


def ranking_options(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or set(value) - {"ranker", "score_threshold"}:
        raise InvalidRequest(
            "Invalid 'ranking_options': expected {ranker?, score_threshold?}.", param="ranking_options"
        )
    if value.get("ranker", "auto") not in ("none", "auto", "default-2024-11-15"):
        raise InvalidRequest(
            "Invalid 'ranking_options.ranker': expected 'none', 'auto' or 'default-2024-11-15'.",
            param="ranking_options",
        )
    threshold = value.get("score_threshold", 0.0)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise InvalidRequest("Invalid 'ranking_options.score_threshold': expected 0 to 1.", param="ranking_options")
    return dict(value)
