"""Cheap, deterministic token estimates for prompts and completions.

No tokenizer is downloaded: about four characters make a token, and every word is at least one.
The engine uses these figures to cut history to `max_prompt_tokens`; the offline model reports
them as `usage`. They are estimates, good to a few per cent on English prose.
"""

from __future__ import annotations

import json
import math
from typing import Any

CHARS_PER_TOKEN = 4
# What a chat message costs beyond its text (role and separators), and what each tool call
# costs beyond its name and arguments: the same order of magnitude OpenAI documents.
MESSAGE_OVERHEAD = 4
TOOL_CALL_OVERHEAD = 3
REPLY_PRIMING = 3


def estimate_tokens(text: str) -> int:
    """Tokens in `text`: ceil(characters / 4), but never fewer than its words; 0 for empty text."""
    if not text:
        return 0
    return max(len(text.split()), math.ceil(len(text) / CHARS_PER_TOKEN))


def content_text(content: Any) -> str:
    """The text of a message's `content`: a string, a list of parts ({"type": "text", ...}) or None."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text") or part.get("refusal") or ""
                parts.append(text if isinstance(text, str) else json.dumps(text))
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return json.dumps(content, default=str)


def estimate_message_tokens(messages: list[dict]) -> int:
    """Prompt tokens for a list of chat messages, including their tool calls and the reply priming."""
    total = REPLY_PRIMING if messages else 0
    for message in messages:
        total += MESSAGE_OVERHEAD
        total += estimate_tokens(content_text(message.get("content")))
        if message.get("name"):
            total += estimate_tokens(str(message["name"]))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            total += TOOL_CALL_OVERHEAD
            total += estimate_tokens(str(function.get("name") or ""))
            total += estimate_tokens(str(function.get("arguments") or ""))
    return total


def estimate_tools_tokens(tools: list[dict] | None) -> int:
    """Prompt tokens taken by tool definitions (their JSON)."""
    if not tools:
        return 0
    return estimate_tokens(json.dumps(tools, separators=(",", ":"), sort_keys=True))
