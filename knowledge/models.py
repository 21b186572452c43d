"""Files, vector stores and their chunks, after OpenAI's Files and Vector Stores APIs.

File (an upload) → VectorStoreFile (a file in a store: its ingestion, status and attributes) →
Chunk (a passage with its text, page, heading and embedding). Public ids carry the API's prefixes
(file-, vs_, vsfb_). Like the runtime's objects, a File or VectorStore created through /v1 belongs
to its API key's owner; the shop's own (the help centre) has no owner.

Full-text search is the database's own: a GIN index over to_tsvector on PostgreSQL, an FTS5 table
kept by triggers on SQLite (both made by the migrations). Embeddings are float32 bytes on every
database; on PostgreSQL with pgvector a vector column with an HNSW index mirrors them
(knowledge.search).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from runtime.ids import new_id


def new_file_id() -> str:
    return new_id("file-")


def new_vector_store_id() -> str:
    return new_id("vs_")


def new_file_batch_id() -> str:
    return new_id("vsfb_")


class File(models.Model):
    class Purpose(models.TextChoices):
        ASSISTANTS = "assistants", "Assistants"
        ASSISTANTS_OUTPUT = "assistants_output", "Assistants output"
        VISION = "vision", "Vision"
        USER_DATA = "user_data", "User data"

    public_id = models.CharField(max_length=40, unique=True, default=new_file_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="files"
    )
    filename = models.CharField(max_length=255, help_text="As uploaded, made safe (no path, no control characters).")
    purpose = models.CharField(max_length=30, choices=Purpose.choices)
    bytes = models.PositiveBigIntegerField()
    content = models.FileField(upload_to="files/%Y/%m/", max_length=300)
    content_type = models.CharField(max_length=100, help_text="Sniffed from the bytes, not the client's word.")
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    # A help-centre article: served to anyone at /help/<slug>/ and linked from the answers that cite it.
    help_slug = models.SlugField(max_length=120, unique=True, null=True, blank=True)
    title = models.CharField(max_length=200, blank=True)
    # A photo a customer attached in the chat (knowledge.images): the conversation it belongs to.
    thread_public_id = models.CharField(max_length=40, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.public_id})"


class VectorStore(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        EXPIRED = "expired", "Expired"

    public_id = models.CharField(max_length=40, unique=True, default=new_vector_store_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="vector_stores"
    )
    name = models.CharField(max_length=256, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    expires_after = models.JSONField(null=True, blank=True)  # {"anchor": "last_active_at", "days": N}
    expires_at = models.DateTimeField(null=True, blank=True)
    expired = models.BooleanField(default=False)
    last_active_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Moves on whenever the store's searchable chunks change: processes keep their in-memory copy of
    # its embeddings for as long as it does not move (knowledge.search).
    version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name or self.public_id

    def touch(self) -> None:
        """Note activity now (searches, new files); the expiry, if any, counts from here."""
        now = timezone.now()
        self.last_active_at = now
        if self.expires_after:
            self.expires_at = now + timedelta(days=int(self.expires_after["days"]))
        VectorStore.objects.filter(pk=self.pk).update(last_active_at=now, expires_at=self.expires_at)


class FileBatch(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    public_id = models.CharField(max_length=40, unique=True, default=new_file_batch_id, editable=False)
    vector_store = models.ForeignKey(VectorStore, on_delete=models.CASCADE, related_name="batches")
    cancelled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.public_id


class VectorStoreFile(models.Model):
    """A file in a vector store, and its ingestion: extracted, chunked, embedded, searchable."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    vector_store = models.ForeignKey(VectorStore, on_delete=models.CASCADE, related_name="store_files")
    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="store_files")
    batch = models.ForeignKey(FileBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="store_files")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS, db_index=True)
    last_error = models.JSONField(null=True, blank=True)  # {"code": server_error|unsupported_file|invalid_file, ...}
    chunking_strategy = models.JSONField(default=dict)  # as the API shows it: {"type": "static", "static": {…}}
    attributes = models.JSONField(default=dict, blank=True)
    usage_bytes = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Ingestion is claimed like a run: a worker that dies leaves a lapsed lease, and the sweep hands
    # the file to another.
    claimed_by = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["vector_store", "file"], name="a_file_once_per_store")]

    def __str__(self) -> str:
        return f"{self.file} in {self.vector_store}"


class Chunk(models.Model):
    """A passage of a file in a store: what search finds and file_search cites."""

    store_file = models.ForeignKey(VectorStoreFile, on_delete=models.CASCADE, related_name="chunks")
    vector_store = models.ForeignKey(VectorStore, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    text = models.TextField()
    tokens = models.PositiveIntegerField()
    page = models.PositiveIntegerField(null=True, blank=True)
    heading = models.CharField(max_length=300, blank=True)
    embedding = models.BinaryField(null=True, blank=True)  # float32, little-endian, L2-normalised

    class Meta:
        ordering = ["store_file_id", "index"]
        constraints = [models.UniqueConstraint(fields=["store_file", "index"], name="a_chunk_once_per_index")]
        indexes = [models.Index(fields=["vector_store"], name="knowledge_chunk_store")]

    def __str__(self) -> str:
        return f"chunk {self.index} of {self.store_file}"


class UnansweredQuestion(models.Model):
    """A customer's question the knowledge base could not answer: nothing scored above the
    threshold, or the conversation went to a person after a search. The console groups them, so
    staff see which article to write next."""

    class Reason(models.TextChoices):
        NOTHING_FOUND = "nothing_found", "Nothing in the documents"
        HANDED_OVER = "handed_over", "Went to a person after a search"

    question = models.TextField()
    normalized = models.CharField(max_length=300, db_index=True, help_text="For grouping alike questions.")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    thread_public_id = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.question[:80]
