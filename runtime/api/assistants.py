"""/v1/assistants: create, list, retrieve, modify (POST), delete."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from runtime.api import services
from runtime.api import validation as v
from runtime.api.access import access_assistant, assistants_of
from runtime.api.base import V1View
from runtime.api.pagination import LIST_PARAMETERS, paginate
from runtime.api.schema import ERROR, AssistantObject, deleted, list_of
from runtime.serializers import assistant_obj

TAGS = ["v1 assistants"]
ERRORS = {400: ERROR, 401: ERROR, 404: ERROR, 429: ERROR}


class AssistantsView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Create an assistant",
        operation_id="createAssistant",
        request=v.AssistantCreate,
        responses={200: AssistantObject, **ERRORS},
    )
    def post(self, request):
        fields = v.validated(v.AssistantCreate, request.data)
        assistant = services.assistant_create(owner=self.owner, fields=fields)
        return Response(assistant_obj(assistant))

    @extend_schema(
        tags=TAGS,
        summary="List assistants",
        operation_id="listAssistants",
        parameters=LIST_PARAMETERS,
        responses={200: list_of(AssistantObject, "AssistantList"), **ERRORS},
    )
    def get(self, request):
        return Response(paginate(assistants_of(self.owner), request.query_params, assistant_obj))


class AssistantView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Retrieve an assistant",
        operation_id="getAssistant",
        responses={200: AssistantObject, **ERRORS},
    )
    def get(self, request, assistant_id: str):
        return Response(assistant_obj(access_assistant(self.owner, assistant_id)))

    @extend_schema(
        tags=TAGS,
        summary="Modify an assistant",
        operation_id="modifyAssistant",
        description="Only the fields sent change. Runs already created keep their settings.",
        request=v.AssistantModify,
        responses={200: AssistantObject, **ERRORS},
    )
    def post(self, request, assistant_id: str):
        assistant = access_assistant(self.owner, assistant_id)
        fields = v.validated(v.AssistantModify, request.data)
        return Response(assistant_obj(services.assistant_modify(assistant, fields=fields)))

    @extend_schema(
        tags=TAGS,
        summary="Delete an assistant",
        operation_id="deleteAssistant",
        description="Refused (400) while runs of the assistant exist: runs keep their audit trail.",
        responses={200: deleted("assistant.deleted", "AssistantDeleted"), **ERRORS},
    )
    def delete(self, request, assistant_id: str):
        assistant = access_assistant(self.owner, assistant_id)
        services.assistant_delete(assistant)
        return Response({"id": assistant_id, "object": "assistant.deleted", "deleted": True})
