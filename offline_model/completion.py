"""One Chat Completions request answered by the offline model, as a whole or as streamed chunks.

`complete(request)` is a plain function of the request body (the JSON the SDK sends); HTTP lives in
`offline_model.http`. The same request always gives the same content, tool calls and ids.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from common.tokens import (
    TOOL_CALL_OVERHEAD,
    estimate_message_tokens,
    estimate_tokens,
    estimate_tools_tokens,
)
from offline_model.conversation import read_conversation
from offline_model.dialogue import respond
from offline_model.drafting import draft_agent_reply, is_draft_request
from offline_model.languages import translate
from offline_model.summary import summarise
from offline_model.toolbox import Toolbox

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
ARGUMENT_FRAGMENT = 12  # characters of tool-call arguments per streamed chunk
FINGERPRINT = "fp_concierge_offline"


class InvalidRequest(ValueError):
    """A request the API would refuse with 400; `param` names the offending field."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the API sends it

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }


@dataclass(frozen=True)
class Completion:
    id: str
    model: str
    created: int
    content: str | None
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str  # stop, length or tool_calls
    usage: Usage

    def to_dict(self) -> dict[str, Any]:
        """The `chat.completion` object of a non-streamed response."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content, "refusal": None}
        if self.tool_calls:
            message["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason}],
            "usage": self.usage.to_dict(),
        }

    def chunks(self, *, include_usage: bool = False) -> Iterator[dict[str, Any]]:
        """The `chat.completion.chunk` objects of a streamed response, as OpenAI sends them.

        Text comes a word at a time. Each tool call opens with a chunk carrying its index, id, type,
        name and empty arguments; later chunks carry only argument fragments. A final chunk has the
        finish reason, and with `include_usage` one more chunk (no choices) carries the usage.
        """
        extra = {"usage": None} if include_usage else {}

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "system_fingerprint": FINGERPRINT,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
                **extra,
            }

        if self.tool_calls:
            yield chunk({"role": "assistant", "content": None})
            for index, call in enumerate(self.tool_calls):
                opening = {"index": index, "id": call.id, "type": "function"}
                yield chunk({"tool_calls": [{**opening, "function": {"name": call.name, "arguments": ""}}]})
                for start in range(0, len(call.arguments), ARGUMENT_FRAGMENT):
                    fragment = call.arguments[start : start + ARGUMENT_FRAGMENT]
                    yield chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
        else:
            yield chunk({"role": "assistant", "content": ""})
            for piece in word_pieces(self.content or ""):
                yield chunk({"content": piece})
        yield chunk({}, self.finish_reason)
        if include_usage:
            yield {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "system_fingerprint": FINGERPRINT,
                "choices": [],
                "usage": self.usage.to_dict(),
            }


def word_pieces(text: str) -> list[str]:
    """Word-sized pieces that join back to `text` exactly (each word with the spaces before it)."""
    return re.findall(r"\s*\S+|\s+$", text)


def complete(request: dict[str, Any]) -> Completion:
    """The offline model's answer to one Chat Completions request body."""
    check_request(request)
    messages = request["messages"]
    conversation = read_conversation(messages)
    response_format = request.get("response_format") or {}
    calls: tuple[ToolCall, ...] = ()
    if response_format.get("type") in ("json_schema", "json_object"):
        schema = (response_format.get("json_schema") or {}).get("schema")
        content: str | None = json.dumps(summarise(conversation, schema), ensure_ascii=False)
    elif is_draft_request(conversation):
        content = draft_agent_reply(conversation)
    else:
        toolbox = Toolbox.from_request(request.get("tools"), request.get("tool_choice"))
        reply = respond(conversation, toolbox, parallel_tool_calls=request.get("parallel_tool_calls") is not False)
        digest = request_digest(request)
        calls = tuple(
            ToolCall(
                id="call_" + hashlib.sha256(f"{digest}:{index}".encode()).hexdigest()[:24],
                name=call.name,
                arguments=json.dumps(call.arguments, ensure_ascii=False),
            )
            for index, call in enumerate(reply.calls)
        )
        content = None if calls else translate(reply.text, conversation.language)

    finish_reason = "tool_calls" if calls else "stop"
    if content is not None:
        content, finish_reason = apply_limits(content, request)
    completion_tokens = estimate_tokens(content or "") + sum(
        TOOL_CALL_OVERHEAD + estimate_tokens(call.name) + estimate_tokens(call.arguments) for call in calls
    )
    prompt_tokens = estimate_message_tokens(messages) + estimate_tools_tokens(request.get("tools"))
    return Completion(
        id="chatcmpl-" + request_digest(request)[:29],
        model=str(request["model"]),
        created=int(time.time()),
        content=content,
        tool_calls=calls,
        finish_reason=finish_reason,
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
    )


def request_digest(request: dict[str, Any]) -> str:
    """A hash of everything that decides the answer (not of how it is delivered)."""
    deciding = {key: value for key, value in request.items() if key not in ("stream", "stream_options", "user")}
    return hashlib.sha256(json.dumps(deciding, sort_keys=True, default=str).encode()).hexdigest()


def apply_limits(content: str, request: dict[str, Any]) -> tuple[str, str]:
    """Cut `content` at the first stop sequence, then to the token limit ("length" if it had to be cut)."""
    stops = request.get("stop")
    for stop in [stops] if isinstance(stops, str) else stops or ():
        if isinstance(stop, str) and stop and stop in content:
            content = content[: content.index(stop)]
    limit = request.get("max_completion_tokens") or request.get("max_tokens")
    if not isinstance(limit, int) or estimate_tokens(content) <= limit:
        return content, "stop"
    kept = ""
    for piece in word_pieces(content):
        if estimate_tokens(kept + piece) > limit:
            break
        kept += piece
    return kept, "length"


def check_request(request: Any) -> None:
    """Refuse what the real API refuses with 400, so clients meet the same errors offline."""
    if not isinstance(request, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    if not isinstance(request.get("model"), str) or not request["model"]:
        raise InvalidRequest("you must provide a model parameter", "model")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array of message objects.", "messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise InvalidRequest(f"Invalid value for 'messages[{index}].role'.", f"messages[{index}].role")
    tools = request.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(isinstance(tool, dict) for tool in tools)):
        raise InvalidRequest("'tools' must be an array of tool objects.", "tools")
    for key in ("max_completion_tokens", "max_tokens"):
        value = request.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise InvalidRequest(f"'{key}' must be a positive integer.", key)
    response_format = request.get("response_format")
    if response_format is not None and not isinstance(response_format, dict):
        raise InvalidRequest("'response_format' must be an object.", "response_format")
