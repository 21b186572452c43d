"""Fetching a caller's files and vector stores by public id: anything not theirs reads as not found.

Like the runtime's objects (runtime.api.access), a File or VectorStore created through /v1 belongs to
its API key's owner; the shop's own (owner None: the help centre) are never visible through /v1.
"""

from __future__ import annotations

from common.errors import NotFound
from knowledge.models import File, FileBatch, VectorStore, VectorStoreFile


def not_found(kind: str, public_id: str) -> NotFound:
    return NotFound(f"No {kind} found with id '{public_id}'.")


def files_of(owner):
    return File.objects.filter(owner=owner)


def access_file(owner, public_id: str) -> File:
    file = files_of(owner).filter(public_id=public_id).first()
    if file is None:
        raise not_found("file", public_id)
    return file


def stores_of(owner):
    return VectorStore.objects.filter(owner=owner)


def access_store(owner, public_id: str) -> VectorStore:
    store = stores_of(owner).filter(public_id=public_id).first()
    if store is None:
        raise not_found("vector store", public_id)
    return store


def store_files_of(store: VectorStore):
    return VectorStoreFile.objects.filter(vector_store=store).select_related("file", "vector_store")


def access_store_file(store: VectorStore, file_id: str) -> VectorStoreFile:
    store_file = store_files_of(store).filter(file__public_id=file_id).first()
    if store_file is None:
        raise not_found("vector store file", file_id)
    return store_file


def access_batch(store: VectorStore, batch_id: str) -> FileBatch:
    batch = FileBatch.objects.filter(vector_store=store, public_id=batch_id).select_related("vector_store").first()
    if batch is None:
        raise not_found("vector store file batch", batch_id)
    return batch
