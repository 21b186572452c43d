"""The word ranking on a store where some words are common: a word in more than COMMON chunks is left
to the dense ranking when the query has rarer words, and when every word is common the chunks with
all of them come first. Run on both databases' full-text search (SQLite FTS5, PostgreSQL tsvector).
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from knowledge import indexes, services
from knowledge import search as search_module
from knowledge.search import search

pytestmark = pytest.mark.django_db(transaction=True)  # ingestion runs after commit (RUN_DISPATCH inline)

TEXTS = {
    "window.txt": "You may return an item within 30 days of delivery.",
    "label.txt": "Print the return label at home and drop the parcel off.",
    "shipping.txt": "Return shipping is free for orders over 50 dollars.",
    "warranty.txt": "Every appliance carries a warranty of two years.",
}


@pytest.fixture
def store():
    files = [
        services.file_create(owner=None, upload=ContentFile(text.encode(), name=name), purpose="assistants")
        for name, text in TEXTS.items()
    ]
    return services.vector_store_create(owner=None, name="help", files=files)


@pytest.fixture
def words_only(monkeypatch):
    monkeypatch.setattr(search_module, "RANKINGS", {"lexical": 1.0})
    monkeypatch.setattr(search_module, "COMMON", 2)  # "return" (in three chunks) is common here


def found(store, query: str) -> list[str]:
    return [result.chunk.store_file.file.filename for result in search([store], [query])]


def test_a_common_word_is_left_out_when_the_query_has_a_rarer_one(store, words_only):
    assert found(store, "return warranty") == ["warranty.txt"]
    assert found(store, "return label") == ["label.txt"]


def test_when_every_word_is_common_the_chunks_with_all_of_them_come_first(store, words_only, monkeypatch):
    monkeypatch.setattr(search_module, "COMMON", 0)

    ranked = found(store, "return shipping")

    assert ranked[0] == "shipping.txt"
    assert set(ranked) == {"shipping.txt", "window.txt", "label.txt"}


def test_below_the_common_mark_any_word_finds_its_chunks(store, words_only, monkeypatch):
    monkeypatch.setattr(search_module, "COMMON", 100)

    assert set(found(store, "return warranty")) == set(TEXTS)


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's plan for FTS5; PostgreSQL ranks its GIN-indexed column"
)
def test_on_sqlite_the_full_text_match_drives_the_ranking_not_each_chunk_of_the_store(store, words_only):
    # Left to the planner, SQLite walked the store's chunks and ran the match once per chunk: 3 s a
    # query at 10k chunks (bench/search.py). The match must be the outer loop.
    with CaptureQueriesContext(connection) as captured:
        found(store, "warranty")
    ranking = next(q["sql"] for q in captured.captured_queries if "bm25(" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + ranking)
        steps = [row[-1] for row in cursor.fetchall() if row[-1].startswith(("SCAN", "SEARCH"))]
    assert steps[0].startswith(f"SCAN {indexes.FTS_TABLE} VIRTUAL TABLE")
    assert steps[1].startswith("SEARCH c USING INTEGER PRIMARY KEY")
