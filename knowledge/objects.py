"""The Files and Vector Stores APIs' objects, field for field as the openai SDK's types
(openai/types/file_object.py, vector_store.py, vector_stores/*): every key present, null where there
is no value, timestamps in Unix seconds."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q, Sum

from knowledge.models import File, FileBatch, VectorStore, VectorStoreFile

S = VectorStoreFile.Status


def ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def file_obj(file: File) -> dict:
    return {
        "id": file.public_id,
        "object": "file",
        "bytes": file.bytes,
        "created_at": ts(file.created_at),
        "expires_at": ts(file.expires_at),
        "filename": file.filename,
        "purpose": file.purpose,
        "status": "processed",
        "status_details": None,
    }


COUNTED = ("in_progress", "completed", "failed", "cancelled", "total")


def _tallies(prefix: str = "") -> dict:
    """Count and Sum expressions over store files (through `prefix`, e.g. "store_files__")."""
    return {
        "total": Count(f"{prefix}pk"),
        **{status: Count(f"{prefix}pk", filter=Q(**{f"{prefix}status": status})) for status in S.values},
        "usage": Sum(f"{prefix}usage_bytes"),
    }


def file_counts(store_files) -> dict:
    """{in_progress, completed, failed, cancelled, total} over a queryset of VectorStoreFile."""
    counted = store_files.aggregate(**_tallies())
    return {key: counted[key] or 0 for key in COUNTED}


def with_tallies(stores):
    """Stores with their file counts and usage annotated: a page of them in one query."""
    return stores.annotate(**{f"tally_{key}": value for key, value in _tallies("store_files__").items()})


def vector_store_obj(store: VectorStore) -> dict:
    if hasattr(store, "tally_total"):
        tallies = {key: getattr(store, f"tally_{key}") or 0 for key in (*COUNTED, "usage")}
    else:
        counted = store.store_files.aggregate(**_tallies())
        tallies = {key: counted[key] or 0 for key in (*COUNTED, "usage")}
    counts = {key: tallies[key] for key in COUNTED}
    usage = tallies["usage"]
    if store.expired:
        status = VectorStore.Status.EXPIRED
    elif counts["in_progress"]:
        status = VectorStore.Status.IN_PROGRESS
    else:
        status = VectorStore.Status.COMPLETED
    return {
        "id": store.public_id,
        "object": "vector_store",
        "created_at": ts(store.created_at),
        "name": store.name,
        "usage_bytes": usage,
        "file_counts": counts,
        "status": status,
        "expires_after": store.expires_after,
        "expires_at": ts(store.expires_at),
        "last_active_at": ts(store.last_active_at),
        "metadata": store.metadata or {},
    }


def vector_store_file_obj(store_file: VectorStoreFile) -> dict:
    return {
        "id": store_file.file.public_id,
        "object": "vector_store.file",
        "created_at": ts(store_file.created_at),
        "usage_bytes": store_file.usage_bytes,
        "vector_store_id": store_file.vector_store.public_id,
        "status": store_file.status,
        "last_error": store_file.last_error,
        "chunking_strategy": store_file.chunking_strategy or None,
        "attributes": store_file.attributes or {},
    }


def batch_obj(batch: FileBatch) -> dict:
    counts = file_counts(batch.store_files.all())
    if batch.cancelled:
        status = FileBatch.Status.CANCELLED
    elif counts["in_progress"]:
        status = FileBatch.Status.IN_PROGRESS
    elif counts["total"] and counts["failed"] == counts["total"]:
        status = FileBatch.Status.FAILED
    else:
        status = FileBatch.Status.COMPLETED
    return {
        "id": batch.public_id,
        "object": "vector_store.files_batch",
        "created_at": ts(batch.created_at),
        "vector_store_id": batch.vector_store.public_id,
        "status": status,
        "file_counts": counts,
    }
