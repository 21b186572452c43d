"""Ingesting a file into a vector store: extracted (in a child process with limits), chunked,
embedded, stored searchable.

Claimed like a run: a compare-and-set takes the file with a lease, so two workers never ingest it at
once and a dead worker's file goes to another when its lease lapses (knowledge.tasks.sweep). Safe
to run again: the chunks are replaced, in one transaction, only while the file is still this
worker's and in progress (not cancelled or removed meanwhile). A file that cannot be read fails
with last_error (`unsupported_file`, `invalid_file`); an embedding provider that keeps failing,
with `server_error` after MAX_ATTEMPTS (at once when it says trying again cannot help: a refused
key, an input it will not take); never a stuck `in_progress`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from knowledge import indexes
from knowledge.chunking import chunk, parse_chunking_strategy
from knowledge.extract import extract_sections
from knowledge.models import Chunk, VectorStore, VectorStoreFile
from knowledge.sections import ExtractionError
from runtime.llm.client import EmbeddingFailed, embed

log = logging.getLogger(__name__)
S = VectorStoreFile.Status
MAX_ATTEMPTS = 3


def ingest(store_file_id: int, *, worker: str) -> str | None:
    """Ingest one file of a store; returns its status afterwards (None when it was not ours to do,
    or the file left the store meanwhile)."""
    if not _claim(store_file_id, worker):
        return None
    store_file = VectorStoreFile.objects.select_related("file", "vector_store").get(pk=store_file_id)
    try:
        with store_file.file.content.open("rb") as handle:
            data = handle.read()
        sections = extract_sections(data, filename=store_file.file.filename)
        max_tokens, overlap = parse_chunking_strategy(store_file.chunking_strategy)
        chunks = chunk(sections, max_tokens=max_tokens, overlap_tokens=overlap)
        if not chunks:
            raise ExtractionError("The file has no text to search.", code="invalid_file")
        vectors = embed([c.text for c in chunks]) if chunks else []
    except ExtractionError as error:
        return _fail(store_file, worker, error.code, error.message)
    except EmbeddingFailed as error:
        if not error.retryable or store_file.attempts >= MAX_ATTEMPTS:
            log.warning("ingesting %s failed for good: %r", store_file, error)
            return _fail(store_file, worker, "server_error", "The file could not be processed. Try again later.")
        _release(store_file, worker)
        raise
    except Exception as error:  # the storage or the embedding provider: try again, a few times
        log.warning("ingesting %s failed (attempt %s): %r", store_file, store_file.attempts, error)
        if store_file.attempts >= MAX_ATTEMPTS:
            return _fail(store_file, worker, "server_error", "The file could not be processed. Try again later.")
        _release(store_file, worker)
        raise
    return _store(store_file, worker, chunks, vectors)


def _claim(store_file_id: int, worker: str) -> bool:
    now = timezone.now()
    return bool(
        VectorStoreFile.objects.filter(pk=store_file_id, status=S.IN_PROGRESS)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            claimed_by=worker,
            lease_expires_at=now + timedelta(seconds=settings.KNOWLEDGE_INGEST_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    )


def _still_ours(store_file: VectorStoreFile, worker: str):
    return VectorStoreFile.objects.filter(pk=store_file.pk, status=S.IN_PROGRESS, claimed_by=worker)


def _release(store_file: VectorStoreFile, worker: str) -> None:
    """Give the file back for another attempt (the sweep, or the task's own retry, takes it)."""
    _still_ours(store_file, worker).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def _fail(store_file: VectorStoreFile, worker: str, code: str, message: str) -> str:
    _still_ours(store_file, worker).update(
        status=S.FAILED, last_error={"code": code, "message": message}, lease_expires_at=None
    )
    return S.FAILED


def _store(store_file: VectorStoreFile, worker: str, chunks, vectors: list[list[float]]) -> str:
    rows = [
        Chunk(
            store_file=store_file,
            vector_store_id=store_file.vector_store_id,
            index=piece.index,
            text=piece.text,
            tokens=piece.tokens,
            page=piece.page,
            heading=(piece.heading or "")[:300],
            embedding=_as_bytes(vector),
        )
        for piece, vector in zip(chunks, vectors, strict=True)
    ]
    usage = sum(len(row.text.encode()) + len(row.embedding or b"") for row in rows)
    with transaction.atomic():
        if not _still_ours(store_file, worker).select_for_update().exists():
            # cancelled, or removed from the store (or its file deleted) meanwhile
            return VectorStoreFile.objects.filter(pk=store_file.pk).values_list("status", flat=True).first()
        Chunk.objects.filter(store_file=store_file).delete()
        Chunk.objects.bulk_create(rows)
        if indexes.has_pgvector(connection):
            _mirror_vectors(rows, vectors)
        _still_ours(store_file, worker).update(status=S.COMPLETED, usage_bytes=usage, lease_expires_at=None)
        VectorStore.objects.filter(pk=store_file.vector_store_id).update(version=F("version") + 1)
    return S.COMPLETED


def _as_bytes(vector: list[float]) -> bytes:
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return (array / norm if norm else array).astype("<f4").tobytes()


def _mirror_vectors(rows: list[Chunk], vectors: list[list[float]]) -> None:
    """pgvector's column, for the HNSW index; only vectors of the column's width fit it."""
    width = int(settings.EMBEDDING_DIMENSIONS)
    pairs = [
        (row.pk, "[" + ",".join(f"{x:.7g}" for x in np.frombuffer(row.embedding, dtype="<f4").tolist()) + "]")
        for row, vector in zip(rows, vectors, strict=True)
        if len(vector) == width
    ]
    if pairs:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE knowledge_chunk SET {indexes.PG_VECTOR_COLUMN} = %s::vector WHERE id = %s",
                [(literal, pk) for pk, literal in pairs],
            )
