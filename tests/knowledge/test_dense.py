"""Dense ranking in process (no pgvector): every chunk scored up to EXACT_UP_TO, and above it a
prefilter by the embeddings' signs, then exact scores for the RESCORED chunks it keeps. The
prefilter's recall at 30k and 100k chunks is measured by bench/search.py (docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile

from knowledge import search as search_module
from knowledge import services
from knowledge.models import Chunk, VectorStoreFile
from runtime.llm.client import embed

pytestmark = pytest.mark.django_db(transaction=True)  # ingestion runs after commit (RUN_DISPATCH inline)

TEXTS = {
    "shipping.txt": "We ship to every state of the United States and to Canada.",
    "returns.txt": "You can return most items within 30 days of delivery.",
    "warranty.txt": "Every appliance carries a warranty of two years.",
    "care.txt": "Wash linen at 40 degrees on a gentle cycle and line dry it.",
}


@pytest.fixture
def store(monkeypatch):
    monkeypatch.setattr(search_module.indexes, "has_pgvector", lambda connection: False)
    files = [
        services.file_create(owner=None, upload=ContentFile(text.encode(), name=name), purpose="assistants")
        for name, text in TEXTS.items()
    ]
    return services.vector_store_create(owner=None, name="help", files=files)


def query_vector(text: str) -> np.ndarray:
    return np.asarray(embed([text])[0], dtype=np.float32)


def exact(store, vector) -> list[tuple[int, float]]:
    chunks = Chunk.objects.filter(vector_store=store)
    scored = [(c.pk, float(np.frombuffer(c.embedding, dtype=np.float32) @ vector)) for c in chunks]
    return sorted(scored, key=lambda pair: -pair[1])


def test_below_the_mark_every_chunk_is_scored_exactly(store):
    vector = query_vector("Do you deliver to Canada?")

    found = search_module._dense([store], vector, None)

    assert [pk for pk, _ in found] == [pk for pk, _ in exact(store, vector)]
    assert [score for _, score in found] == pytest.approx([score for _, score in exact(store, vector)], abs=1e-5)


def test_above_the_mark_the_sign_prefilter_keeps_what_it_rescored_exactly(store, monkeypatch):
    monkeypatch.setattr(search_module, "EXACT_UP_TO", 0)
    vector = query_vector("Do you deliver to Canada?")

    monkeypatch.setattr(search_module, "RESCORED", len(TEXTS))  # keeps all: the same as exact
    assert [pk for pk, _ in search_module._dense([store], vector, None)] == [pk for pk, _ in exact(store, vector)]

    monkeypatch.setattr(search_module, "RESCORED", 2)  # keeps the two nearest by sign, scored exactly
    kept = search_module._dense([store], vector, None)
    assert len(kept) == 2
    scores = dict(exact(store, vector))
    assert all(score == pytest.approx(scores[pk], abs=1e-5) for pk, score in kept)


def test_the_prefilter_respects_the_allowed_files(store, monkeypatch):
    monkeypatch.setattr(search_module, "EXACT_UP_TO", 0)
    monkeypatch.setattr(search_module, "RESCORED", 1)
    warranty = VectorStoreFile.objects.get(vector_store=store, file__filename="warranty.txt")

    found = search_module._dense([store], query_vector("Do you deliver to Canada?"), {warranty.pk})

    assert [Chunk.objects.get(pk=pk).store_file_id for pk, _ in found] == [warranty.pk]
