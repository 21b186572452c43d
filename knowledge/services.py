"""Every change to files, vector stores and their files, one function each (ingestion: knowledge.ingest).

Each takes the objects it changes already fetched for their owner (knowledge.access), checks what
the API checks, writes in one transaction, and hands ingestion to a worker after commit.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.base import File as DjangoFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from common.errors import DomainError, InvalidInput, InvalidState
from knowledge.chunking import parse_chunking_strategy
from knowledge.extract import file_extension, safe_filename
from knowledge.models import Chunk, File, FileBatch, VectorStore, VectorStoreFile
from knowledge.sections import ExtractionError
from knowledge.sniffing import Format, sniff
from runtime.dispatch import enqueue

INGEST = "knowledge.tasks.ingest"
MAX_ATTRIBUTES, MAX_ATTRIBUTE_KEY, MAX_ATTRIBUTE_VALUE = 16, 64, 512
# What /help/<slug>/ can show: it renders an article's bytes as Markdown.
ARTICLE_FORMATS = (Format.MARKDOWN.value, Format.TEXT.value)
MAX_SLUG = 100


def strategy_obj(max_tokens: int, overlap_tokens: int) -> dict:
    """A chunking strategy as the API shows it on a vector store file (auto reads as its static sizes)."""
    return {"type": "static", "static": {"max_chunk_size_tokens": max_tokens, "chunk_overlap_tokens": overlap_tokens}}


def content_type_of(head: bytes, filename: str) -> str:
    """What the first bytes say the file is (a type we read, or application/octet-stream)."""
    try:
        return sniff(head, file_extension(filename)).format.value
    except ExtractionError:
        return "application/octet-stream"


class FileTooLarge(DomainError):
    code = "file_too_large"
    http_status = 413


class StoreExpired(DomainError):
    """A 400, not InvalidState's 409: the SDKs retry a 409, and an expired store stays expired."""

    code = "vector_store_expired"
    http_status = 400


# --- Files --------------------------------------------------------------------------------------------


def file_create(
    *,
    owner,
    upload,
    purpose: str,
    expires_after_seconds: int | None = None,
    help_slug: str | None = None,
    title: str = "",
) -> File:
    """Store an upload (a Django UploadedFile or any file object with .name and .size), expiring
    `expires_after_seconds` after its creation when given (the API's expires_after, anchored on
    created_at; `expire_files` deletes it then)."""
    if purpose not in File.Purpose.values:
        raise InvalidInput(
            f"Invalid 'purpose': {purpose!r}. Expected one of {', '.join(File.Purpose.values)}.", param="purpose"
        )
    limit = settings.KNOWLEDGE_MAX_UPLOAD_BYTES
    if upload.size > limit:
        raise FileTooLarge(f"The file is {upload.size} bytes; the limit is {limit} bytes.", param="file")
    if upload.size == 0:
        raise InvalidInput("The file is empty.", param="file")
    digest = hashlib.sha256()
    upload.seek(0)
    head = b""
    for piece in iter(lambda: upload.read(1 << 16), b""):
        head = head or piece[:8192]
        digest.update(piece)
    upload.seek(0)
    filename = safe_filename(upload.name or "upload")
    created_at = timezone.now()
    file = File(
        owner=owner,
        created_at=created_at,
        expires_at=created_at + timedelta(seconds=expires_after_seconds) if expires_after_seconds else None,
        filename=filename,
        purpose=purpose,
        bytes=upload.size,
        content_type=content_type_of(head, filename),
        sha256=digest.hexdigest(),
        help_slug=help_slug,
        title=title,
    )
    file.content.save(filename, DjangoFile(upload, name=filename), save=False)
    try:
        file.save()
    except Exception:
        file.content.delete(save=False)
        raise
    return file


def output_file_create(*, owner, filename: str, data: bytes, content_type: str) -> File:
    """Store a file the platform made for `owner` (code_interpreter's charts and reports): purpose
    assistants_output, its type as the maker says (it knows it drew a PNG), downloadable by its
    owner through /v1/files/{id}/content like any other file."""
    filename = safe_filename(filename)
    file = File(
        owner=owner,
        filename=filename,
        purpose=File.Purpose.ASSISTANTS_OUTPUT,
        bytes=len(data),
        content_type=content_type,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    file.content.save(filename, ContentFile(data, name=filename), save=False)
    try:
        file.save()
    except Exception:
        file.content.delete(save=False)
        raise
    return file


def help_file_add(store: VectorStore, *, upload, publish: bool = False, title: str = "") -> VectorStoreFile:
    """Upload a file of the shop's own (the console's Knowledge page) into `store`, ingested after
    commit. Published, it is also a help article at /help/<slug>/, where answers citing it lead:
    its title is `title` or made from the file's name, its slug made from the title and free.
    Only Markdown and plain text can be published (the page renders the file as Markdown)."""
    title = " ".join(title.split())[:200]
    slug = None
    if publish:
        upload.seek(0)
        kind = content_type_of(upload.read(8192), upload.name or "")
        upload.seek(0)
        if kind not in ARTICLE_FORMATS:
            raise InvalidInput(
                "Only Markdown or plain-text files can be published as help articles "
                f"(this one reads as {kind}). Upload it without publishing to make it searchable.",
                param="publish",
            )
        title = title or title_from_filename(upload.name or "")
        slug = free_help_slug(title)
    try:
        file = file_create(owner=None, upload=upload, purpose=File.Purpose.ASSISTANTS, help_slug=slug, title=title)
    except IntegrityError:  # another upload took the slug between our look and our write
        raise InvalidState("Another article was just published with that title. Try again.") from None
    return store_file_add(store, file)


def title_from_filename(filename: str) -> str:
    """A title made of a file's name: shipping-rates.md reads "Shipping rates"."""
    name = safe_filename(filename)
    stem = name.rpartition(".")[0] or name
    words = " ".join(stem.replace("_", " ").replace("-", " ").split())
    return (words[:1].upper() + words[1:]) or "Article"


def free_help_slug(title: str) -> str:
    """A slug for `title` that no article has yet ("returns", then "returns-2", …)."""
    base = slugify(title)[:MAX_SLUG].strip("-") or "article"
    taken = set(File.objects.filter(help_slug__startswith=base).values_list("help_slug", flat=True))
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def file_delete(file: File) -> None:
    """Delete a file, from every store it is in (their searches stop finding it at once)."""
    with transaction.atomic():
        stores = list(file.store_files.values_list("vector_store_id", flat=True))
        file.store_files.all().delete()
        VectorStore.objects.filter(pk__in=stores).update(version=F("version") + 1)
        content = file.content
        file.delete()
        transaction.on_commit(lambda: content.delete(save=False))


def expire_files() -> int:
    """Delete the files past their expires_at (each out of its stores too, as file_delete does)."""
    due = list(File.objects.filter(expires_at__lt=timezone.now()))
    for file in due:
        file_delete(file)
    return len(due)


# --- Vector stores ----------------------------------------------------------------------------------------


def vector_store_create(
    *,
    owner,
    name: str = "",
    files: list[File] = (),
    chunking_strategy: dict | None = None,
    expires_after: dict | None = None,
    metadata: dict | None = None,
) -> VectorStore:
    with transaction.atomic():
        store = VectorStore.objects.create(
            owner=owner, name=name or "", metadata=metadata or {}, expires_after=expires_after
        )
        if expires_after:
            store.touch()
        for file in files:
            store_file_add(store, file, chunking_strategy=chunking_strategy)
    return store


def vector_store_modify(store: VectorStore, *, fields: dict) -> VectorStore:
    """Change the name, metadata or expires_after given (null expires_after: never expires)."""
    with transaction.atomic():
        locked = VectorStore.objects.select_for_update().get(pk=store.pk)
        for key in ("name", "metadata", "expires_after"):
            if key in fields:
                setattr(locked, key, fields[key] if fields[key] is not None or key == "expires_after" else "")
        if "expires_after" in fields:
            locked.expires_at = None
        locked.save()
        if "expires_after" in fields:
            locked.touch()
    return locked


def vector_store_delete(store: VectorStore) -> None:
    store.delete()  # its files stay (they are the owner's, in /v1/files); its chunks go with it


def expire_stores() -> int:
    """Stores past their expiry: searches find nothing in them any more; their chunks are dropped."""
    now = timezone.now()
    due = list(VectorStore.objects.filter(expired=False, expires_at__lt=now).values_list("pk", flat=True))
    if due:
        with transaction.atomic():
            VectorStore.objects.filter(pk__in=due).update(expired=True, version=F("version") + 1)
            Chunk.objects.filter(vector_store_id__in=due).delete()
    return len(due)


# --- Files in stores -----------------------------------------------------------------------------------------


def check_attributes(value, param: str = "attributes") -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"Invalid '{param}': expected an object.", param=param)
    if len(value) > MAX_ATTRIBUTES:
        raise InvalidInput(f"Invalid '{param}': at most {MAX_ATTRIBUTES} properties.", param=param)
    for key, item in value.items():
        if len(key) > MAX_ATTRIBUTE_KEY:
            raise InvalidInput(f"Invalid '{param}': keys are at most {MAX_ATTRIBUTE_KEY} characters.", param=param)
        if isinstance(item, str) and len(item) > MAX_ATTRIBUTE_VALUE:
            raise InvalidInput(
                f"Invalid '{param}.{key}': strings are at most {MAX_ATTRIBUTE_VALUE} characters.", param=param
            )
        if not isinstance(item, str | bool | int | float):
            raise InvalidInput(f"Invalid '{param}.{key}': expected a string, a number or a boolean.", param=param)
    return dict(value)


def store_file_add(
    store: VectorStore,
    file: File,
    *,
    chunking_strategy: dict | None = None,
    attributes: dict | None = None,
    batch: FileBatch | None = None,
) -> VectorStoreFile:
    """Add a file to a store and ingest it after commit. A file already in the store stays as it is."""
    if store.expired:
        raise StoreExpired(f"Vector store {store.public_id} has expired.")
    try:
        max_tokens, overlap = parse_chunking_strategy(chunking_strategy)
    except ValueError as error:
        raise InvalidInput(str(error), param="chunking_strategy") from None
    with transaction.atomic():
        store_file, created = VectorStoreFile.objects.get_or_create(
            vector_store=store,
            file=file,
            defaults={
                "batch": batch,
                "chunking_strategy": strategy_obj(max_tokens, overlap),
                "attributes": check_attributes(attributes),
            },
        )
        if created:
            enqueue(INGEST, store_file.pk)
            store.touch()
    return store_file


def store_file_modify(store_file: VectorStoreFile, *, attributes) -> VectorStoreFile:
    store_file.attributes = check_attributes(attributes)
    VectorStoreFile.objects.filter(pk=store_file.pk).update(attributes=store_file.attributes)
    return store_file


def store_file_retry(store_file: VectorStoreFile, *, completed_too: bool = False) -> bool:
    """Ingest a failed file again (and a completed one with `completed_too`: after the embedding
    model changed): back to in_progress with its error and attempts cleared, and queued after
    commit; its chunks stay searchable until the new ones replace them. Claimed by a
    compare-and-set on the status, so two clicks queue it once; False when it was not failed (or
    completed) any more."""
    statuses = [VectorStoreFile.Status.FAILED] + ([VectorStoreFile.Status.COMPLETED] if completed_too else [])
    with transaction.atomic():
        reset = VectorStoreFile.objects.filter(pk=store_file.pk, status__in=statuses).update(
            status=VectorStoreFile.Status.IN_PROGRESS,
            last_error=None,
            attempts=0,
            claimed_by="",
            lease_expires_at=None,
        )
        if reset:
            enqueue(INGEST, store_file.pk)
    return bool(reset)


def store_file_remove(store_file: VectorStoreFile) -> None:
    """Take a file out of a store (the file itself stays); searches stop finding it at once."""
    with transaction.atomic():
        VectorStore.objects.filter(pk=store_file.vector_store_id).update(version=F("version") + 1)
        store_file.delete()


def batch_create(store: VectorStore, *, files: list[tuple[File, dict | None, dict | None]]) -> FileBatch:
    """Add several files to a store as one batch, each (file, attributes, chunking_strategy): the API
    gives a batch's `file_ids` the batch's own attributes and strategy, each of its `files` its own."""
    with transaction.atomic():
        batch = FileBatch.objects.create(vector_store=store)
        for file, attributes, chunking_strategy in files:
            store_file_add(store, file, chunking_strategy=chunking_strategy, attributes=attributes, batch=batch)
    return batch


def batch_cancel(batch: FileBatch) -> FileBatch:
    """Cancel the batch's files still being ingested (those done stay searchable). A batch with
    nothing left to ingest is over already: it keeps its status."""
    with transaction.atomic():
        stopped = VectorStoreFile.objects.filter(batch=batch, status=VectorStoreFile.Status.IN_PROGRESS).update(
            status=VectorStoreFile.Status.CANCELLED, lease_expires_at=None
        )
        if stopped:
            batch.cancelled = True
            batch.save(update_fields=["cancelled"])
    return batch


def stalled_ingestions(*, older_than: timedelta) -> list[int]:
    """Files still in progress that nobody holds: never claimed for a while, or under a lapsed lease."""
    now = timezone.now()
    waiting = VectorStoreFile.objects.filter(
        status=VectorStoreFile.Status.IN_PROGRESS, lease_expires_at__isnull=True, created_at__lt=now - older_than
    )
    lapsed = VectorStoreFile.objects.filter(status=VectorStoreFile.Status.IN_PROGRESS, lease_expires_at__lt=now)
    return list((waiting | lapsed).values_list("pk", flat=True))
