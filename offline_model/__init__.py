"""The offline model: a deterministic customer-support model that speaks the Chat Completions protocol.

Machines without a model provider run Concierge on it (the demo, the tests, benchmarks). It reads
the conversation and the offered tools' schemas, and answers with text, tool calls or a JSON summary.

    complete(request_body) -> Completion      # .to_dict() or .chunks(include_usage=...)
"""

from __future__ import annotations

from offline_model.completion import Completion, InvalidRequest, ToolCall, Usage, complete

__all__ = ["Completion", "InvalidRequest", "ToolCall", "Usage", "complete"]
