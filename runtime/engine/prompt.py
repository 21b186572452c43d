"""Building the model's prompt for a run: instructions, facts the apps know, and history.

History is the thread's messages and tool calls in order. It is cut to the run's budget:
`truncation_strategy` `last_messages` keeps the N most recent messages; `auto` keeps as much as
fits `max_prompt_tokens`, dropping the oldest turns first. Turns that a long thread compacted into
a summary (runtime.engine.compaction) are replaced by that summary, never silently lost.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from common.tokens import estimate_message_tokens
from runtime import hooks
from runtime.models import Message, Run, RunStep, Thread, ToolCall
from runtime.tools.registry import Tool


class PromptTooLarge(Exception):
    """Even the instructions and the latest message do not fit the prompt budget."""


@dataclass
class Turn:
    """One or more chat messages that must stay together (a tool call and its results)."""

    messages: list[dict]
    is_message: bool  # counts as a thread message for last_messages
    at: datetime | None = None


def message_turn(message: Message) -> Turn:
    text = message.text
    if message.author == Message.Author.AGENT:
        who = message.author_name or "A human agent"
        text = f"[{who}, a human support agent, wrote:] {text}"
    content = user_content(message, text) if message.role == Message.Role.USER else text
    return Turn([{"role": message.role, "content": content}], is_message=True, at=message.created_at)


def user_content(message: Message, text: str) -> str | list[dict]:
    """A user message's text, with its images as Chat Completions image parts when the model reads
    images (MODEL_ACCEPTS_IMAGES), else with a note that images came which the model cannot see."""
    images = [part for part in message.content if part.get("type") in ("image_file", "image_url")]
    if not images:
        return text
    if not settings.MODEL_ACCEPTS_IMAGES:
        count = len(images)
        return _with_note(text, f"[Attached: {count} image{'s' if count > 1 else ''}, which this model cannot see.]")
    parts: list[dict] = [{"type": "text", "text": text}] if text else []
    gone = 0
    for part in images:
        url, detail = _image_url(message, part)
        if url is None:
            gone += 1
        else:
            parts.append({"type": "image_url", "image_url": {"url": url, "detail": detail}})
    if gone:
        note = f"[Attached: {gone} image{'s' if gone > 1 else ''} no longer available.]"
        parts.insert(0, {"type": "text", "text": note})
    return parts


def _with_note(text: str, note: str) -> str:
    return f"{text}\n\n{note}" if text else note


def _image_url(message: Message, part: dict) -> tuple[str | None, str]:
    """A data: URL of an image_file part's bytes (read through runtime.hooks.image_source), or an
    image_url part's own URL; None when the file is gone."""
    if part["type"] == "image_url":
        return part["image_url"].get("url"), part["image_url"].get("detail", "auto")
    detail = part["image_file"].get("detail", "auto")
    found = hooks.read_image(message.thread, part["image_file"]["file_id"])
    if found is None:
        return None, detail
    kind, data = found
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}", detail


def tool_step_turn(step: RunStep, calls: list[ToolCall]) -> Turn | None:
    answered = [call for call in calls if call.output is not None]
    if not answered:
        return None
    assistant = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments or "{}"}}
            for c in answered
        ],
    }
    results = [{"role": "tool", "tool_call_id": c.call_id, "content": c.output} for c in answered]
    return Turn([assistant, *results], is_message=False, at=step.created_at)


def history(thread: Thread) -> list[Turn]:
    """The thread's turns in order, after whatever was compacted into its summary."""
    messages = thread.messages.exclude(status=Message.Status.IN_PROGRESS)
    # The answered tool calls with their steps, in one query (a conversation's first turns have none).
    calls = ToolCall.objects.filter(
        step__run__thread=thread, step__type=RunStep.Type.TOOL_CALLS, output__isnull=False
    ).select_related("step")
    if thread.compacted_until:
        messages = messages.filter(created_at__gt=thread.compacted_until)
        calls = calls.filter(step__created_at__gt=thread.compacted_until)
    steps: dict[int, tuple[RunStep, list[ToolCall]]] = {}
    for call in calls.order_by("step_id", "index"):
        steps.setdefault(call.step_id, (call.step, []))[1].append(call)
    items = [(m.created_at, 0, m.pk, message_turn(m)) for m in messages if m.text or m.role == "user"]
    for step, answered in steps.values():
        turn = tool_step_turn(step, answered)
        if turn is not None:
            items.append((step.created_at, 1, step.pk, turn))
    items.sort(key=lambda item: item[:3])
    return [turn for *_, turn in items]


def conversation_for_model(thread: Thread, turns: list[Turn] | None = None) -> list[dict]:
    """The conversation as chat messages, for a model that reads it whole (a summary, a draft reply):
    what an earlier compaction summarized, then `turns` (default: the thread's history)."""
    chat = [m for turn in (history(thread) if turns is None else turns) for m in turn.messages]
    if thread.compacted_summary:
        chat.insert(0, {"role": "user", "content": "(Summary of what came before) " + thread.compacted_summary})
    return chat


def system_prompt(run: Run, *, facts: list[str]) -> str:
    """The run's instructions, the facts the apps that plug in know (runtime.hooks.prompt_facts),
    and the summary of what a long conversation compacted."""
    thread = run.thread
    parts = [run.instructions.strip()] if run.instructions.strip() else []
    if facts:
        parts.append("\n".join(facts))
    if thread.compacted_summary:
        parts.append("Summary of the earlier part of this conversation:\n" + thread.compacted_summary)
    return "\n\n".join(parts)


def tool_specs(run: Run, server_tools: dict[str, Tool], ctx) -> list[dict]:
    """Client-side functions declared on the run plus the server tools resolved for this run."""
    specs = [t for t in run.tools if isinstance(t, dict) and t.get("type") == "function"]
    declared = {t["function"]["name"] for t in specs}
    specs += [tool.spec(ctx) for name, tool in server_tools.items() if name not in declared]
    return specs


def build_messages(
    run: Run, turns: list[Turn], *, facts: list[str], tools: list[dict], budget: int | None
) -> list[dict]:
    """The chat messages for the next model call from the thread's `turns` (its history), cut to
    `budget` prompt tokens (None: no limit)."""
    system = {"role": "system", "content": system_prompt(run, facts=facts)}
    strategy = run.truncation_strategy or {}
    if strategy.get("type") == "last_messages" and strategy.get("last_messages"):
        turns = _last_messages(turns, int(strategy["last_messages"]))
    budget = budget if budget is not None else settings.MODEL_CONTEXT_TOKENS
    fixed = estimate_message_tokens([system]) + _tools_tokens(tools)
    kept: list[Turn] = []
    used = fixed
    for turn in reversed(turns):
        cost = estimate_message_tokens(turn.messages)
        if used + cost > budget:
            break
        kept.append(turn)
        used += cost
    kept.reverse()
    if turns and not kept:
        raise PromptTooLarge(f"the latest turn alone needs more than {budget} prompt tokens")
    dropped = len(turns) - len(kept)
    if dropped:
        system["content"] += f"\n\n({dropped} earlier part(s) of this conversation are not shown.)"
    return [system, *(m for turn in kept for m in turn.messages)]


def _last_messages(turns: list[Turn], n: int) -> list[Turn]:
    """Keep the turns from the n-th most recent thread message on."""
    seen = 0
    for i in range(len(turns) - 1, -1, -1):
        if turns[i].is_message:
            seen += 1
            if seen == n:
                return turns[i:]
    return turns


def _tools_tokens(tools: list[dict]) -> int:
    return estimate_message_tokens([{"role": "system", "content": json.dumps(tools)}]) if tools else 0
