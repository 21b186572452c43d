"""/v1/vector_stores, their files and file batches, and search."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from knowledge import services
from knowledge.access import access_batch, access_file, access_store, access_store_file, store_files_of, stores_of
from knowledge.api import schema as s
from knowledge.api import validation as v
from knowledge.filters import allowed_files
from knowledge.models import VectorStoreFile
from knowledge.objects import batch_obj, vector_store_file_obj, vector_store_obj, with_tallies
from knowledge.search import rewrite, search
from runtime.api.base import V1View
from runtime.api.pagination import LIST_PARAMETERS, paginate
from runtime.api.schema import ERROR, deleted, list_of
from runtime.errors import InvalidRequest

TAGS = ["v1 vector stores"]
ERRORS = {400: ERROR, 401: ERROR, 404: ERROR, 429: ERROR}
FILE_STATUSES = VectorStoreFile.Status.values
# The SDKs' polling helpers (create_and_poll, upload_and_poll) wait this long between retrievals of
# a file or batch still in progress (an integer, or they crash); 1 s without it.
POLL_AFTER_MS = "250"
MAX_DESCRIPTION = 512


def polled(body: dict) -> Response:
    """A vector store file or batch, with the polling hint while it is still in progress."""
    response = Response(body)
    if body["status"] == VectorStoreFile.Status.IN_PROGRESS:
        response["openai-poll-after-ms"] = POLL_AFTER_MS
    return response


def _files_by_status(store_files, query):
    status = query.get("filter")
    if status is None:
        return store_files
    if status not in FILE_STATUSES:
        raise InvalidRequest(f"Invalid 'filter': expected one of {', '.join(FILE_STATUSES)}.", param="filter")
    return store_files.filter(status=status)


class VectorStoresView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Create a vector store",
        operation_id="createVectorStore",
        request=s.VectorStoreCreate,
        responses={200: s.VectorStoreObject, **ERRORS},
    )
    def post(self, request):
        fields = v.body(
            request.data, {"name", "description", "file_ids", "chunking_strategy", "expires_after", "metadata"}
        )
        # The SDK sends `description`; no vector store object shows one, so it is checked and not kept.
        v.string(fields.get("description"), "description", max_length=MAX_DESCRIPTION)
        files = [access_file(self.owner, file_id) for file_id in v.file_ids(fields.get("file_ids"))]
        store = services.vector_store_create(
            owner=self.owner,
            name=v.string(fields.get("name"), "name", max_length=256) or "",
            files=files,
            chunking_strategy=v.chunking_strategy(fields.get("chunking_strategy")),
            expires_after=v.expires_after(fields.get("expires_after")),
            metadata=v.metadata(fields.get("metadata")),
        )
        return Response(vector_store_obj(store))

    @extend_schema(
        tags=TAGS,
        summary="List vector stores",
        operation_id="listVectorStores",
        parameters=LIST_PARAMETERS,
        responses={200: list_of(s.VectorStoreObject, "VectorStoreList")},
    )
    def get(self, request):
        return Response(paginate(with_tallies(stores_of(self.owner)), request.query_params, vector_store_obj))


class VectorStoreView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Retrieve a vector store",
        operation_id="getVectorStore",
        responses={200: s.VectorStoreObject},
    )
    def get(self, request, vector_store_id: str):
        return Response(vector_store_obj(access_store(self.owner, vector_store_id)))

    @extend_schema(
        tags=TAGS,
        summary="Modify a vector store",
        operation_id="modifyVectorStore",
        request=s.VectorStoreModify,
        responses={200: s.VectorStoreObject, **ERRORS},
    )
    def post(self, request, vector_store_id: str):
        store = access_store(self.owner, vector_store_id)
        fields = v.body(request.data, {"name", "expires_after", "metadata"})
        changes = {}
        if "name" in fields:
            changes["name"] = v.string(fields["name"], "name", max_length=256)
        if "metadata" in fields:
            changes["metadata"] = v.metadata(fields["metadata"]) or {}
        if "expires_after" in fields:
            changes["expires_after"] = v.expires_after(fields["expires_after"])
        return Response(vector_store_obj(services.vector_store_modify(store, fields=changes)))

    @extend_schema(
        tags=TAGS,
        summary="Delete a vector store",
        operation_id="deleteVectorStore",
        responses={200: deleted("vector_store.deleted", "VectorStoreDeleted"), **ERRORS},
    )
    def delete(self, request, vector_store_id: str):
        services.vector_store_delete(access_store(self.owner, vector_store_id))
        return Response({"id": vector_store_id, "object": "vector_store.deleted", "deleted": True})


class SearchView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Search a vector store",
        operation_id="searchVectorStore",
        request=s.SearchRequest,
        responses={200: s.SearchPage, **ERRORS},
    )
    def post(self, request, vector_store_id: str):
        store = access_store(self.owner, vector_store_id)
        fields = v.body(request.data, {"query", "max_num_results", "filters", "ranking_options", "rewrite_query"})
        queries = v.search_query(fields.get("query"))
        if v.boolean(fields.get("rewrite_query"), "rewrite_query"):
            queries = [rewrite(query) for query in queries]
        ranking = v.ranking_options(fields.get("ranking_options"))
        rule = v.search_filters(fields.get("filters"))
        found = search(
            [] if store.expired else [store],
            queries,
            max_num_results=v.integer(fields.get("max_num_results"), "max_num_results", low=1, high=50, default=10),
            score_threshold=float(ranking.get("score_threshold", 0.0)),
            allowed_files=allowed_files([store], rule),
        )
        if not store.expired:
            store.touch()  # an expired store stays expired: searching it finds nothing
        data = [
            {
                "file_id": hit.chunk.store_file.file.public_id,
                "filename": hit.chunk.store_file.file.filename,
                "score": hit.score,
                "attributes": hit.chunk.store_file.attributes or {},
                "content": [{"type": "text", "text": hit.chunk.text}],
            }
            for hit in found
        ]
        return Response(
            {
                "object": "vector_store.search_results.page",
                "search_query": queries,  # an array, as the API's schema has it, even for one query
                "data": data,
                "has_more": False,
                "next_page": None,
            }
        )


class StoreFilesView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Add a file to a vector store",
        operation_id="createVectorStoreFile",
        request=s.StoreFileCreate,
        responses={200: s.VectorStoreFileObject, **ERRORS},
    )
    def post(self, request, vector_store_id: str):
        store = access_store(self.owner, vector_store_id)
        fields = v.body(request.data, {"file_id", "chunking_strategy", "attributes"})
        file = access_file(self.owner, v.string(fields.get("file_id"), "file_id", max_length=64, required=True))
        store_file = services.store_file_add(
            store,
            file,
            chunking_strategy=v.chunking_strategy(fields.get("chunking_strategy")),
            attributes=v.attributes(fields.get("attributes")),
        )
        return polled(vector_store_file_obj(store_file))

    @extend_schema(
        tags=TAGS,
        summary="List a vector store's files",
        operation_id="listVectorStoreFiles",
        parameters=LIST_PARAMETERS,
        responses={200: list_of(s.VectorStoreFileObject, "VectorStoreFileList")},
    )
    def get(self, request, vector_store_id: str):
        store = access_store(self.owner, vector_store_id)
        files = _files_by_status(store_files_of(store), request.query_params)
        return Response(paginate(files, request.query_params, vector_store_file_obj, cursor_field="file__public_id"))


class StoreFileView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Retrieve a vector store file",
        operation_id="getVectorStoreFile",
        responses={200: s.VectorStoreFileObject, **ERRORS},
    )
    def get(self, request, vector_store_id: str, file_id: str):
        store = access_store(self.owner, vector_store_id)
        return polled(vector_store_file_obj(access_store_file(store, file_id)))

    @extend_schema(
        tags=TAGS,
        summary="Update a vector store file's attributes",
        operation_id="updateVectorStoreFileAttributes",
        request=s.StoreFileModify,
        responses={200: s.VectorStoreFileObject, **ERRORS},
    )
    def post(self, request, vector_store_id: str, file_id: str):
        store_file = access_store_file(access_store(self.owner, vector_store_id), file_id)
        fields = v.body(request.data, {"attributes"})
        if "attributes" not in fields:
            raise InvalidRequest("Missing required parameter: 'attributes'.", param="attributes")
        return Response(vector_store_file_obj(services.store_file_modify(store_file, attributes=fields["attributes"])))

    @extend_schema(
        tags=TAGS,
        summary="Remove a file from a vector store",
        operation_id="deleteVectorStoreFile",
        description="The file itself stays (delete it with DELETE /v1/files/{file_id}).",
        responses={200: deleted("vector_store.file.deleted", "VectorStoreFileDeleted"), **ERRORS},
    )
    def delete(self, request, vector_store_id: str, file_id: str):
        services.store_file_remove(access_store_file(access_store(self.owner, vector_store_id), file_id))
        return Response({"id": file_id, "object": "vector_store.file.deleted", "deleted": True})


class StoreFileContentView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Retrieve a vector store file's parsed content",
        operation_id="retrieveVectorStoreFileContent",
        responses={200: s.FileContentPage, **ERRORS},
    )
    def get(self, request, vector_store_id: str, file_id: str):
        store_file = access_store_file(access_store(self.owner, vector_store_id), file_id)
        chunks = store_file.chunks.order_by("index").values_list("text", flat=True)
        return Response(
            {
                "object": "vector_store.file_content.page",
                "data": [{"type": "text", "text": text} for text in chunks],
                "has_more": False,
                "next_page": None,
            }
        )


class BatchesView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Create a file batch",
        operation_id="createVectorStoreFileBatch",
        request=s.BatchCreate,
        responses={200: s.BatchObject, **ERRORS},
    )
    def post(self, request, vector_store_id: str):
        store = access_store(self.owner, vector_store_id)
        fields = v.body(request.data, {"file_ids", "files", "chunking_strategy", "attributes"})
        strategy = v.chunking_strategy(fields.get("chunking_strategy"))
        shared_attributes = v.attributes(fields.get("attributes"))
        if fields.get("files") is not None and fields.get("file_ids") is not None:
            raise InvalidRequest("Send either 'file_ids' or 'files', not both.", param="files")
        if fields.get("files") is not None:
            # Each entry has its own attributes and chunking strategy; the batch's are ignored, as the API does.
            entries = fields["files"]
            if not isinstance(entries, list) or not entries:
                raise InvalidRequest("Invalid 'files': expected a non-empty array.", param="files")
            if len(entries) > v.MAX_BATCH_FILES:
                raise InvalidRequest(f"Invalid 'files': at most {v.MAX_BATCH_FILES} files.", param="files")
            files = []
            for i, entry in enumerate(entries):
                entry = v.body(entry, {"file_id", "attributes", "chunking_strategy"})
                file_id = v.string(entry.get("file_id"), f"files[{i}].file_id", max_length=64, required=True)
                own_strategy = v.chunking_strategy(entry.get("chunking_strategy"), f"files[{i}].chunking_strategy")
                files.append((access_file(self.owner, file_id), v.attributes(entry.get("attributes")), own_strategy))
        else:
            ids = v.file_ids(fields.get("file_ids"), limit=v.MAX_BATCH_FILES)
            if not ids:
                raise InvalidRequest("Missing required parameter: 'file_ids' (or 'files').", param="file_ids")
            files = [(access_file(self.owner, file_id), shared_attributes, strategy) for file_id in ids]
        return polled(batch_obj(services.batch_create(store, files=files)))


class BatchView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Retrieve a file batch",
        operation_id="getVectorStoreFileBatch",
        responses={200: s.BatchObject},
    )
    def get(self, request, vector_store_id: str, batch_id: str):
        return polled(batch_obj(access_batch(access_store(self.owner, vector_store_id), batch_id)))


class BatchCancelView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Cancel a file batch",
        operation_id="cancelVectorStoreFileBatch",
        request=None,
        responses={200: s.BatchObject, **ERRORS},
    )
    def post(self, request, vector_store_id: str, batch_id: str):
        batch = access_batch(access_store(self.owner, vector_store_id), batch_id)
        return Response(batch_obj(services.batch_cancel(batch)))


class BatchFilesView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="List a file batch's files",
        operation_id="listFilesInVectorStoreBatch",
        parameters=LIST_PARAMETERS,
        responses={200: list_of(s.VectorStoreFileObject, "VectorStoreBatchFileList")},
    )
    def get(self, request, vector_store_id: str, batch_id: str):
        batch = access_batch(access_store(self.owner, vector_store_id), batch_id)
        files = _files_by_status(batch.store_files.select_related("file", "vector_store"), request.query_params)
        return Response(paginate(files, request.query_params, vector_store_file_obj, cursor_field="file__public_id"))
