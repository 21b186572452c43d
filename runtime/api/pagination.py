"""The API's cursor lists: `limit` (1–100, default 20), `order` (default desc), `after`, `before`.

Cursors are object ids and read relative to the requested order: `after=X` is the page following X
as listed, `before=X` the page right before it. The SDKs auto-paginate by sending `after=<last id>`
until `has_more` is false, so both must hold exactly. Objects are ordered by (created_at, pk), which
is unique even when two objects share a timestamp.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Model, Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from runtime.errors import InvalidRequest

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class ListParams:
    limit: int
    ascending: bool
    after: str | None
    before: str | None


def list_params(query, *, default_limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT) -> ListParams:
    raw_limit = query.get("limit") or str(default_limit)
    try:
        limit = int(raw_limit)
    except ValueError:
        raise InvalidRequest(f"Invalid 'limit': expected an integer, but got {raw_limit!r} instead.", param="limit")
    if limit < 1:
        raise InvalidRequest(
            f"Invalid 'limit': integer below minimum value. Expected a value >= 1, but got {limit} instead.",
            param="limit",
        )
    if limit > max_limit:
        raise InvalidRequest(
            f"Invalid 'limit': integer above maximum value. Expected a value <= {max_limit}, but got {limit} instead.",
            param="limit",
        )
    order = query.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise InvalidRequest(f"Invalid 'order': expected 'asc' or 'desc', but got {order!r} instead.", param="order")
    return ListParams(
        limit=limit, ascending=order == "asc", after=query.get("after") or None, before=query.get("before") or None
    )


def _ordering(ascending: bool) -> tuple[str, str]:
    return ("created_at", "pk") if ascending else ("-created_at", "-pk")


def _beyond(cursor: Model, *, ascending: bool) -> Q:
    """Objects after `cursor` when listing in this direction."""
    if ascending:
        return Q(created_at__gt=cursor.created_at) | Q(created_at=cursor.created_at, pk__gt=cursor.pk)
    return Q(created_at__lt=cursor.created_at) | Q(created_at=cursor.created_at, pk__lt=cursor.pk)


def _cursor(queryset: QuerySet, public_id: str, param: str, field: str) -> Model:
    cursor = queryset.filter(**{field: public_id}).first()
    if cursor is None:
        raise InvalidRequest(f"Invalid '{param}': no object with id '{public_id}' in this list.", param=param)
    return cursor


def paginate(
    queryset: QuerySet,
    query,
    serialize: Callable[[Model], dict],
    *,
    cursor_field: str = "public_id",
    default_limit: int = DEFAULT_LIMIT,
    max_limit: int = MAX_LIMIT,
) -> dict:
    """One page of `queryset` as the API's list object; cursors name objects by `cursor_field`."""
    params = list_params(query, default_limit=default_limit, max_limit=max_limit)
    forward = params.ascending
    window = queryset
    if params.after:
        window = window.filter(_beyond(_cursor(queryset, params.after, "after", cursor_field), ascending=forward))
    if params.before:
        window = window.filter(_beyond(_cursor(queryset, params.before, "before", cursor_field), ascending=not forward))
    if params.before and not params.after:
        # The page closest to the cursor: walk back from it, then restore the requested order.
        rows = list(window.order_by(*_ordering(not forward))[: params.limit + 1])
        page = rows[: params.limit][::-1]
    else:
        rows = list(window.order_by(*_ordering(forward))[: params.limit + 1])
        page = rows[: params.limit]
    data = [serialize(obj) for obj in page]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(rows) > params.limit,
    }


LIST_PARAMETERS = [
    OpenApiParameter("limit", OpenApiTypes.INT, description="How many objects to return: 1–100 (default 20)."),
    OpenApiParameter("order", OpenApiTypes.STR, enum=["asc", "desc"], description="By created_at; default desc."),
    OpenApiParameter("after", OpenApiTypes.STR, description="An object id: return the objects listed after it."),
    OpenApiParameter("before", OpenApiTypes.STR, description="An object id: return the objects listed before it."),
]
