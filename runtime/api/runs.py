"""/v1 runs: create (also with a new thread), list, retrieve, modify, cancel, submit_tool_outputs; steps.

Without `stream`, creating a run answers the run at once (queued) for the caller to poll. With
`stream: true` the view checks everything it can first (so a bad request is a plain 400), then
answers an event stream whose generator subscribes to the thread before it starts the run.
"""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from runtime import hooks, runs
from runtime.api import validation as v
from runtime.api.access import access_assistant, access_run, access_step, access_thread, runs_of, steps_of
from runtime.api.base import V1View
from runtime.api.pagination import LIST_PARAMETERS, paginate
from runtime.api.schema import ERROR, EVENT_STREAM_NOTE, RunObject, RunStepObject, list_of
from runtime.api.sse import event_stream_response, relay_run
from runtime.errors import InvalidRequest, ThreadBusy, ThreadNotAnswering, not_answering_message
from runtime.models import Assistant, Run, Thread
from runtime.serializers import run_obj, step_obj, thread_obj

TAGS = ["v1 runs"]
ERRORS = {400: ERROR, 401: ERROR, 404: ERROR, 429: ERROR}
RUN_OR_STREAM = {
    200: OpenApiResponse(RunObject, description=f"The run (status queued), to poll. {EVENT_STREAM_NOTE}"),
    **ERRORS,
}
# The SDKs' polling helpers wait this long between retrievals of an active run (an integer, or they crash).
POLL_AFTER_MS = "250"
# The one value `include[]` takes on run steps: file_search results with their passages' text.
FILE_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
INCLUDE_PARAMETER = OpenApiParameter(
    "include[]",
    OpenApiTypes.STR,
    many=True,
    enum=[FILE_SEARCH_CONTENT],
    description="Repeatable. With its one value, file_search results in step_details carry their `content`.",
)


def run_response(run: Run) -> Response:
    response = Response(run_obj(run))
    if not run.is_terminal and run.status != Run.Status.REQUIRES_ACTION:
        response["openai-poll-after-ms"] = POLL_AFTER_MS
    return response


def run_options(fields: dict, assistant: Assistant) -> dict:
    """run_create's keyword arguments from the request's overrides (absent or null: the assistant's)."""
    tools = fields.get("tools")
    if tools is not None:
        v.check_no_overlap(tools, assistant.server_tools)
    return {
        "model": fields.get("model") or None,
        "instructions": fields.get("instructions"),
        "tools": tools,
        "metadata": fields.get("metadata"),
        "temperature": fields.get("temperature"),
        "top_p": fields.get("top_p"),
        "max_prompt_tokens": fields.get("max_prompt_tokens"),
        "max_completion_tokens": fields.get("max_completion_tokens"),
        "truncation_strategy": fields.get("truncation_strategy"),
        "tool_choice": fields.get("tool_choice"),
        "parallel_tool_calls": fields.get("parallel_tool_calls"),
        "response_format": fields.get("response_format"),
    }


def check_thread_can_run(thread: Thread) -> None:
    """What run_create would refuse, checked before a stream opens (run_create still decides)."""
    if thread.mode != Thread.Mode.ASSISTANT:
        raise ThreadNotAnswering(not_answering_message(thread))
    active = thread.runs.active().first()
    if active is not None:
        raise ThreadBusy(f"Thread {thread.public_id} already has an active run {active.public_id}.")


class RunsView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Create a run",
        operation_id="createRun",
        description="`additional_messages` are added to the thread first; `additional_instructions` are "
        "appended to the instructions. Only one run may be active on a thread (400 otherwise).",
        request=v.RunCreate,
        responses=RUN_OR_STREAM,
    )
    def post(self, request, thread_id: str):
        thread = access_thread(self.owner, thread_id)
        fields = v.validated(v.RunCreate, request.data)
        assistant = access_assistant(self.owner, fields["assistant_id"])
        options = run_options(fields, assistant)
        options["additional_instructions"] = fields.get("additional_instructions")
        options["additional_messages"] = fields.get("additional_messages") or []

        def start() -> Run:
            return runs.run_create(thread=thread, assistant=assistant, **options)

        if fields.get("stream"):
            check_thread_can_run(thread)
            return event_stream_response(relay_run(thread_id=thread.public_id, start=start))
        return run_response(start())

    @extend_schema(
        tags=TAGS,
        summary="List runs",
        operation_id="listRuns",
        parameters=LIST_PARAMETERS,
        responses={200: list_of(RunObject, "RunList"), **ERRORS},
    )
    def get(self, request, thread_id: str):
        thread = access_thread(self.owner, thread_id)
        return Response(paginate(runs_of(thread), request.query_params, run_obj))


class ThreadAndRunView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Create a thread and run it",
        operation_id="createThreadAndRun",
        description="Streams start with `thread.created`. The top-level `tool_resources` replace the "
        "assistant's for this run; each id in them must name one of the caller's files or vector stores.",
        request=v.ThreadAndRunCreate,
        responses=RUN_OR_STREAM,
    )
    def post(self, request):
        fields = v.validated(v.ThreadAndRunCreate, request.data)
        assistant = access_assistant(self.owner, fields["assistant_id"])
        options = run_options(fields, assistant)
        if fields.get("tool_resources") is not None:  # checked as an assistant's are: no unknown ids
            options["tool_resources"] = hooks.resolve_tool_resources(self.owner, fields["tool_resources"])
        spec = fields.get("thread") or {}

        def new_thread() -> Thread:
            return runs.thread_create(
                owner=self.owner,
                metadata=spec.get("metadata"),
                tool_resources=spec.get("tool_resources"),
                messages=spec.get("messages") or [],
            )

        if fields.get("stream"):
            thread = new_thread()
            return event_stream_response(
                relay_run(
                    thread_id=thread.public_id,
                    start=lambda: runs.run_create(thread=thread, assistant=assistant, **options),
                    preface=[("thread.created", thread_obj(thread))],
                )
            )
        with transaction.atomic():
            thread = new_thread()
            run = runs.run_create(thread=thread, assistant=assistant, **options)
        return run_response(run)


class RunView(V1View):
    @extend_schema(tags=TAGS, summary="Retrieve a run", operation_id="getRun", responses={200: RunObject, **ERRORS})
    def get(self, request, thread_id: str, run_id: str):
        return run_response(access_run(access_thread(self.owner, thread_id), run_id))

    @extend_schema(
        tags=TAGS,
        summary="Modify a run",
        operation_id="modifyRun",
        description="Only its metadata.",
        request=v.MetadataModify,
        responses={200: RunObject, **ERRORS},
    )
    def post(self, request, thread_id: str, run_id: str):
        run = access_run(access_thread(self.owner, thread_id), run_id)
        fields = v.validated(v.MetadataModify, request.data)
        if "metadata" in fields:
            run = runs.run_modify(run, metadata=fields["metadata"])
        return run_response(run)


class RunCancelView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Cancel a run",
        operation_id="cancelRun",
        description="A queued run or one waiting for tool outputs is cancelled at once; a running one answers "
        "`cancelling` and stops at its next check.",
        request=None,
        responses={200: RunObject, **ERRORS},
    )
    def post(self, request, thread_id: str, run_id: str):
        run = access_run(access_thread(self.owner, thread_id), run_id)
        return run_response(runs.run_cancel(run))


class SubmitToolOutputsView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Submit tool outputs",
        operation_id="submitToolOutputsToRun",
        description="All outputs of the run's pending calls in one request, while it `requires_action`; the "
        "run is queued again. A stream continues with the tool step's `thread.run.step.completed`.",
        request=v.SubmitToolOutputs,
        responses=RUN_OR_STREAM,
    )
    def post(self, request, thread_id: str, run_id: str):
        thread = access_thread(self.owner, thread_id)
        run = access_run(thread, run_id)
        fields = v.validated(v.SubmitToolOutputs, request.data)
        outputs = [{"tool_call_id": o["tool_call_id"], "output": o.get("output", "")} for o in fields["tool_outputs"]]
        if fields.get("stream"):
            runs.check_tool_outputs(run, outputs)
            return event_stream_response(
                relay_run(thread_id=thread.public_id, start=lambda: runs.run_submit_tool_outputs(run, outputs))
            )
        return run_response(runs.run_submit_tool_outputs(run, outputs))


def includes_file_search_content(query) -> bool:
    """Whether the query's `include[]` (the SDKs' bracketed, repeated key; plain `include` too) asks
    for file_search results' content; any other value is a 400, as the API answers it."""
    values = query.getlist("include[]") + query.getlist("include")
    for index, value in enumerate(values):
        if value != FILE_SEARCH_CONTENT:
            raise InvalidRequest(
                f"Invalid value: {value!r}. Supported values are: '{FILE_SEARCH_CONTENT}'.",
                param=f"include[{index}]",
                code="invalid_value",
            )
    return bool(values)


class StepsView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="List run steps",
        operation_id="listRunSteps",
        parameters=[*LIST_PARAMETERS, INCLUDE_PARAMETER],
        responses={200: list_of(RunStepObject, "RunStepList"), **ERRORS},
    )
    def get(self, request, thread_id: str, run_id: str):
        run = access_run(access_thread(self.owner, thread_id), run_id)
        include_content = includes_file_search_content(request.query_params)
        return Response(
            paginate(steps_of(run), request.query_params, lambda step: step_obj(step, include_content=include_content))
        )


class StepView(V1View):
    @extend_schema(
        tags=TAGS,
        summary="Retrieve a run step",
        operation_id="getRunStep",
        parameters=[INCLUDE_PARAMETER],
        responses={200: RunStepObject, **ERRORS},
    )
    def get(self, request, thread_id: str, run_id: str, step_id: str):
        run = access_run(access_thread(self.owner, thread_id), run_id)
        include_content = includes_file_search_content(request.query_params)
        return Response(step_obj(access_step(run, step_id), include_content=include_content))
