"""The pgvector path: on a PostgreSQL with the extension, chunks' embeddings are mirrored into a
vector column with an HNSW index, and dense search goes through it.

These need such a server (`.ci/pgvector` starts one; CI runs them there with PGVECTOR_REQUIRED=1,
which turns the skip into a failure). Elsewhere (SQLite, PostgreSQL without pgvector) they skip:
that path is the exact scoring the rest of tests/knowledge covers.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.db import connection

from knowledge import indexes, services
from knowledge.models import Chunk, VectorStoreFile
from knowledge.search import _dense_pgvector, search
from runtime.llm.client import embed

pytestmark = [pytest.mark.pgvector, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def needs_pgvector():
    indexes.forget_pgvector()
    if not indexes.has_pgvector(connection):
        message = f"no pgvector on this database ({connection.vendor}); .ci/pgvector starts a server with it"
        if os.environ.get("PGVECTOR_REQUIRED"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def store():
    articles = {
        "shipping.md": "# Shipping\n\n## Where we ship\nWe ship to the United States and to Canada.",
        "returns.md": "# Returns\n\n## Return window\nYou can return most items within 30 days of delivery.",
        "warranty.md": "# Warranty\n\n## Coverage\nEvery product has a one-year warranty against defects.",
    }
    files = [
        services.file_create(owner=None, upload=ContentFile(text.encode(), name=name), purpose="assistants")
        for name, text in articles.items()
    ]
    return services.vector_store_create(owner=None, name="help", files=files)


def test_ingested_chunks_carry_their_vector_in_the_indexed_column(store):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), count({indexes.PG_VECTOR_COLUMN}) FROM knowledge_chunk WHERE vector_store_id = %s",
            [store.pk],
        )
        total, with_vector = cursor.fetchone()
    assert total >= 3 and with_vector == total


def test_dense_search_goes_through_the_hnsw_index(store):
    vector = embed(["Do you ship to Canada?"])[0]
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a three-row table: make the planner show it can
        cursor.execute(
            f"EXPLAIN SELECT id FROM knowledge_chunk ORDER BY {indexes.PG_VECTOR_COLUMN} <=> %s::vector LIMIT 5",
            ["[" + ",".join(str(x) for x in vector) + "]"],
        )
        plan = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
    assert indexes.PG_VECTOR_INDEX in plan

    found = _dense_pgvector([store.pk], np.asarray(vector, dtype=np.float32), None)
    assert found, "the index path found nothing"


def test_hybrid_search_on_pgvector_finds_the_right_passage(store):
    [best, *_] = search([store], ["Do you ship to Canada?"], max_num_results=3)

    assert best.chunk.store_file.file.filename == "shipping.md"
    assert 0 < best.score <= 1


def test_a_small_store_among_many_nearer_chunks_still_gets_its_own(store):
    """The index scan filters by store after it walks the graph: with the HNSW settings of
    indexes.tune_hnsw it goes on past the other store's nearer chunks until this store's are found."""
    vector = np.asarray(embed(["Do you ship to Canada?"])[0], dtype=np.float32)
    other = services.vector_store_create(owner=None, name="another shop's")
    file = services.file_create(owner=None, upload=ContentFile(b"filler", name="filler.txt"), purpose="assistants")
    store_file = VectorStoreFile.objects.create(vector_store=other, file=file, status=VectorStoreFile.Status.COMPLETED)
    noise = np.random.default_rng(16).normal(scale=0.01, size=(300, len(vector))).astype(np.float32)
    nearer = [(v / np.linalg.norm(v)) for v in vector + noise]  # every one nearer the query than any of `store`'s
    rows = Chunk.objects.bulk_create(
        Chunk(store_file=store_file, vector_store=other, index=i, text=f"filler {i}", tokens=2, embedding=v.tobytes())
        for i, v in enumerate(nearer)
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE knowledge_chunk SET {indexes.PG_VECTOR_COLUMN} = %s::vector WHERE id = %s",
            [
                ("[" + ",".join(f"{x:.7g}" for x in v.tolist()) + "]", row.pk)
                for v, row in zip(nearer, rows, strict=True)
            ],
        )

    with connection.cursor() as cursor:  # a table this small: make the planner take the index, as at scale
        cursor.execute("SET enable_seqscan = off; SET enable_sort = off")
    try:
        found = _dense_pgvector([store.pk], vector, None)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET enable_seqscan; RESET enable_sort")

    assert {pk for pk, _ in found} == set(Chunk.objects.filter(vector_store=store).values_list("pk", flat=True))
    assert [score for _, score in found] == sorted((score for _, score in found), reverse=True)
