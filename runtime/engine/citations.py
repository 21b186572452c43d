"""Citations in an answer, and the files it carries.

- The markers a built-in search tool gave the model (【0:1†returns.md】) become the Assistants API's
  `file_citation` annotations on the answer's text: a tool's result cites by listing `results` that
  carry a `marker` and a `file_id`; wherever the model's answer repeats a marker word for word, the
  annotation spans exactly those characters.
- Files a built-in tool made (code_interpreter's charts and reports) come with the answer that
  follows: a tool's result lists them as `message_files`, each `{"file_id", "link"?, "image"?}`.
  An image becomes an `image_file` part of that message; wherever the answer's text repeats a
  file's `link` (`sandbox:/mnt/data/report.csv`), a `file_path` annotation spans it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

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


@dataclass(frozen=True)
class MessageFile:
    """A file a built-in tool made for the answer: shown as an image, and/or linked by `link`."""

    file_id: str
    link: str = ""
    image: bool = False


def message_files_in(output: str | None) -> list[MessageFile]:
    """The `message_files` a tool's output (JSON text) lists; malformed entries are skipped."""
    try:
        data = json.loads(output or "{}")
    except json.JSONDecodeError:
        return []
    entries = data.get("message_files") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return []
    return [
        MessageFile(
            file_id=entry["file_id"],
            link=entry["link"] if isinstance(entry.get("link"), str) else "",
            image=entry.get("image") is True,
        )
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("file_id"), str) and entry["file_id"]
    ]


def file_path_annotations(text: str, links: dict[str, str]) -> list[dict]:
    """`file_path` annotations wherever `text` says one of `links` (link → file_id), the longest
    link first where one is the start of another."""
    present = [link for link in links if link and link in text]
    if not present:
        return []
    pattern = re.compile("|".join(re.escape(link) for link in sorted(present, key=len, reverse=True)))
    return [
        {
            "type": "file_path",
            "text": found.group(),
            "start_index": found.start(),
            "end_index": found.end(),
            "file_path": {"file_id": links[found.group()]},
        }
        for found in pattern.finditer(text)
    ]


def image_part(file_id: str) -> dict:
    return {"type": "image_file", "image_file": {"file_id": file_id, "detail": "auto"}}
