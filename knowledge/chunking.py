"""Sections to chunks for a vector store, the way OpenAI documents `chunking_strategy`.

`auto` is 800-token chunks overlapping by 400; `static` sets `max_chunk_size_tokens` (100 to 4096)
and `chunk_overlap_tokens` (0 to half the maximum). Tokens are the project's own estimate
(`common.tokens.estimate_tokens`: about four characters a token, never fewer than the words), and a
chunk's `tokens` is that estimate of its text, never above the maximum.

How text is cut:
- A chunk never spans two sections, so a citation names one page of a PDF and one heading. A short
  section makes a short chunk rather than being glued to its neighbour.
- A chunk ends at the last paragraph break in the second half of its room, else the last line
  break there, else the last sentence end there, else the last whole word; only a word longer
  than a whole chunk is cut.
- The next chunk starts about `overlap_tokens` before the previous one ended, at the start of a
  word; at most half of the previous chunk is repeated, so the text always moves on.
- No text is lost: every non-space character of a section is in a chunk, in order; only spaces and
  line breaks at a chunk's two ends are trimmed.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from common.errors import InvalidInput
from common.tokens import CHARS_PER_TOKEN, estimate_tokens
from knowledge.sections import Section

AUTO_MAX_TOKENS = 800
AUTO_OVERLAP_TOKENS = 400
MIN_CHUNK_TOKENS = 100
MAX_CHUNK_TOKENS = 4096

_WORD = re.compile(r"\S+")
_NOT_SPACE = re.compile(r"\S")
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’)\]]*(?=\s)")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage to embed and search, and where it came from (its section's page and heading)."""

    index: int  # 0-based, across the whole file
    text: str
    tokens: int
    page: int | None
    heading: str | None


def chunk(sections: Iterable[Section], *, max_tokens: int, overlap_tokens: int) -> list[Chunk]:
    """`sections` cut into chunks of at most `max_tokens`, consecutive chunks of a section sharing
    about `overlap_tokens`. ValueError unless max_tokens >= 1 and 0 <= overlap_tokens <= max/2."""
    if max_tokens < 1 or overlap_tokens < 0 or 2 * overlap_tokens > max_tokens:
        raise ValueError(f"Cannot chunk by {max_tokens} tokens overlapping by {overlap_tokens}.")
    chunks: list[Chunk] = []
    for section in sections:
        for text in _split(section.text, max_tokens, overlap_tokens):
            chunks.append(
                Chunk(
                    index=len(chunks),
                    text=text,
                    tokens=estimate_tokens(text),
                    page=section.page,
                    heading=section.heading,
                )
            )
    return chunks


def _split(text: str, max_tokens: int, overlap_tokens: int) -> Iterator[str]:
    room = max_tokens * CHARS_PER_TOKEN  # no chunk is longer: ceil(characters / 4) <= max_tokens
    start = _skip_space(text, 0)
    floor = 0  # the first character after the previous chunk, in this window: this one must take it
    while start < len(text):
        window = text[start : start + room]
        words = [(found.start(), found.end()) for found in _WORD.finditer(window)]
        limit = len(window)
        if len(words) > max_tokens:  # no more words than tokens either
            limit = words[max_tokens][0]
        if floor >= limit:  # the previous chunk's end is out of reach: start there, without overlap
            start, floor = start + floor, 0
            continue
        if start + limit >= len(text):
            yield window[:limit].strip()
            return
        end = _break_at(window, words, limit, floor)
        piece = window[:end].strip()
        yield piece
        next_text = _skip_space(text, start + end)  # the next chunk must reach past this
        start = _skip_space(text, start + _overlap_start(words, end, min(overlap_tokens, estimate_tokens(piece) // 2)))
        floor = next_text - start


def _break_at(window: str, words: list[tuple[int, int]], limit: int, floor: int) -> int:
    """Where to end a chunk of `window` that may take up to `limit` characters."""
    low = max(limit // 2, floor + 1)
    for separator in ("\n\n", "\n"):
        found = window.rfind(separator, low, limit)
        if found > 0:
            return found
    sentence_end = 0
    for found in _SENTENCE_END.finditer(window, low, limit):
        sentence_end = found.end()
    if sentence_end:
        return sentence_end
    ends = [word_end for _, word_end in words]
    fitting = bisect_right(ends, limit)
    if fitting and ends[fitting - 1] > floor:
        return ends[fitting - 1]
    return limit  # one word longer than the room left: cut it


def _overlap_start(words: list[tuple[int, int]], end: int, overlap: int) -> int:
    """Where the next chunk starts, relative to this window: a word start about `overlap` tokens
    before `end`, or `end` itself when there is no overlap."""
    if overlap <= 0:
        return end
    starts = [word_start for word_start, _ in words]
    before_end = bisect_left(starts, end)  # words in the chunk
    position = max(end - overlap * CHARS_PER_TOKEN, 1)
    if before_end > overlap:  # and no more than `overlap` words
        position = max(position, words[before_end - overlap - 1][1])
    first = bisect_left(starts, position)
    return starts[first] if first < before_end else end


def _skip_space(text: str, position: int) -> int:
    found = _NOT_SPACE.search(text, position)
    return found.start() if found else len(text)


class ChunkingStrategyError(InvalidInput, ValueError):
    """A `chunking_strategy` the API refuses; `param` names the field at fault."""


def parse_chunking_strategy(value: Any) -> tuple[int, int]:
    """(max_tokens, overlap_tokens) for the API's `chunking_strategy`: None or {"type": "auto"}, or
    {"type": "static", "static": {"max_chunk_size_tokens": N, "chunk_overlap_tokens": M}}.
    ChunkingStrategyError (a ValueError) in the API's wording otherwise."""
    if value is None:
        return AUTO_MAX_TOKENS, AUTO_OVERLAP_TOKENS
    strategy = _object(value, "chunking_strategy")
    kind = _required(strategy, "type", "chunking_strategy")
    if not isinstance(kind, str):
        raise _wrong_type("chunking_strategy.type", "a string", kind)
    if kind == "auto":
        _refuse_unknown(strategy, {"type"}, "chunking_strategy")
        return AUTO_MAX_TOKENS, AUTO_OVERLAP_TOKENS
    if kind != "static":
        raise ChunkingStrategyError(
            f"Invalid value: '{kind}'. Supported values are: 'auto' and 'static'.", param="chunking_strategy.type"
        )
    _refuse_unknown(strategy, {"type", "static"}, "chunking_strategy")
    static = _object(_required(strategy, "static", "chunking_strategy"), "chunking_strategy.static")
    _refuse_unknown(static, {"max_chunk_size_tokens", "chunk_overlap_tokens"}, "chunking_strategy.static")
    max_tokens = _integer(static, "max_chunk_size_tokens", MIN_CHUNK_TOKENS, MAX_CHUNK_TOKENS)
    overlap_tokens = _integer(static, "chunk_overlap_tokens", 0, None)
    if 2 * overlap_tokens > max_tokens:
        raise ChunkingStrategyError(
            "Invalid 'chunking_strategy.static.chunk_overlap_tokens': must not exceed half of "
            f"max_chunk_size_tokens ({max_tokens // 2}), but got {overlap_tokens} instead.",
            param="chunking_strategy.static.chunk_overlap_tokens",
        )
    return max_tokens, overlap_tokens


def _object(value: Any, param: str) -> dict:
    if not isinstance(value, dict):
        raise _wrong_type(param, "an object", value)
    return value


def _required(container: dict, key: str, parent: str) -> Any:
    if key not in container:
        raise ChunkingStrategyError(f"Missing required parameter: '{parent}.{key}'.", param=f"{parent}.{key}")
    return container[key]


def _refuse_unknown(container: dict, known: set[str], parent: str) -> None:
    for key in container:
        if key not in known:
            raise ChunkingStrategyError(f"Unknown parameter: '{parent}.{key}'.", param=f"{parent}.{key}")


def _integer(static: dict, key: str, minimum: int, maximum: int | None) -> int:
    param = f"chunking_strategy.static.{key}"
    value = _required(static, key, "chunking_strategy.static")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong_type(param, "an integer", value)
    if value < minimum:
        raise ChunkingStrategyError(
            f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, but got {value} instead.",
            param=param,
        )
    if maximum is not None and value > maximum:
        raise ChunkingStrategyError(
            f"Invalid '{param}': integer above maximum value. Expected a value <= {maximum}, but got {value} instead.",
            param=param,
        )
    return value


def _wrong_type(param: str, expected: str, value: Any) -> ChunkingStrategyError:
    return ChunkingStrategyError(
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.", param=param
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "an unsupported value"
