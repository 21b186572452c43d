"""Response shapes of /v1 for /api/docs/ (documentation only: runtime.serializers builds the real ones)."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

JSON = serializers.JSONField


class AssistantObject(serializers.Serializer):
    id = serializers.CharField(help_text="asst_…")
    object = serializers.CharField(help_text='Always "assistant".')
    created_at = serializers.IntegerField(help_text="Unix seconds.")
    name = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_null=True)
    model = serializers.CharField()
    instructions = serializers.CharField(allow_null=True)
    tools = JSON(
        help_text="function (client-side); file_search and code_interpreter, which run on the server when the app "
        "that provides them is installed (code_interpreter only where its sandbox can run)."
    )
    tool_resources = JSON(
        help_text='{"code_interpreter": {"file_ids": [≤20 of the caller\'s files]}, '
        '"file_search": {"vector_store_ids": [≤1 of the caller\'s stores]}}'
    )
    metadata = JSON()
    temperature = serializers.FloatField(allow_null=True)
    top_p = serializers.FloatField(allow_null=True)
    response_format = JSON()
    server_tools = serializers.ListField(
        child=serializers.CharField(), help_text="Concierge's extension: tools that run on the server."
    )


class ThreadObject(serializers.Serializer):
    id = serializers.CharField(help_text="thread_…")
    object = serializers.CharField(help_text='Always "thread".')
    created_at = serializers.IntegerField()
    tool_resources = JSON()
    metadata = JSON()
    mode = serializers.ChoiceField(
        choices=["assistant", "waiting_human", "human", "closed"],
        help_text="Concierge's extension: who answers. Not `assistant` once the thread was handed to a person "
        "(escalate_to_human, or the escalation rules an assistant opted into); runs are refused until the "
        'caller gives it back with {"mode": "assistant"}.',
    )


class MessageObject(serializers.Serializer):
    id = serializers.CharField(help_text="msg_…")
    object = serializers.CharField(help_text='Always "thread.message".')
    created_at = serializers.IntegerField()
    thread_id = serializers.CharField()
    status = serializers.ChoiceField(["in_progress", "incomplete", "completed"])
    incomplete_details = JSON(allow_null=True)
    completed_at = serializers.IntegerField(allow_null=True)
    incomplete_at = serializers.IntegerField(allow_null=True)
    role = serializers.ChoiceField(["user", "assistant"])
    content = JSON(
        help_text='[{"type": "text", "text": {"value": "…", "annotations": [file_citation | file_path]}}, '
        '{"type": "image_file", "image_file": {"file_id": "file-…", "detail": "auto"}}, …]'
    )
    assistant_id = serializers.CharField(allow_null=True)
    run_id = serializers.CharField(allow_null=True)
    attachments = JSON()
    metadata = JSON()


RUN_STATUSES = [
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
    "cancelled",
    "failed",
    "completed",
    "incomplete",
    "expired",
]


class RunObject(serializers.Serializer):
    id = serializers.CharField(help_text="run_…")
    object = serializers.CharField(help_text='Always "thread.run".')
    created_at = serializers.IntegerField()
    thread_id = serializers.CharField()
    assistant_id = serializers.CharField()
    status = serializers.ChoiceField(RUN_STATUSES)
    required_action = JSON(allow_null=True, help_text="submit_tool_outputs.tool_calls while requires_action.")
    last_error = JSON(allow_null=True)
    expires_at = serializers.IntegerField(allow_null=True)
    started_at = serializers.IntegerField(allow_null=True)
    cancelled_at = serializers.IntegerField(allow_null=True)
    failed_at = serializers.IntegerField(allow_null=True)
    completed_at = serializers.IntegerField(allow_null=True)
    incomplete_details = JSON(allow_null=True)
    model = serializers.CharField()
    instructions = serializers.CharField()
    tools = JSON()
    tool_resources = JSON()
    metadata = JSON()
    usage = JSON(allow_null=True, help_text="null until the run ends.")
    temperature = serializers.FloatField(allow_null=True)
    top_p = serializers.FloatField(allow_null=True)
    max_prompt_tokens = serializers.IntegerField(allow_null=True)
    max_completion_tokens = serializers.IntegerField(allow_null=True)
    truncation_strategy = JSON()
    tool_choice = JSON()
    parallel_tool_calls = serializers.BooleanField()
    response_format = JSON()


class RunStepObject(serializers.Serializer):
    id = serializers.CharField(help_text="step_…")
    object = serializers.CharField(help_text='Always "thread.run.step".')
    created_at = serializers.IntegerField()
    assistant_id = serializers.CharField()
    thread_id = serializers.CharField()
    run_id = serializers.CharField()
    type = serializers.ChoiceField(["message_creation", "tool_calls"])
    status = serializers.ChoiceField(["in_progress", "cancelled", "failed", "completed", "expired"])
    step_details = JSON()
    last_error = JSON(allow_null=True)
    expired_at = serializers.IntegerField(allow_null=True)
    cancelled_at = serializers.IntegerField(allow_null=True)
    failed_at = serializers.IntegerField(allow_null=True)
    completed_at = serializers.IntegerField(allow_null=True)
    metadata = JSON()
    usage = JSON(allow_null=True)


def list_of(item: type[serializers.Serializer], name: str):
    return inline_serializer(
        name=name,
        fields={
            "object": serializers.CharField(help_text='Always "list".'),
            "data": item(many=True),
            "first_id": serializers.CharField(allow_null=True),
            "last_id": serializers.CharField(allow_null=True),
            "has_more": serializers.BooleanField(),
        },
    )


def deleted(object_name: str, name: str):
    return inline_serializer(
        name=name,
        fields={
            "id": serializers.CharField(),
            "object": serializers.CharField(help_text=f'Always "{object_name}".'),
            "deleted": serializers.BooleanField(),
        },
    )


ERROR = inline_serializer(
    name="V1Error",
    fields={
        "error": inline_serializer(
            name="V1ErrorBody",
            fields={
                "message": serializers.CharField(),
                "type": serializers.CharField(),
                "param": serializers.CharField(allow_null=True),
                "code": serializers.CharField(allow_null=True),
            },
        )
    },
)
EVENT_STREAM_NOTE = (
    "With `stream: true` the answer is `text/event-stream`: `event: <name>` / `data: <JSON>` pairs for this "
    "run's events (thread.run.*, thread.run.step.*, thread.message.*), ending with `event: done` / "
    "`data: [DONE]` after a terminal run event or right after `thread.run.requires_action`."
)
