"""/v1/threads: create (with initial messages), retrieve, modify (POST), delete. There is no list."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from runtime import runs
from runtime.api import validation as v
from runtime.api.access import access_thread
from runtime.api.base import V1View
from runtime.api.schema import ERROR, ThreadObject, deleted
from runtime.serializers import thread_obj

TAGS = ["v1 threads"]
ERRORS = {400: ERROR, 401: ERROR, 404: ERROR, 429: ERROR}


class ThreadsView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Create a thread",
        operation_id="createThread",
        description="Optionally with initial messages ({role, content, attachments?, metadata?}).",
        request=v.ThreadCreate,
        responses={200: ThreadObject, **ERRORS},
    )
    def post(self, request):
        fields = v.validated(v.ThreadCreate, request.data)
        thread = runs.thread_create(
            owner=self.owner,
            metadata=fields.get("metadata"),
            tool_resources=fields.get("tool_resources"),
            messages=fields.get("messages") or [],
        )
        return Response(thread_obj(thread))


class ThreadView(V1View):
    @extend_schema(
        tags=TAGS, summary="Retrieve a thread", operation_id="getThread", responses={200: ThreadObject, **ERRORS}
    )
    def get(self, request, thread_id: str):
        return Response(thread_obj(access_thread(self.owner, thread_id)))

    @extend_schema(
        tags=TAGS,
        summary="Modify a thread",
        operation_id="modifyThread",
        request=v.ThreadModify,
        responses={200: ThreadObject, **ERRORS},
    )
    def post(self, request, thread_id: str):
        thread = access_thread(self.owner, thread_id)
        fields = v.validated(v.ThreadModify, request.data)
        return Response(thread_obj(runs.thread_modify(thread, fields=fields)))

    @extend_schema(
        tags=TAGS,
        summary="Delete a thread",
        operation_id="deleteThread",
        description="With its messages, runs and steps; an active run is cancelled first.",
        responses={200: deleted("thread.deleted", "ThreadDeleted"), **ERRORS},
    )
    def delete(self, request, thread_id: str):
        runs.thread_delete(access_thread(self.owner, thread_id))
        return Response({"id": thread_id, "object": "thread.deleted", "deleted": True})
