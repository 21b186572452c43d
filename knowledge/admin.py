"""Django admin for files, vector stores and what ingestion made of them.

Staff read everything here; the changes the admin offers go through knowledge.services, as from the
API and the console: deleting a file (from every store it is in), taking a file out of a store,
ingesting a failed file again. Uploads happen in the console's Knowledge page or through /v1/files.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from common.admin import ReadOnlyAdmin
from knowledge import services
from knowledge.models import Chunk, File, FileBatch, UnansweredQuestion, VectorStore, VectorStoreFile


class DeletedThroughService(ReadOnlyAdmin):
    """Deleted by a service, with what depends on it (a file's store entries, their chunks), which
    no one deletes by hand here: deleting needs this model's permission only."""

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.delete_{self.opts.model_name}")

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, _dependents_perms, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected


def error_text(store_file: VectorStoreFile) -> str:
    error = store_file.last_error or {}
    return f"{error.get('code', '')}: {error.get('message', '')}" if error else ""


@admin.register(File)
class FileAdmin(DeletedThroughService):
    list_display = ["public_id", "filename", "purpose", "owner", "bytes", "content_type", "help_slug", "created_at"]
    list_filter = ["purpose"]
    list_select_related = ["owner"]
    search_fields = ["public_id", "filename", "title", "help_slug"]
    date_hierarchy = "created_at"
    exclude = ["content"]  # the bytes are the owner's: /v1/files/{id}/content, or the help page
    readonly_fields = ["public_id", "created_at"]

    def delete_model(self, request: HttpRequest, obj: File) -> None:
        services.file_delete(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[File]) -> None:
        for file in queryset:
            services.file_delete(file)


@admin.register(VectorStore)
class VectorStoreAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "name", "owner", "file_count", "expired", "expires_at", "last_active_at", "created_at"]
    list_filter = ["expired"]
    list_select_related = ["owner"]
    search_fields = ["public_id", "name"]
    readonly_fields = ["public_id", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[VectorStore]:
        return super().get_queryset(request).annotate(file_count=Count("store_files"))

    @admin.display(description="Files", ordering="file_count")
    def file_count(self, store: VectorStore) -> int:
        return store.file_count


@admin.register(VectorStoreFile)
class VectorStoreFileAdmin(DeletedThroughService):
    list_display = ["file", "vector_store", "status", "error", "chunk_count", "attempts", "usage_bytes", "created_at"]
    list_filter = ["status"]
    list_select_related = ["file", "vector_store"]
    search_fields = ["file__public_id", "file__filename", "vector_store__public_id", "vector_store__name"]
    readonly_fields = ["error"]
    exclude = ["last_error"]
    actions = ["ingest_again"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[VectorStoreFile]:
        return super().get_queryset(request).annotate(chunk_count=Count("chunks"))

    @admin.display(description="Last error")
    def error(self, store_file: VectorStoreFile) -> str:
        return error_text(store_file)

    @admin.display(description="Chunks", ordering="chunk_count")
    def chunk_count(self, store_file: VectorStoreFile) -> int:
        return store_file.chunk_count

    def delete_model(self, request: HttpRequest, obj: VectorStoreFile) -> None:
        services.store_file_remove(obj)  # the file stays, in its other stores and /v1/files

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[VectorStoreFile]) -> None:
        for store_file in queryset:
            services.store_file_remove(store_file)

    def has_ingest_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("knowledge.change_vectorstorefile")

    @admin.action(description="Ingest again (failed files)", permissions=["ingest"])
    def ingest_again(self, request: HttpRequest, queryset: QuerySet[VectorStoreFile]) -> None:
        queued = sum(services.store_file_retry(store_file) for store_file in queryset)
        skipped = queryset.count() - queued
        if queued:
            self.message_user(request, f"Queued {queued} file(s) to be ingested again.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Left {skipped} file(s) as they are: only failed files are ingested again.")


@admin.register(Chunk)
class ChunkAdmin(ReadOnlyAdmin):
    list_display = ["store_file", "index", "heading", "page", "tokens", "excerpt"]
    list_select_related = ["store_file__file", "store_file__vector_store"]
    search_fields = ["text", "heading", "store_file__file__public_id", "store_file__file__filename"]
    exclude = ["embedding"]  # float32 bytes: nothing to read

    @admin.display(description="Text")
    def excerpt(self, chunk: Chunk) -> str:
        return chunk.text[:120] + ("…" if len(chunk.text) > 120 else "")


@admin.register(UnansweredQuestion)
class UnansweredQuestionAdmin(ReadOnlyAdmin):
    list_display = ["question", "normalized", "reason", "conversation", "created_at"]
    list_filter = ["reason"]
    search_fields = ["question", "normalized", "thread_public_id"]
    date_hierarchy = "created_at"

    @admin.display(description="Conversation")
    def conversation(self, question: UnansweredQuestion) -> str:
        if not question.thread_public_id:
            return ""
        try:  # the console is a plug-in: linked when it is installed
            url = reverse("console:conversation", args=[question.thread_public_id])
        except NoReverseMatch:
            return question.thread_public_id
        return format_html('<a href="{}">{}</a>', url, question.thread_public_id)


@admin.register(FileBatch)
class FileBatchAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "vector_store", "cancelled", "created_at"]
    list_filter = ["cancelled"]
    list_select_related = ["vector_store"]
    search_fields = ["=public_id", "=vector_store__public_id"]
