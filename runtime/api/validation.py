"""Request bodies of /v1, validated as the Assistants API validates them.

Scalars are DRF fields; the structured values (metadata, tools, tool_choice, …) are checked by
functions that raise InvalidRequest naming the exact `param` (`tools[2].function.name`), with the
API's wording where it has one. Unknown fields are refused, as the API refuses them, so a typo
(`server_tool`) is an error and not a silent no-op. The serializers double as /api/docs/ schemas.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from runtime.errors import InvalidRequest
from runtime.runs import normalize_content
from runtime.tools import registry

FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
REASONING_EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh", "max"]
METADATA_MAX_PAIRS, METADATA_MAX_KEY, METADATA_MAX_VALUE = 16, 64, 512
MAX_TOOLS = 128


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _expect(value: Any, kind: type | tuple[type, ...], param: str, what: str) -> None:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    numeric = int in kinds or float in kinds
    if not isinstance(value, kinds) or (numeric and isinstance(value, bool)):
        raise InvalidRequest(
            f"Invalid type for '{param}': expected {what}, but got {_kind(value)} instead.", param=param
        )


def _only(value: dict, allowed: set[str], param: str) -> None:
    for key in value:
        if key not in allowed:
            raise InvalidRequest(f"Unknown parameter: '{param}.{key}'.", param=f"{param}.{key}")


def check_metadata(value: Any, param: str = "metadata") -> dict:
    _expect(value, dict, param, "an object")
    if len(value) > METADATA_MAX_PAIRS:
        raise InvalidRequest(
            f"Invalid '{param}': too many properties. Expected an object with at most {METADATA_MAX_PAIRS} "
            f"properties, but got an object with {len(value)} properties instead.",
            param=param,
        )
    for key, item in value.items():
        if len(key) > METADATA_MAX_KEY:
            raise InvalidRequest(
                f"Invalid '{param}': key {key[:20]!r}… is too long. Keys are at most {METADATA_MAX_KEY} characters.",
                param=param,
            )
        _expect(item, str, f"{param}.{key}", "a string")
        if len(item) > METADATA_MAX_VALUE:
            raise InvalidRequest(
                f"Invalid '{param}.{key}': string too long. Expected a string with maximum length "
                f"{METADATA_MAX_VALUE}, but got a string with length {len(item)} instead.",
                param=f"{param}.{key}",
            )
    return dict(value)


def _check_function(function: Any, param: str) -> dict:
    _expect(function, dict, param, "an object")
    _only(function, {"name", "description", "parameters", "strict"}, param)
    name = function.get("name")
    if not isinstance(name, str) or not FUNCTION_NAME_RE.match(name):
        raise InvalidRequest(
            f"Invalid '{param}.name': string does not match pattern. Expected a string that matches the "
            f"pattern '{FUNCTION_NAME_RE.pattern}'.",
            param=f"{param}.name",
        )
    if function.get("description") is not None:
        _expect(function["description"], str, f"{param}.description", "a string")
    if function.get("parameters") is not None:
        _expect(function["parameters"], dict, f"{param}.parameters", "an object (a JSON Schema)")
    if function.get("strict") is not None:
        _expect(function["strict"], bool, f"{param}.strict", "a boolean")
    return {key: function[key] for key in ("name", "description", "parameters", "strict") if key in function}


def _check_file_search(options: Any, param: str) -> dict:
    _expect(options, dict, param, "an object")
    _only(options, {"max_num_results", "ranking_options"}, param)
    if options.get("max_num_results") is not None:
        count = options["max_num_results"]
        _expect(count, int, f"{param}.max_num_results", "an integer")
        if not 1 <= count <= 50:
            raise InvalidRequest(f"Invalid '{param}.max_num_results': expected 1 to 50.", param=param)
    ranking = options.get("ranking_options")
    if ranking is not None:
        _expect(ranking, dict, f"{param}.ranking_options", "an object")
        if ranking.get("ranker", "auto") not in ("auto", "default_2024_08_21"):
            raise InvalidRequest(
                f"Invalid '{param}.ranking_options.ranker': expected 'auto' or 'default_2024_08_21'.", param=param
            )
        threshold = ranking.get("score_threshold", 0)
        _expect(threshold, (int, float), f"{param}.ranking_options.score_threshold", "a number")
        if not 0 <= threshold <= 1:
            raise InvalidRequest(f"Invalid '{param}.ranking_options.score_threshold': expected 0 to 1.", param=param)
    return dict(options)


def check_tools(value: Any, param: str = "tools") -> list[dict]:
    """Assistants tools: `function` (client-side: the run waits for the caller), `file_search` (runs on
    the server when an app registered it: knowledge), and `code_interpreter`."""
    _expect(value, list, param, "an array")
    if len(value) > MAX_TOOLS:
        raise InvalidRequest(
            f"Invalid '{param}': array too long. Expected an array with maximum length {MAX_TOOLS}, "
            f"but got an array with length {len(value)} instead.",
            param=param,
        )
    tools, names = [], set()
    for i, tool in enumerate(value):
        where = f"{param}[{i}]"
        _expect(tool, dict, where, "an object")
        kind = tool.get("type")
        if kind == "function":
            _only(tool, {"type", "function"}, where)
            function = _check_function(tool.get("function"), f"{where}.function")
            if function["name"] in names:
                raise InvalidRequest(
                    f"Invalid '{param}': duplicate function name '{function['name']}'.", param=f"{where}.function.name"
                )
            names.add(function["name"])
            tools.append({"type": "function", "function": function})
        elif kind == "file_search":
            _only(tool, {"type", "file_search"}, where)
            entry: dict = {"type": "file_search"}
            if tool.get("file_search") is not None:
                entry["file_search"] = _check_file_search(tool["file_search"], f"{where}.file_search")
            tools.append(entry)
        elif kind == "code_interpreter":
            _only(tool, {"type"}, where)
            tools.append({"type": "code_interpreter"})
        else:
            raise InvalidRequest(
                f"Invalid value for '{where}.type': expected one of 'code_interpreter', 'file_search' or "
                f"'function', but got {kind!r} instead.",
                param=f"{where}.type",
            )
    return tools


def function_names(tools: list[dict]) -> set[str]:
    return {tool["function"]["name"] for tool in tools if tool.get("type") == "function"}


def check_server_tools(value: Any, param: str = "server_tools") -> list[str]:
    """Concierge's extension: names of tools registered in code (runtime.tools.registry)."""
    _expect(value, list, param, "an array of tool names")
    known = set(registry.names())
    names: list[str] = []
    for i, name in enumerate(value):
        _expect(name, str, f"{param}[{i}]", "a string")
        if name not in known:
            raise InvalidRequest(
                f"Invalid '{param}[{i}]': no server tool named {name!r}. Available: {', '.join(sorted(known))}.",
                param=f"{param}[{i}]",
            )
        if name not in names:
            names.append(name)
    return names


def check_no_overlap(tools: list[dict], server_tools: list[str]) -> None:
    """A name is either the caller's function or a server tool, never both (who would answer it?)."""
    both = sorted(function_names(tools) & set(server_tools))
    if both:
        raise InvalidRequest(
            f"'{both[0]}' is both a client-side function in 'tools' and a server tool in 'server_tools'; "
            "remove it from one of them.",
            param="server_tools",
        )


def check_tool_resources(value: Any, param: str = "tool_resources") -> dict:
    _expect(value, dict, param, "an object")
    _only(value, {"code_interpreter", "file_search"}, param)
    if value.get("code_interpreter") is not None:
        section = value["code_interpreter"]
        _expect(section, dict, f"{param}.code_interpreter", "an object")
        _only(section, {"file_ids"}, f"{param}.code_interpreter")
        file_ids = section.get("file_ids") or []
        where = f"{param}.code_interpreter.file_ids"
        if not isinstance(file_ids, list) or not all(isinstance(file_id, str) for file_id in file_ids):
            raise InvalidRequest(f"Invalid type for '{where}': expected an array of file ids.", param=where)
        if len(file_ids) > 20:
            raise InvalidRequest(f"Invalid '{where}': at most 20 files.", param=where)
    if value.get("file_search") is not None:
        section = value["file_search"]
        _expect(section, dict, f"{param}.file_search", "an object")
        _only(section, {"vector_store_ids", "vector_stores"}, f"{param}.file_search")
        for key in ("vector_store_ids", "vector_stores"):
            if len(section.get(key) or []) > 1:
                raise InvalidRequest(f"Invalid '{param}.file_search.{key}': at most 1.", param=param)
    return dict(value)


def check_response_format(value: Any, param: str = "response_format") -> Any:
    if value == "auto":
        return value
    _expect(value, dict, param, "'auto' or an object")
    kind = value.get("type")
    if kind in ("text", "json_object"):
        _only(value, {"type"}, param)
    elif kind == "json_schema":
        _only(value, {"type", "json_schema"}, param)
        schema = value.get("json_schema")
        _expect(schema, dict, f"{param}.json_schema", "an object")
        if not isinstance(schema.get("name"), str) or not FUNCTION_NAME_RE.match(schema["name"]):
            raise InvalidRequest(f"Invalid '{param}.json_schema.name'.", param=f"{param}.json_schema.name")
    else:
        raise InvalidRequest(
            f"Invalid value for '{param}.type': expected 'text', 'json_object' or 'json_schema'.", param=param
        )
    return value


def check_tool_choice(value: Any, param: str = "tool_choice") -> Any:
    if value in ("none", "auto", "required"):
        return value
    if isinstance(value, dict):
        kind = value.get("type")
        if kind in ("file_search", "code_interpreter") and set(value) == {"type"}:
            return value
        function = value.get("function")
        if kind == "function" and isinstance(function, dict) and isinstance(function.get("name"), str):
            return {"type": "function", "function": {"name": function["name"]}}
    raise InvalidRequest(
        f"Invalid '{param}': expected 'none', 'auto', 'required', {{'type': 'function', 'function': {{'name': …}}}}, "
        "{'type': 'file_search'} or {'type': 'code_interpreter'}.",
        param=param,
    )


def check_truncation_strategy(value: Any, param: str = "truncation_strategy") -> dict:
    _expect(value, dict, param, "an object")
    _only(value, {"type", "last_messages"}, param)
    kind = value.get("type")
    if kind not in ("auto", "last_messages"):
        raise InvalidRequest(
            f"Invalid value for '{param}.type': expected 'auto' or 'last_messages', but got {kind!r} instead.",
            param=f"{param}.type",
        )
    last = value.get("last_messages")
    if last is not None:
        _expect(last, int, f"{param}.last_messages", "an integer")
        if last < 1:
            raise InvalidRequest(f"Invalid '{param}.last_messages': expected a value >= 1.", param=param)
    if kind == "last_messages" and last is None:
        raise InvalidRequest(f"'{param}.last_messages' is required when the type is 'last_messages'.", param=param)
    return {"type": kind, "last_messages": last}


def check_content(value: Any, param: str = "content") -> Any:
    """A string, or parts ({type: text, text: str} | image_file | image_url); capped in length."""
    normalize_content(value)  # runtime.runs' own rules, so the API fails before anything is written
    text = value if isinstance(value, str) else "".join(p["text"] for p in value if p.get("type") == "text")
    limit = settings.V1_MESSAGE_MAX_CHARS
    if len(text) > limit:
        raise InvalidRequest(
            f"Invalid '{param}': string too long. Expected a string with maximum length {limit}, "
            f"but got a string with length {len(text)} instead.",
            param=param,
        )
    return value


def check_attachments(value: Any, param: str = "attachments") -> list:
    _expect(value, list, param, "an array")
    for i, attachment in enumerate(value):
        _expect(attachment, dict, f"{param}[{i}]", "an object")
        _only(attachment, {"file_id", "tools"}, f"{param}[{i}]")
    return list(value)


# --- DRF glue -------------------------------------------------------------------------------------


class Checked(serializers.Field):
    """A field validated by one of the check_* functions above (which name the param themselves)."""

    def __init__(self, check: Callable[..., Any], **kwargs) -> None:
        self.check = check
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return self.check(data, self.field_name)

    def to_representation(self, value):
        return value


OBJECT = {"type": "object", "additionalProperties": True}


@extend_schema_field(
    {"type": "object", "maxProperties": 16, "additionalProperties": {"type": "string", "maxLength": 512}}
)
class MetadataField(Checked):
    def __init__(self, **kwargs) -> None:
        super().__init__(check_metadata, allow_null=True, **kwargs)


@extend_schema_field({"type": "array", "maxItems": MAX_TOOLS, "items": OBJECT})
class ToolsField(Checked):
    def __init__(self, **kwargs) -> None:
        super().__init__(check_tools, allow_null=True, **kwargs)


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class ServerToolsField(Checked):
    def __init__(self, **kwargs) -> None:
        super().__init__(check_server_tools, allow_null=True, **kwargs)


@extend_schema_field(OBJECT)
class ToolResourcesField(Checked):
    def __init__(self, **kwargs) -> None:
        super().__init__(check_tool_resources, allow_null=True, **kwargs)


@extend_schema_field({"oneOf": [{"type": "string", "enum": ["auto"]}, OBJECT]})
class ResponseFormatField(Checked):
    def __init__(self, **kwargs) -> None:
        super().__init__(check_response_format, allow_null=True, **kwargs)


@extend_schema_field({"oneOf": [{"type": "string", "enum": ["none", "auto", "required"]}, OBJECT]})
class ToolChoiceField(Checked):
    def __init__(self, **kwargs) -> None:
        super().__init__(check_tool_choice, allow_null=True, **kwargs)


@extend_schema_field(OBJECT)
class TruncationStrategyField(Checked):
    def __init__(self, **kwargs) -> None:
        super().__init__(check_truncation_strategy, allow_null=True, **kwargs)


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "array", "items": OBJECT}]})
class ContentField(Checked):
    def __init__(self, **kwargs) -> None:
        super().__init__(check_content, **kwargs)


@extend_schema_field({"type": "array", "items": OBJECT})
class AttachmentsField(Checked):
    def __init__(self, **kwargs) -> None:
        super().__init__(check_attachments, allow_null=True, **kwargs)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare, with the API's message."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise InvalidRequest(f"Expected a JSON object, but got {_kind(data)} instead.")
        for key in data:
            if key not in self.fields:
                raise InvalidRequest(f"Unrecognized request argument supplied: {key}", param=key)
        return super().to_internal_value(data)


def text(max_length: int, **kwargs) -> serializers.CharField:
    return serializers.CharField(
        max_length=max_length, allow_blank=True, allow_null=True, required=False, trim_whitespace=False, **kwargs
    )


def optional_float(low: float, high: float) -> serializers.FloatField:
    return serializers.FloatField(min_value=low, max_value=high, allow_null=True, required=False)


def token_limit() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=256, allow_null=True, required=False)


def optional_bool() -> serializers.BooleanField:
    return serializers.BooleanField(allow_null=True, required=False)


class AssistantFields(StrictSerializer):
    name = text(256)
    description = text(512)
    instructions = text(256_000)
    tools = ToolsField()
    tool_resources = ToolResourcesField()
    metadata = MetadataField()
    temperature = optional_float(0, 2)
    top_p = optional_float(0, 1)
    response_format = ResponseFormatField()
    reasoning_effort = serializers.ChoiceField(REASONING_EFFORTS, allow_null=True, required=False)
    server_tools = ServerToolsField(
        help_text="Concierge's extension: names of tools registered on the server, run there without a "
        "round trip to the caller (they show up as completed run steps)."
    )


class AssistantCreate(AssistantFields):
    model = serializers.CharField(max_length=100)


class AssistantModify(AssistantFields):
    model = serializers.CharField(max_length=100, required=False)


class MessageCreate(StrictSerializer):
    role = serializers.ChoiceField(["user", "assistant"])
    content = ContentField(required=True)
    attachments = AttachmentsField()
    metadata = MetadataField()


class MetadataModify(StrictSerializer):
    metadata = MetadataField()


class ThreadCreate(StrictSerializer):
    messages = MessageCreate(many=True, required=False, allow_null=True)
    tool_resources = ToolResourcesField()
    metadata = MetadataField()


class ThreadModify(StrictSerializer):
    tool_resources = ToolResourcesField()
    metadata = MetadataField()
    # Concierge's extension: a thread handed to a person is given back to the assistant.
    mode = serializers.ChoiceField(choices=["assistant"], required=False)


class RunOverrides(StrictSerializer):
    assistant_id = serializers.CharField(max_length=40)
    model = serializers.CharField(max_length=100, allow_null=True, allow_blank=True, required=False)
    instructions = text(256_000)
    tools = ToolsField()
    metadata = MetadataField()
    temperature = optional_float(0, 2)
    top_p = optional_float(0, 1)
    stream = optional_bool()
    max_prompt_tokens = token_limit()
    max_completion_tokens = token_limit()
    truncation_strategy = TruncationStrategyField()
    tool_choice = ToolChoiceField()
    parallel_tool_calls = optional_bool()
    response_format = ResponseFormatField()
    reasoning_effort = serializers.ChoiceField(REASONING_EFFORTS, allow_null=True, required=False)


class RunCreate(RunOverrides):
    additional_instructions = text(256_000)
    additional_messages = MessageCreate(many=True, required=False, allow_null=True)


class ThreadAndRunCreate(RunOverrides):
    thread = ThreadCreate(required=False, allow_null=True)
    tool_resources = ToolResourcesField()


class ToolOutput(StrictSerializer):
    tool_call_id = serializers.CharField(max_length=64)
    output = serializers.CharField(allow_blank=True, required=False, trim_whitespace=False)


class SubmitToolOutputs(StrictSerializer):
    tool_outputs = ToolOutput(many=True)
    stream = optional_bool()


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict:
    """The body checked by `serializer_class`; fields the caller did not send are absent."""
    serializer = serializer_class(data=data if data is not None else {})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
