"""The Assistants API's object shapes, built from our models: the one serializer every transport uses.

Field for field as the openai SDK's types under openai/types/beta/: every key present, null where
there is no value, timestamps in Unix seconds.
"""

from __future__ import annotations

import json
from datetime import datetime

from runtime.models import Assistant, Message, Run, RunStep, Thread, ToolCall
from runtime.tools import registry


def ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def assistant_obj(assistant: Assistant) -> dict:
    return {
        "id": assistant.public_id,
        "object": "assistant",
        "created_at": ts(assistant.created_at),
        "name": assistant.name or None,
        "description": assistant.description or None,
        "model": assistant.model,
        "instructions": assistant.instructions or None,
        "tools": assistant.tools,
        "tool_resources": assistant.tool_resources or {},
        "metadata": assistant.metadata or {},
        "temperature": assistant.temperature,
        "top_p": assistant.top_p,
        "response_format": assistant.response_format if assistant.response_format is not None else "auto",
        # Concierge's extension: tools that run on the server (see Assistant's docstring).
        "server_tools": assistant.server_tools,
    }


def thread_obj(thread: Thread) -> dict:
    return {
        "id": thread.public_id,
        "object": "thread",
        "created_at": ts(thread.created_at),
        "tool_resources": thread.tool_resources or {},
        "metadata": thread.metadata or {},
        # Concierge's extension: who answers (a thread handed to a person refuses runs until given back).
        "mode": thread.mode,
    }


def message_obj(message: Message) -> dict:
    return {
        "id": message.public_id,
        "object": "thread.message",
        "created_at": ts(message.created_at),
        "thread_id": message.thread.public_id,
        "status": message.status,
        "incomplete_details": message.incomplete_details,
        "completed_at": ts(message.completed_at),
        "incomplete_at": ts(message.incomplete_at),
        "role": message.role,
        "content": message.content,
        "assistant_id": message.assistant.public_id if message.assistant_id else None,
        "run_id": message.run.public_id if message.run_id else None,
        "attachments": message.attachments,
        "metadata": message.metadata or {},
    }


def usage_obj(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def run_obj(run: Run) -> dict:
    return {
        "id": run.public_id,
        "object": "thread.run",
        "created_at": ts(run.created_at),
        "thread_id": run.thread.public_id,
        "assistant_id": run.assistant_public_id,
        "status": run.status,
        "required_action": run.required_action,
        "last_error": run.last_error,
        # The API shows expires_at only while the run can still expire.
        "expires_at": None if run.is_terminal else ts(run.expires_at),
        "started_at": ts(run.started_at),
        "cancelled_at": ts(run.cancelled_at),
        "failed_at": ts(run.failed_at),
        "completed_at": ts(run.completed_at),
        "incomplete_details": run.incomplete_details,
        "model": run.model,
        "instructions": run.instructions,
        "tools": run.tools,
        "tool_resources": run.tool_resources or {},
        "metadata": run.metadata or {},
        "usage": usage_obj(run.prompt_tokens, run.completion_tokens) if run.is_terminal else None,
        "temperature": run.temperature,
        "top_p": run.top_p,
        "max_prompt_tokens": run.max_prompt_tokens,
        "max_completion_tokens": run.max_completion_tokens,
        "truncation_strategy": run.truncation_strategy or {"type": "auto", "last_messages": None},
        "tool_choice": run.tool_choice,
        "parallel_tool_calls": run.parallel_tool_calls,
        "response_format": run.response_format if run.response_format is not None else "auto",
    }


def tool_call_obj(call: ToolCall, *, include_content: bool = False) -> dict:
    """A call as run steps show it: a function's, or a built-in tool's own type (file_search,
    code_interpreter) through its step_view; file_search's results carry their content only when the
    caller asked (`include_content`)."""
    tool = registry.get(call.name)
    if tool is not None and tool.builtin and tool.step_view is not None:
        view = tool.step_view(json_object(call.output), include_content, json_object(call.arguments))
        return {"id": call.call_id, "type": call.name, call.name: view}
    return {
        "id": call.call_id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments, "output": call.output},
    }


def json_object(text: str | None) -> dict:
    """A tool call's arguments or output as a dict ({} when empty, not JSON, or not an object)."""
    try:
        value = json.loads(text) if text else {}
    except (json.JSONDecodeError, RecursionError):  # a model's text: anything, nested as deep as it likes
        return {}
    return value if isinstance(value, dict) else {}


def step_details_obj(step: RunStep, tool_calls: list[ToolCall] | None = None, *, include_content: bool = False) -> dict:
    if step.type == RunStep.Type.MESSAGE_CREATION:
        return {
            "type": "message_creation",
            "message_creation": {"message_id": step.message.public_id if step.message_id else None},
        }
    calls = tool_calls if tool_calls is not None else list(step.tool_calls.all())
    return {
        "type": "tool_calls",
        "tool_calls": [tool_call_obj(call, include_content=include_content) for call in calls],
    }


def step_obj(step: RunStep, tool_calls: list[ToolCall] | None = None, *, include_content: bool = False) -> dict:
    run = step.run
    finished = step.status != RunStep.Status.IN_PROGRESS
    return {
        "id": step.public_id,
        "object": "thread.run.step",
        "created_at": ts(step.created_at),
        "assistant_id": run.assistant_public_id,
        "thread_id": run.thread.public_id,
        "run_id": run.public_id,
        "type": step.type,
        "status": step.status,
        "step_details": step_details_obj(step, tool_calls, include_content=include_content),
        "last_error": step.last_error,
        "expired_at": ts(step.expired_at),
        "cancelled_at": ts(step.cancelled_at),
        "failed_at": ts(step.failed_at),
        "completed_at": ts(step.completed_at),
        "metadata": {},
        "usage": usage_obj(step.prompt_tokens, step.completion_tokens) if finished else None,
    }


def text_part(value: str, annotations: list | None = None) -> dict:
    return {"type": "text", "text": {"value": value, "annotations": annotations or []}}


def delta_text(delta: dict) -> str:
    """The text a `thread.message.delta` event adds."""
    return "".join(part.get("text", {}).get("value", "") for part in delta["delta"].get("content", []))


def conversation_message(message: dict | Message) -> dict:
    """A message as people see it in the widget and the console: from a row, or from its API shape.

    `citations` are the answer's file_citation annotations (the marker's text, its span, the file):
    the widget and the console show each as a numbered source."""
    if isinstance(message, Message):
        return {
            "id": message.public_id,
            "role": message.role,
            "author": message.author,
            # The assistant is "the assistant" wherever it speaks: its API shape (live events) carries
            # no name, so neither does the stored row, and a reload reads as the live view did.
            "author_name": "" if message.author == Message.Author.ASSISTANT else message.author_name,
            "text": message.text,
            "status": message.status,
            "created_at": int(message.created_at.timestamp()),
            # Lets the widget match a stored message to the copy it is still waiting to have acknowledged.
            "client_id": (message.metadata or {}).get("client_id"),
            "citations": _citations(message.content),
            "images": _images(message.content),
        }
    content = message.get("content", [])
    text = "".join(p["text"]["value"] for p in content if p.get("type") == "text")
    metadata = message.get("metadata") or {}
    return {
        "id": message["id"],
        "role": message["role"],
        "author": metadata.get("author", "assistant" if message["role"] == "assistant" else "customer"),
        "author_name": metadata.get("author_name", ""),
        "text": text,
        "status": message["status"],
        "created_at": message["created_at"],
        "client_id": metadata.get("client_id"),
        "citations": _citations(content),
        "images": _images(content),
    }


def _images(content: list) -> list[str]:
    """The file ids of a message's image_file parts: the widget and the console show each photo."""
    return [p["image_file"]["file_id"] for p in content if p.get("type") == "image_file"]


def _citations(content: list) -> list[dict]:
    return [
        {
            "text": a["text"],
            "start": a["start_index"],
            "end": a["end_index"],
            "file_id": a["file_citation"]["file_id"],
        }
        for part in content or []
        if isinstance(part, dict) and part.get("type") == "text"
        for a in part["text"].get("annotations") or []
        if a.get("type") == "file_citation"
    ]
