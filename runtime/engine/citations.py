"""Citations in an answer: the markers a built-in search tool gave the model (【0:1†returns.md】),
turned into the Assistants API's `file_citation` annotations on the answer's text.

A tool's result cites by listing `results` that carry a `marker` and a `file_id`; wherever the
model's answer repeats a marker word for word, the annotation spans exactly those characters.
"""

from __future__ import annotations

import json
import re

from runtime.models import Run, ToolCall
from runtime.tools import registry

MARKER = re.compile(r"【[^【】]{1,200}】")


def markers_in(outputs: list[str]) -> dict[str, str]:
    """marker → file_id, from tool outputs (JSON text) that cite."""
    found: dict[str, str] = {}
    for output in outputs:
        try:
            data = json.loads(output or "{}")
        except json.JSONDecodeError:
            continue
        for result in data.get("results") or [] if isinstance(data, dict) else []:
            if isinstance(result, dict) and isinstance(result.get("marker"), str) and result.get("file_id"):
                found[result["marker"]] = str(result["file_id"])
    return found


def annotations_for(run: Run, text: str) -> list[dict]:
    """The file_citation annotations of an answer `run` wrote; reads the run's tool calls only when
    the text holds a marker at all."""
    if not MARKER.search(text):
        return []
    builtin = [name for name in registry.names() if registry.get(name).builtin]
    outputs = ToolCall.objects.filter(step__run=run, name__in=builtin).values_list("output", flat=True)
    cited = markers_in(list(outputs))
    return [
        {
            "type": "file_citation",
            "text": found.group(),
            "start_index": found.start(),
            "end_index": found.end(),
            "file_citation": {"file_id": cited[found.group()]},
        }
        for found in MARKER.finditer(text)
        if found.group() in cited
    ]
