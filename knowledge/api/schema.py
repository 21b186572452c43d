"""Request and response shapes of /v1/files and /v1/vector_stores for /api/docs/ (documentation only:
knowledge.api.validation checks the bodies, knowledge.objects builds the answers)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(OpenApiTypes.OBJECT)
class JSON(serializers.JSONField):
    pass


class FileUpload(serializers.Serializer):
    file = serializers.FileField()
    purpose = serializers.ChoiceField(choices=["assistants", "vision", "user_data"])


class FileObject(serializers.Serializer):
    id = serializers.CharField(help_text="file-…")
    object = serializers.CharField(help_text='Always "file".')
    bytes = serializers.IntegerField()
    created_at = serializers.IntegerField()
    expires_at = serializers.IntegerField(allow_null=True)
    filename = serializers.CharField()
    purpose = serializers.CharField()
    status = serializers.CharField()
    status_details = serializers.CharField(allow_null=True)


class FileCounts(serializers.Serializer):
    in_progress = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    total = serializers.IntegerField()


class VectorStoreCreate(serializers.Serializer):
    name = serializers.CharField(required=False)
    file_ids = serializers.ListField(child=serializers.CharField(), required=False)
    chunking_strategy = JSON(required=False, help_text='{"type": "auto"} or {"type": "static", "static": {…}}')
    expires_after = JSON(required=False, help_text='{"anchor": "last_active_at", "days": N}')
    metadata = JSON(required=False)


class VectorStoreModify(serializers.Serializer):
    name = serializers.CharField(required=False, allow_null=True)
    expires_after = JSON(required=False, allow_null=True)
    metadata = JSON(required=False, allow_null=True)


class VectorStoreObject(serializers.Serializer):
    id = serializers.CharField(help_text="vs_…")
    object = serializers.CharField(help_text='Always "vector_store".')
    created_at = serializers.IntegerField()
    name = serializers.CharField()
    usage_bytes = serializers.IntegerField()
    file_counts = FileCounts()
    status = serializers.CharField(help_text="in_progress, completed or expired")
    expires_after = JSON(allow_null=True)
    expires_at = serializers.IntegerField(allow_null=True)
    last_active_at = serializers.IntegerField(allow_null=True)
    metadata = JSON()


class StoreFileCreate(serializers.Serializer):
    file_id = serializers.CharField()
    chunking_strategy = JSON(required=False)
    attributes = JSON(required=False, help_text="Up to 16 keys; strings, numbers or booleans: used by search filters.")


class StoreFileModify(serializers.Serializer):
    attributes = JSON()


class VectorStoreFileObject(serializers.Serializer):
    id = serializers.CharField(help_text="The file's id (file-…).")
    object = serializers.CharField(help_text='Always "vector_store.file".')
    created_at = serializers.IntegerField()
    usage_bytes = serializers.IntegerField()
    vector_store_id = serializers.CharField()
    status = serializers.CharField(help_text="in_progress, completed, cancelled or failed")
    last_error = JSON(allow_null=True, help_text="{code: server_error | unsupported_file | invalid_file, message}")
    chunking_strategy = JSON()
    attributes = JSON()


class BatchCreate(serializers.Serializer):
    file_ids = serializers.ListField(child=serializers.CharField(), required=False)
    files = JSON(required=False, help_text="[{file_id, attributes?, chunking_strategy?}], instead of file_ids")
    chunking_strategy = JSON(required=False)
    attributes = JSON(required=False)


class BatchObject(serializers.Serializer):
    id = serializers.CharField(help_text="vsfb_…")
    object = serializers.CharField(help_text='Always "vector_store.files_batch".')
    created_at = serializers.IntegerField()
    vector_store_id = serializers.CharField()
    status = serializers.CharField()
    file_counts = FileCounts()


class SearchRequest(serializers.Serializer):
    query = JSON(help_text="A string, or a list of strings.")
    max_num_results = serializers.IntegerField(required=False, min_value=1, max_value=50)
    filters = JSON(required=False, help_text="{type: eq|ne|gt|gte|lt|lte, key, value} or {type: and|or, filters}")
    ranking_options = JSON(required=False, help_text="{ranker?, score_threshold? (0 to 1)}")
    rewrite_query = serializers.BooleanField(required=False)


class SearchResult(serializers.Serializer):
    file_id = serializers.CharField()
    filename = serializers.CharField()
    score = serializers.FloatField()
    attributes = JSON()
    content = JSON(help_text='[{"type": "text", "text": …}]')


class SearchPage(serializers.Serializer):
    object = serializers.CharField(help_text='Always "vector_store.search_results.page".')
    search_query = JSON()
    data = SearchResult(many=True)
    has_more = serializers.BooleanField()
    next_page = serializers.CharField(allow_null=True)


class FileContentPage(serializers.Serializer):
    object = serializers.CharField(help_text='Always "vector_store.file_content.page".')
    data = JSON(help_text='[{"type": "text", "text": …}]: the file\'s parsed text, chunk by chunk')
    has_more = serializers.BooleanField()
    next_page = serializers.CharField(allow_null=True)
