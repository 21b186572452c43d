"""/v1/files: upload (multipart), list, retrieve, delete, and a file's content."""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from knowledge import services
from knowledge.access import access_file, files_of
from knowledge.api import schema as s
from knowledge.api import validation as v
from knowledge.models import File
from knowledge.objects import file_obj
from runtime.api.base import V1View
from runtime.api.pagination import LIST_PARAMETERS, paginate
from runtime.api.schema import ERROR, deleted, list_of
from runtime.errors import InvalidRequest

TAGS = ["v1 files"]
ERRORS = {400: ERROR, 401: ERROR, 404: ERROR, 413: ERROR, 429: ERROR}
# What a multipart body adds around the file itself (boundaries, headers, the purpose field).
MULTIPART_OVERHEAD = 64 * 1024
UPLOAD_FIELDS = {"file", "purpose", "expires_after[anchor]", "expires_after[seconds]"}


class FilesView(V1View):
    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema(
        tags=TAGS,
        summary="Upload a file",
        operation_id="createFile",
        description="multipart/form-data with `file` and `purpose` (assistants, vision, user_data), and "
        "optionally `expires_after[anchor]=created_at` with `expires_after[seconds]` (3600 to 2592000).",
        request={"multipart/form-data": s.FileUpload},
        responses={200: s.FileObject, **ERRORS},
    )
    def post(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        limit = settings.KNOWLEDGE_MAX_UPLOAD_BYTES
        if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
            raise services.FileTooLarge(f"The file is larger than the limit of {limit} bytes.", param="file")
        for key in request.data:
            if key not in UPLOAD_FIELDS:
                raise InvalidRequest(f"Unknown parameter: '{key}'.", param=key)
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidRequest("Missing required parameter: 'file' (a multipart/form-data upload).", param="file")
        purpose = request.data.get("purpose")
        if not isinstance(purpose, str) or not purpose:
            raise InvalidRequest("Missing required parameter: 'purpose'.", param="purpose")
        if purpose == File.Purpose.ASSISTANTS_OUTPUT:
            raise InvalidRequest(
                "Invalid 'purpose': 'assistants_output' is for files the platform creates.", param="purpose"
            )
        expires_after_seconds = v.file_expires_after(request.data)
        file = services.file_create(
            owner=self.owner, upload=upload, purpose=purpose, expires_after_seconds=expires_after_seconds
        )
        return Response(file_obj(file))

    @extend_schema(
        tags=TAGS,
        summary="List files",
        operation_id="listFiles",
        parameters=LIST_PARAMETERS,
        responses={200: list_of(s.FileObject, "FileList")},
    )
    def get(self, request):
        files = files_of(self.owner)
        purpose = request.query_params.get("purpose")
        if purpose:
            files = files.filter(purpose=purpose)
        return Response(paginate(files, request.query_params, file_obj, default_limit=10_000, max_limit=10_000))


class FileView(V1View):
    @extend_schema(
        tags=TAGS, summary="Retrieve a file", operation_id="retrieveFile", responses={200: s.FileObject, **ERRORS}
    )
    def get(self, request, file_id: str):
        return Response(file_obj(access_file(self.owner, file_id)))

    @extend_schema(
        tags=TAGS,
        summary="Delete a file",
        operation_id="deleteFile",
        description="Also out of every vector store it is in.",
        responses={200: deleted("file", "FileDeleted"), **ERRORS},
    )
    def delete(self, request, file_id: str):
        services.file_delete(access_file(self.owner, file_id))
        return Response({"id": file_id, "object": "file", "deleted": True})


class AnyAccept(DefaultContentNegotiation):
    """The SDKs ask for a file's bytes with `Accept: application/binary`, which DRF would answer with a
    406: the bytes are what they are whatever the client accepts, and an error is the JSON envelope."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class FileContentView(V1View):
    content_negotiation_class = AnyAccept

    @extend_schema(
        tags=TAGS,
        summary="Retrieve a file's content",
        operation_id="downloadFile",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request, file_id: str):
        file = access_file(self.owner, file_id)
        response = FileResponse(file.content.open("rb"), content_type=file.content_type or "application/octet-stream")
        response["Content-Disposition"] = content_disposition_header(True, file.filename)
        response["X-Content-Type-Options"] = "nosniff"
        return response
