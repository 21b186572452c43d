"""The registry of server-side tools.

A tool declares a name, a description and a JSON schema for its arguments; the handler gets a
ToolContext and the validated arguments and returns a JSON-able dict. A tool may also say when it
is available (resolved per run, e.g. only for premium customers) and how to describe its work to
the customer ("Looking up order A1001…"). A built-in tool stands for one of the Assistants API's own
tool types (file_search, code_interpreter): the apps register them here as they register any other.
A built-in tool's output may also name files for the answer that follows (`message_files`, read by
runtime.engine.citations): images shown in it, files its text links to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.tools.context import ToolContext

Handler = Callable[["ToolContext", dict], dict]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict
    handler: Handler
    timeout: float | None = None  # seconds; settings.TOOL_TIMEOUT_SECONDS when None
    available: Callable[[ToolContext], bool] = field(default=lambda ctx: True)
    # The schema may depend on the context (e.g. no email needed for a signed-in customer).
    parameters_for: Callable[[ToolContext], dict] | None = None
    activity: Callable[[dict], str] | None = None
    # A built-in tool of the Assistants API (file_search, code_interpreter): a run offers it when its
    # `tools` list {"type": name}, and its calls show in run steps as that type, through
    # `step_view(output, include_content, arguments)` (output {} while the call has not run), not as
    # a function.
    builtin: bool = False
    step_view: Callable[[dict, bool, dict], dict] | None = None
    # A built-in tool whose call shows one of its string arguments as its `input` (code_interpreter's
    # `code`): the engine streams that text in step deltas ({name: {"input": piece}}) as the model
    # writes it, after an opening {name: {"input": "", "outputs": []}}.
    streamed_input: str | None = None
    # What a finished built-in call adds to its step's stream before the step completes
    # (code_interpreter's `outputs`, each with its index), from its output; {} adds nothing.
    result_delta: Callable[[dict], dict] | None = None

    def schema(self, ctx: ToolContext) -> dict:
        return self.parameters_for(ctx) if self.parameters_for else self.parameters

    def spec(self, ctx: ToolContext) -> dict:
        """The tool as a Chat Completions `tools` entry."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.schema(ctx)},
        }

    def describe(self, arguments: dict) -> str:
        if self.activity is not None:
            try:
                return self.activity(arguments)
            except (KeyError, TypeError, ValueError):
                pass
        return "Working on it…"


_tools: dict[str, Tool] = {}


def register(tool: Tool) -> Tool:
    if tool.name in _tools and _tools[tool.name] is not tool:
        raise ValueError(f"a server tool named {tool.name!r} is already registered")
    _tools[tool.name] = tool
    return tool


def tool(name: str, description: str, parameters: dict, **options: Any) -> Callable[[Handler], Handler]:
    """Decorator: register the function as the handler of a server-side tool."""

    def decorate(handler: Handler) -> Handler:
        register(Tool(name=name, description=description, parameters=parameters, handler=handler, **options))
        return handler

    return decorate


def get(name: str) -> Tool | None:
    return _tools.get(name)


def names() -> list[str]:
    return sorted(_tools)


def builtins_in(tools: list) -> list[str]:
    """The registered built-in tools an Assistants `tools` list asks for ({"type": "file_search"})."""
    return [t["type"] for t in tools if isinstance(t, dict) and t.get("type") in _tools and _tools[t["type"]].builtin]


def resolve(server_tool_names: list[str], ctx: ToolContext) -> dict[str, Tool]:
    """The server tools a run may offer the model: those attached and available in this context."""
    return {name: _tools[name] for name in server_tool_names if name in _tools and _tools[name].available(ctx)}
