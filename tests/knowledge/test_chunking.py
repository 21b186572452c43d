"""Chunking: sizes within the maximum, overlap of about the asked tokens, no text lost, breaks at
paragraphs and sentences, never across pages; and the API's chunking_strategy validated exactly."""

from __future__ import annotations

import itertools
import random

import pytest

from common.tokens import estimate_tokens
from knowledge.chunking import (
    AUTO_MAX_TOKENS,
    AUTO_OVERLAP_TOKENS,
    Chunk,
    ChunkingStrategyError,
    chunk,
    parse_chunking_strategy,
)
from knowledge.sections import Section

WORDS = ["the", "parcel", "ships", "within", "two", "days", "and", "returns", "are", "free", "for", "thirty", "days"]


def prose(paragraphs: int, seed: int = 7) -> str:
    """Paragraphs of one to six sentences of five to twenty-five words."""
    rng = random.Random(seed)
    return "\n\n".join(
        " ".join(
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 25))).capitalize() + "."
            for _ in range(rng.randint(1, 6))
        )
        for _ in range(paragraphs)
    )


def placed(text: str, chunks: list[Chunk]) -> list[tuple[int, int]]:
    """Where each chunk lies in `text`, asserting that they come in order and that nothing but
    whitespace falls between or around them."""
    spans, covered, search_from = [], 0, 0
    for piece in chunks:
        start = text.find(piece.text, search_from)
        assert start != -1, f"chunk {piece.index} is not in the text"
        assert not text[covered:start].strip(), f"text lost before chunk {piece.index}"
        spans.append((start, start + len(piece.text)))
        covered, search_from = max(covered, start + len(piece.text)), start + 1
    assert not text[covered:].strip(), "text lost at the end"
    return spans


# Sizes, overlap, no lost text.
@pytest.mark.parametrize(("max_tokens", "overlap_tokens"), [(800, 400), (100, 0), (100, 50), (4096, 2048), (333, 100)])
def test_chunks_stay_within_the_maximum_and_lose_no_text(max_tokens, overlap_tokens):
    text = prose(300)
    chunks = chunk([Section(text)], max_tokens=max_tokens, overlap_tokens=overlap_tokens)
    assert all(0 < piece.tokens <= max_tokens for piece in chunks)
    assert all(piece.tokens == estimate_tokens(piece.text) for piece in chunks)
    assert [piece.index for piece in chunks] == list(range(len(chunks)))
    placed(text, chunks)


def test_auto_chunks_are_close_to_800_tokens_and_overlap_by_about_400():
    text = prose(300)
    chunks = chunk([Section(text)], max_tokens=AUTO_MAX_TOKENS, overlap_tokens=AUTO_OVERLAP_TOKENS)
    spans = placed(text, chunks)
    assert all(piece.tokens >= 400 for piece in chunks[:-1])  # breaks are sought in a chunk's second half
    for (_, previous_end), (start, _) in itertools.pairwise(spans):
        shared = estimate_tokens(text[start:previous_end])
        assert 250 <= shared <= 400


def test_without_overlap_the_chunks_partition_the_text():
    text = prose(100)
    chunks = chunk([Section(text)], max_tokens=200, overlap_tokens=0)
    assert " ".join(piece.text for piece in chunks).split() == text.split()


def test_overlapping_chunks_start_at_a_word():
    text = prose(50)
    chunks = chunk([Section(text)], max_tokens=150, overlap_tokens=75)
    for start, _ in placed(text, chunks):
        assert start == 0 or text[start - 1].isspace()


# Where chunks break.
def test_chunks_end_at_paragraph_breaks_when_there_are_some():
    paragraphs = [f"Paragraph {n}. " + " ".join(["word"] * 60) + "." for n in range(30)]
    text = "\n\n".join(paragraphs)
    chunks = chunk([Section(text)], max_tokens=200, overlap_tokens=0)
    assert len(chunks) > 5
    assert all(piece.text.endswith("word.") for piece in chunks)
    assert all(piece.text.startswith("Paragraph") for piece in chunks)


def test_chunks_end_at_sentences_when_there_are_no_paragraphs():
    text = " ".join(f"Sentence number {n} has a few more words in it." for n in range(200))
    chunks = chunk([Section(text)], max_tokens=100, overlap_tokens=0)
    assert all(piece.text.endswith("in it.") for piece in chunks)


def test_a_word_longer_than_a_chunk_is_cut_not_lost():
    text = "Before " + "x" * 1000 + " after"
    chunks = chunk([Section(text)], max_tokens=100, overlap_tokens=20)
    assert [piece.tokens for piece in chunks] == [100, 100, 54]
    # An overlap starts at a word, and there is none inside the long one: the pieces just abut.
    assert "".join(piece.text for piece in chunks) == text


def test_text_without_spaces_is_cut_by_characters():
    text = "返品は三十日以内に無料です。" * 200
    chunks = chunk([Section(text)], max_tokens=100, overlap_tokens=0)
    assert "".join(piece.text for piece in chunks) == text
    assert all(len(piece.text) <= 400 for piece in chunks)


# Sections: pages and headings.
def test_a_chunk_never_spans_two_pages():
    pages = [Section(prose(8, seed=page), page=page) for page in (1, 2, 3)]
    chunks = chunk(pages, max_tokens=300, overlap_tokens=100)
    for page in pages:
        own = [piece for piece in chunks if piece.page == page.page]
        assert own, f"page {page.page} has no chunk"
        placed(page.text, own)
    assert [piece.page for piece in chunks] == sorted(piece.page for piece in chunks)
    assert [piece.index for piece in chunks] == list(range(len(chunks)))


def test_a_short_section_is_its_own_chunk_with_its_heading():
    sections = [
        Section("Returns\n\nWithin 30 days.", heading="Returns"),
        Section("Shipping\n\nTwo days.", heading="Shipping"),
    ]
    assert chunk(sections, max_tokens=800, overlap_tokens=400) == [
        Chunk(index=0, text="Returns\n\nWithin 30 days.", tokens=6, page=None, heading="Returns"),
        Chunk(index=1, text="Shipping\n\nTwo days.", tokens=5, page=None, heading="Shipping"),
    ]


def test_empty_sections_make_no_chunks():
    assert chunk([Section(""), Section("  \n\n ")], max_tokens=100, overlap_tokens=0) == []


@pytest.mark.parametrize(("max_tokens", "overlap_tokens"), [(0, 0), (100, -1), (100, 51)])
def test_chunk_refuses_impossible_sizes(max_tokens, overlap_tokens):
    with pytest.raises(ValueError):
        chunk([Section("text")], max_tokens=max_tokens, overlap_tokens=overlap_tokens)


# The API's chunking_strategy.
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (800, 400)),
        ({"type": "auto"}, (800, 400)),
        ({"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}, (100, 0)),
        ({"type": "static", "static": {"max_chunk_size_tokens": 4096, "chunk_overlap_tokens": 2048}}, (4096, 2048)),
        ({"type": "static", "static": {"max_chunk_size_tokens": 101, "chunk_overlap_tokens": 50}}, (101, 50)),
    ],
)
def test_valid_chunking_strategies(value, expected):
    assert parse_chunking_strategy(value) == expected


def static(**values):
    return {"type": "static", "static": values}


@pytest.mark.parametrize(
    ("value", "param", "message"),
    [
        ("auto", "chunking_strategy", "Invalid type for 'chunking_strategy': expected an object, but got a string"),
        ([], "chunking_strategy", "expected an object, but got an array instead."),
        ({}, "chunking_strategy.type", "Missing required parameter: 'chunking_strategy.type'."),
        ({"type": 1}, "chunking_strategy.type", "expected a string, but got an integer instead."),
        (
            {"type": "fancy"},
            "chunking_strategy.type",
            "Invalid value: 'fancy'. Supported values are: 'auto' and 'static'.",
        ),
        ({"type": "auto", "static": {}}, "chunking_strategy.static", "Unknown parameter: 'chunking_strategy.static'."),
        ({"type": "static"}, "chunking_strategy.static", "Missing required parameter: 'chunking_strategy.static'."),
        ({"type": "static", "static": None}, "chunking_strategy.static", "expected an object, but got null instead."),
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}, "x": 1},
            "chunking_strategy.x",
            "Unknown parameter: 'chunking_strategy.x'.",
        ),
        (
            static(chunk_overlap_tokens=0),
            "chunking_strategy.static.max_chunk_size_tokens",
            "Missing required parameter: 'chunking_strategy.static.max_chunk_size_tokens'.",
        ),
        (
            static(max_chunk_size_tokens=800),
            "chunking_strategy.static.chunk_overlap_tokens",
            "Missing required parameter: 'chunking_strategy.static.chunk_overlap_tokens'.",
        ),
        (
            static(max_chunk_size_tokens="800", chunk_overlap_tokens=0),
            "chunking_strategy.static.max_chunk_size_tokens",
            "Invalid type for 'chunking_strategy.static.max_chunk_size_tokens': expected an integer, but got a string",
        ),
        (
            static(max_chunk_size_tokens=800.0, chunk_overlap_tokens=0),
            "chunking_strategy.static.max_chunk_size_tokens",
            "expected an integer, but got a decimal number instead.",
        ),
        (
            static(max_chunk_size_tokens=800, chunk_overlap_tokens=True),
            "chunking_strategy.static.chunk_overlap_tokens",
            "expected an integer, but got a boolean instead.",
        ),
        (
            static(max_chunk_size_tokens=99, chunk_overlap_tokens=0),
            "chunking_strategy.static.max_chunk_size_tokens",
            "Invalid 'chunking_strategy.static.max_chunk_size_tokens': integer below minimum value. "
            "Expected a value >= 100, but got 99 instead.",
        ),
        (
            static(max_chunk_size_tokens=4097, chunk_overlap_tokens=0),
            "chunking_strategy.static.max_chunk_size_tokens",
            "integer above maximum value. Expected a value <= 4096, but got 4097 instead.",
        ),
        (
            static(max_chunk_size_tokens=800, chunk_overlap_tokens=-1),
            "chunking_strategy.static.chunk_overlap_tokens",
            "integer below minimum value. Expected a value >= 0, but got -1 instead.",
        ),
        (
            static(max_chunk_size_tokens=800, chunk_overlap_tokens=401),
            "chunking_strategy.static.chunk_overlap_tokens",
            "must not exceed half of max_chunk_size_tokens (400), but got 401 instead.",
        ),
        (
            static(max_chunk_size_tokens=800, chunk_overlap_tokens=0, size=1),
            "chunking_strategy.static.size",
            "Unknown parameter: 'chunking_strategy.static.size'.",
        ),
    ],
)
def test_invalid_chunking_strategies_name_the_param(value, param, message):
    with pytest.raises(ValueError) as caught:
        parse_chunking_strategy(value)
    error = caught.value
    assert isinstance(error, ChunkingStrategyError)
    assert error.param == param
    assert (error.code, error.http_status) == ("invalid_request", 400)
    assert message in str(error)
