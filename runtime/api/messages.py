"""/v1/threads/{thread_id}/messages: create, list (with run_id), retrieve, modify metadata, delete."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from runtime import runs
from runtime.api import validation as v
from runtime.api.access import access_message, access_thread, messages_of
from runtime.api.base import V1View
from runtime.api.pagination import LIST_PARAMETERS, paginate
from runtime.api.schema import ERROR, MessageObject, deleted, list_of
from runtime.models import Message
from runtime.serializers import message_obj

TAGS = ["v1 messages"]
ERRORS = {400: ERROR, 401: ERROR, 404: ERROR, 429: ERROR}


class MessagesView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Create a message",
        operation_id="createMessage",
        description="Refused (400) while a run is active on the thread, with the API's message.",
        request=v.MessageCreate,
        responses={200: MessageObject, **ERRORS},
    )
    def post(self, request, thread_id: str):
        thread = access_thread(self.owner, thread_id)
        fields = v.validated(v.MessageCreate, request.data)
        message = runs.message_create(
            thread=thread,
            role=fields["role"],
            content=fields["content"],
            author=Message.Author.API if fields["role"] == "user" else Message.Author.ASSISTANT,
            metadata=fields.get("metadata"),
            attachments=fields.get("attachments"),
        )
        message.thread = thread
        return Response(message_obj(message))

    @extend_schema(
        tags=TAGS,
        summary="List messages",
        operation_id="listMessages",
        parameters=[
            *LIST_PARAMETERS,
            OpenApiParameter("run_id", OpenApiTypes.STR, description="Only the messages this run wrote."),
        ],
        responses={200: list_of(MessageObject, "MessageList"), **ERRORS},
    )
    def get(self, request, thread_id: str):
        thread = access_thread(self.owner, thread_id)
        messages = messages_of(thread)
        run_id = request.query_params.get("run_id")
        if run_id:
            messages = messages.filter(run__public_id=run_id)
        return Response(paginate(messages, request.query_params, message_obj))


class MessageView(V1View):
    @extend_schema(
        tags=TAGS, summary="Retrieve a message", operation_id="getMessage", responses={200: MessageObject, **ERRORS}
    )
    def get(self, request, thread_id: str, message_id: str):
        thread = access_thread(self.owner, thread_id)
        return Response(message_obj(access_message(thread, message_id)))

    @extend_schema(
        tags=TAGS,
        summary="Modify a message",
        operation_id="modifyMessage",
        description="Only its metadata.",
        request=v.MetadataModify,
        responses={200: MessageObject, **ERRORS},
    )
    def post(self, request, thread_id: str, message_id: str):
        message = access_message(access_thread(self.owner, thread_id), message_id)
        fields = v.validated(v.MetadataModify, request.data)
        if "metadata" in fields:
            message = runs.message_modify(message, metadata=fields["metadata"])
        return Response(message_obj(message))

    @extend_schema(
        tags=TAGS,
        summary="Delete a message",
        operation_id="deleteMessage",
        description="Refused (400) while a run is active on the thread.",
        responses={200: deleted("thread.message.deleted", "MessageDeleted"), **ERRORS},
    )
    def delete(self, request, thread_id: str, message_id: str):
        message = access_message(access_thread(self.owner, thread_id), message_id)
        runs.message_delete(message)
        return Response({"id": message_id, "object": "thread.message.deleted", "deleted": True})
