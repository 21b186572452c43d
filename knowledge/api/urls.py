"""/v1/files and /v1/vector_stores routes, exactly OpenAI's paths (no trailing slashes; modify is POST).

Included before the runtime's /v1 routes, whose catch-all answers every path neither serves."""

from django.urls import path

from knowledge.api import files
from knowledge.api import vector_stores as vs

urlpatterns = [
    path("files", files.FilesView.as_view(), name="v1-files"),
    path("files/<str:file_id>", files.FileView.as_view(), name="v1-file"),
    path("files/<str:file_id>/content", files.FileContentView.as_view(), name="v1-file-content"),
    path("vector_stores", vs.VectorStoresView.as_view(), name="v1-vector-stores"),
    path("vector_stores/<str:vector_store_id>", vs.VectorStoreView.as_view(), name="v1-vector-store"),
    path("vector_stores/<str:vector_store_id>/search", vs.SearchView.as_view(), name="v1-vector-store-search"),
    path("vector_stores/<str:vector_store_id>/files", vs.StoreFilesView.as_view(), name="v1-vector-store-files"),
    path(
        "vector_stores/<str:vector_store_id>/files/<str:file_id>",
        vs.StoreFileView.as_view(),
        name="v1-vector-store-file",
    ),
    path(
        "vector_stores/<str:vector_store_id>/files/<str:file_id>/content",
        vs.StoreFileContentView.as_view(),
        name="v1-vector-store-file-content",
    ),
    path("vector_stores/<str:vector_store_id>/file_batches", vs.BatchesView.as_view(), name="v1-vector-store-batches"),
    path(
        "vector_stores/<str:vector_store_id>/file_batches/<str:batch_id>",
        vs.BatchView.as_view(),
        name="v1-vector-store-batch",
    ),
    path(
        "vector_stores/<str:vector_store_id>/file_batches/<str:batch_id>/cancel",
        vs.BatchCancelView.as_view(),
        name="v1-vector-store-batch-cancel",
    ),
    path(
        "vector_stores/<str:vector_store_id>/file_batches/<str:batch_id>/files",
        vs.BatchFilesView.as_view(),
        name="v1-vector-store-batch-files",
    ),
]
