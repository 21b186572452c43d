"""Hybrid search on a small store, through the embedded default (the offline model's embeddings, the
real all-MiniLM-L6-v2): the section that answers ranks first, in the article's words or in others,
filters narrow, a question the store does not cover scores below the default threshold, and a score
is a cosine similarity between 0 and 1.

The figures behind the default threshold are in docs/benchmarks.md ("Knowledge: retrieval quality").
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.files.base import ContentFile

from knowledge import search as search_module
from knowledge import services
from knowledge.models import VectorStoreFile
from knowledge.search import rewrite, search

pytestmark = pytest.mark.django_db(transaction=True)  # ingestion runs after commit (RUN_DISPATCH inline)

ARTICLES = {
    "returns.md": (
        "# Returns\n\n"
        "## Return window\nYou can return most items within 30 days of delivery.\n\n"
        "## Refunds\nWe refund the price to your original payment method within 5 business days.\n"
    ),
    "shipping.md": (
        "# Shipping\n\n"
        "## Where we ship\nWe ship to every state of the United States and to Canada.\n\n"
        "## Delivery times\nStandard delivery takes 3 to 5 business days.\n"
    ),
    "care.md": (
        "# Product care\n\n"
        "## Cast iron\nClean the pan with hot water and a brush while it is warm; never soak it.\n\n"
        "## Linen\nWash linen at 40 degrees on a gentle cycle and line dry it.\n"
    ),
}


@pytest.fixture
def store():
    files = [
        services.file_create(owner=None, upload=ContentFile(text.encode(), name=name), purpose="assistants")
        for name, text in ARTICLES.items()
    ]
    store = services.vector_store_create(owner=None, name="help", files=files)
    assert set(store.store_files.values_list("status", flat=True)) == {VectorStoreFile.Status.COMPLETED}
    return store


def ask(store, question: str, **options):
    return search([store], [rewrite(question)], **options)


def test_the_section_that_answers_ranks_first_for_a_reworded_question(store):
    found = ask(store, "How many days do I have for returning an item?")

    assert (found[0].chunk.store_file.file.filename, found[0].chunk.heading) == ("returns.md", "Return window")


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("How do I get my money back?", ("returns.md", "Refunds")),
        ("My skillet has turned orange and flaky", ("care.md", "Cast iron")),
        ("How fast will my parcel arrive?", ("shipping.md", "Delivery times")),
    ],
)
def test_a_question_sharing_no_word_with_its_answer_finds_it_first_above_the_threshold(store, question, section):
    found = ask(store, question, score_threshold=settings.KNOWLEDGE_SCORE_THRESHOLD)

    assert (found[0].chunk.store_file.file.filename, found[0].chunk.heading) == section


def test_a_filter_narrows_the_search_to_the_allowed_files(store):
    shipping = store.store_files.get(file__filename="shipping.md")

    found = ask(store, "How many days do I have for returning an item?", allowed_files=[shipping.pk])

    assert found
    assert {hit.chunk.store_file.file.filename for hit in found} == {"shipping.md"}


def test_an_empty_filter_finds_nothing(store):
    assert ask(store, "Do you ship to Canada?", allowed_files=[]) == []


def test_a_covered_question_scores_above_the_default_threshold(store):
    found = ask(store, "Which countries do you ship to?", score_threshold=settings.KNOWLEDGE_SCORE_THRESHOLD)

    assert found[0].chunk.heading == "Where we ship"


def test_an_unrelated_question_finds_nothing_above_the_default_threshold(store):
    for question in ("Are you hiring? How do I apply for a job?", "Who won the football match last night?"):
        assert ask(store, question, score_threshold=settings.KNOWLEDGE_SCORE_THRESHOLD) == [], question


def test_a_score_is_a_cosine_between_zero_and_one_and_the_threshold_compares_it(store):
    everything = ask(store, "How do I wash my linen tablecloth?", max_num_results=100)

    assert len(everything) == 6  # every chunk shares a word or a vector direction with the question
    assert all(0.0 <= hit.score <= 1.0 for hit in everything)
    cut = sorted(hit.score for hit in everything)[3]
    kept = ask(store, "How do I wash my linen tablecloth?", max_num_results=100, score_threshold=cut)
    assert [hit.chunk.pk for hit in kept] == [hit.chunk.pk for hit in everything if hit.score >= cut]


def test_words_alone_find_only_passages_that_share_a_word(store, monkeypatch):
    monkeypatch.setattr(search_module, "RANKINGS", {"lexical": 1.0})

    found = ask(store, "Can I get a refund?", max_num_results=100)

    assert [(hit.chunk.store_file.file.filename, hit.chunk.heading) for hit in found] == [("returns.md", "Refunds")]
