"""Hybrid search over a store's chunks: the database's full-text ranking and embedding similarity,
fused with reciprocal rank fusion.

- Lexical: PostgreSQL's stored tsvector with its GIN index (ts_rank_cd) or SQLite's FTS5 (bm25),
  any query word matching; words common to thousands of chunks left to the dense ranking (COMMON).
- Dense: cosine similarity to the query's embedding (runtime.llm.client.embed): pgvector's HNSW
  index where the extension exists, else scored here, over an in-process copy of the store's
  embeddings kept until the store's `version` moves (every chunk up to EXACT_UP_TO; above, those
  nearest by the embeddings' signs first).
- Fused: each ranking gives a chunk its weight (RANKINGS) / (60 + rank); the order is by the sum.
- Scored: a result reports its cosine similarity (0 to 1, `relevance`), which `score_threshold`
  compares: a fused rank says which passage is best, not whether any answers at all. What the
  choices give on a labelled question set, and why the default threshold
  (KNOWLEDGE_SCORE_THRESHOLD) is what it is: docs/benchmarks.md, "Knowledge: retrieval quality".
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection

from knowledge import indexes
from knowledge.models import Chunk, VectorStore, VectorStoreFile
from runtime.llm.client import embed

RRF_K = 60
CANDIDATES = 50  # per ranking, per query
WORD = re.compile(r"\w+", re.UNICODE)
# Words that carry no meaning for a search ("What is your return policy?" → "return policy").
_FILLER_WORDS = (
    "a an and are as at be but by can could did do does for from had has have how i if in is it its "
    "me my of on or our please should so tell than that the their them then there these they this to "
    "us was we were what when where which who why will with would you your"
)
FILLER = frozenset(_FILLER_WORDS.split())
# The rankings fused, with their weights, measured by bench/search_quality.py with the offline
# model's all-MiniLM-L6-v2 (docs/benchmarks.md, "Knowledge: retrieval quality"). On paraphrased
# questions the dense ranking alone is best (64% first, 53% with lexical at 0.25, 48% at 1); on
# questions that name a word of one article, lexical is (85% first, 78% at 0.25, 44% dense alone).
# A quarter weight keeps most of both.
RANKINGS: dict[str, float] = {"dense": 1.0, "lexical": 0.25}


@dataclass
class Result:
    chunk: Chunk
    score: float  # cosine similarity of the query and the chunk, 0 to 1 (`relevance`)


def rewrite(query: str) -> str:
    """The words of a question that a search can use."""
    words = [w for w in WORD.findall(query.lower()) if w not in FILLER]
    return " ".join(words) or query.strip()


def search(
    stores: list[VectorStore],
    queries: list[str],
    *,
    max_num_results: int = 10,
    score_threshold: float = 0.0,
    allowed_files: Iterable[int] | None = None,
) -> list[Result]:
    """The best chunks of `stores` for `queries`, best first, those scoring below `score_threshold`
    left out; `allowed_files` (store file ids) narrows the search (attribute filters)."""
    store_ids = [store.pk for store in stores]
    allowed = None if allowed_files is None else set(allowed_files)
    if not store_ids or allowed == set():
        return []
    queries = [q for q in queries if q.strip()]
    vectors = np.asarray(embed(queries), dtype=np.float32) if queries else np.zeros((0, 1), np.float32)
    if vectors.ndim != 2:  # an embedder that made no vectors: words only, and no cosine to score with
        vectors = np.zeros((len(queries), 0), np.float32)
    fused: dict[int, float] = {}
    similarity: dict[int, float] = {}
    for query, vector in zip(queries, vectors, strict=True):
        rankings = {}
        if RANKINGS.get("lexical"):
            rankings["lexical"] = _lexical(store_ids, query, allowed)
        if RANKINGS.get("dense") and len(vector):
            dense = _dense(stores, vector, allowed)
            rankings["dense"] = [chunk_id for chunk_id, _ in dense]
            for chunk_id, cosine in dense:
                similarity[chunk_id] = max(similarity.get(chunk_id, -1.0), cosine)
        for name, ranking in rankings.items():
            for rank, chunk_id in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + RANKINGS[name] / (RRF_K + rank + 1)
    if not fused:
        return []
    missing = [chunk_id for chunk_id in fused if chunk_id not in similarity]
    if missing and vectors.shape[1]:  # found by words only: scored too, so the threshold means the same for all
        similarity.update(_similarities(stores, missing, vectors))
    order = sorted(fused, key=lambda chunk_id: (-fused[chunk_id], chunk_id))
    best_fusion = len(queries) * sum(RANKINGS.values()) / (RRF_K + 1)  # first in every ranking, every query
    scores = {}
    for chunk_id in order:
        score = relevance(cosine=similarity.get(chunk_id, 0.0), fusion=min(fused[chunk_id] / best_fusion, 1.0))
        scores[chunk_id] = round(min(max(score, 0.0), 1.0), 4)
    chosen = [chunk_id for chunk_id in order if scores[chunk_id] >= score_threshold][:max_num_results]
    chunks = Chunk.objects.select_related("store_file__file").in_bulk(chosen)
    return [Result(chunks[c], scores[c]) for c in chosen if c in chunks]


def relevance(*, cosine: float, fusion: float) -> float:
    """A result's score, 0 to 1: the cosine similarity of its embedding to the query's (0 without
    embeddings). `fusion` is its fused rank (1 for first in every ranking, every query).

    Measured against other rules (bench/search_quality.py puts each in this function's place): the
    fused rank says which passage is best, not whether any answers, and adding the share of the
    question's words a passage contains told covered questions from uncovered ones no better than
    the cosine alone, with either embedder (docs/benchmarks.md, "Knowledge: retrieval quality")."""
    return cosine


# --- Lexical -------------------------------------------------------------------------------------


# A word in more than COMMON chunks (of all stores) tells little about any one of them and costs the
# ranking a score for each: a query keeps its rarer words (any of them), or, when every word is that
# common, asks for chunks with all of them first. No ranking scores more than RANKED chunks; when a
# query matches more, which of them are scored is the database's choice. bench/search.py measures it.
COMMON = 2_000
RANKED = 5_000


def _lexical(store_ids: list[int], query: str, allowed: set[int] | None) -> list[int]:
    words = list(dict.fromkeys(WORD.findall(query.lower())))
    if connection.vendor not in ("postgresql", "sqlite") or not words:
        return []
    with connection.cursor() as cursor:
        if len(words) == 1:
            return _ranked(cursor, store_ids, allowed, words, every=False)
        counts = {word: _matches(cursor, word) for word in words}
        present = [word for word in words if counts[word]]
        rare = [word for word in present if counts[word] <= COMMON]
        if rare or not present:
            return _ranked(cursor, store_ids, allowed, rare, every=False)
        found = _ranked(cursor, store_ids, allowed, present, every=True)
        if len(found) < CANDIDATES:
            seen = set(found)
            found += [i for i in _ranked(cursor, store_ids, allowed, present, every=False) if i not in seen]
        return found[:CANDIDATES]


def _matches(cursor, word: str) -> int:
    """How many chunks of all stores hold `word`, counted up to COMMON + 1."""
    if connection.vendor == "postgresql":
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM knowledge_chunk WHERE {indexes.PG_TEXT_COLUMN} @@ "
            f"websearch_to_tsquery(%(config)s::regconfig, %(word)s) LIMIT %(cap)s) found",
            {"config": settings.KNOWLEDGE_TEXT_SEARCH_CONFIG, "word": word, "cap": COMMON + 1},
        )
    else:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT rowid FROM {indexes.FTS_TABLE} WHERE {indexes.FTS_TABLE} MATCH %(word)s "
            f"LIMIT %(cap)s)",
            {"word": _fts_phrase(word), "cap": COMMON + 1},
        )
    return cursor.fetchone()[0]


def _ranked(cursor, store_ids: list[int], allowed: set[int] | None, words: list[str], *, every: bool) -> list[int]:
    """The chunks holding any (or `every`) of `words`, best first by the database's text ranking."""
    if not words:
        return []
    narrowing, params = _narrowing("c", store_ids, allowed)
    params.update(limit=CANDIDATES, ranked=RANKED)
    if connection.vendor == "postgresql":
        # Each word as websearch_to_tsquery stems it (a stop word adds nothing), joined by | or &.
        join = " && " if every else " || "
        terms = join.join(f"websearch_to_tsquery(%(config)s::regconfig, %(word_{i})s)" for i in range(len(words)))
        params.update({f"word_{i}": word for i, word in enumerate(words)}, config=settings.KNOWLEDGE_TEXT_SEARCH_CONFIG)
        column = indexes.PG_TEXT_COLUMN
        sql = (
            f"WITH query AS (SELECT {terms} AS q) "
            f"SELECT found.id FROM query, (SELECT c.id, c.{column} AS v FROM knowledge_chunk c, query "
            f"WHERE {narrowing} AND c.{column} @@ query.q LIMIT %(ranked)s) found "
            f"ORDER BY ts_rank_cd(found.v, query.q) DESC, found.id LIMIT %(limit)s"
        )
    else:
        fts = indexes.FTS_TABLE
        params["match"] = (" AND " if every else " OR ").join(_fts_phrase(word) for word in words)
        # CROSS JOIN keeps the full-text match the outer loop: left to SQLite's planner, it walked the
        # store's chunks and ran the match once for each (3 s at 10k chunks; 4–70 ms this way).
        sql = (
            f"SELECT id FROM (SELECT c.id AS id, bm25({fts}) AS score FROM {fts} CROSS JOIN knowledge_chunk c "
            f"ON c.id = {fts}.rowid WHERE {fts} MATCH %(match)s AND {narrowing} LIMIT %(ranked)s) "
            f"ORDER BY score, id LIMIT %(limit)s"
        )
    cursor.execute(sql, params)
    return [row[0] for row in cursor.fetchall()]


def _fts_phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _narrowing(alias: str, store_ids: list[int], allowed: set[int] | None) -> tuple[str, dict]:
    """A WHERE condition on the stores (and the allowed files), with its named parameters."""
    params = {f"store_{i}": pk for i, pk in enumerate(store_ids)}
    condition = f"{alias}.vector_store_id IN ({', '.join(f'%({name})s' for name in params)})"
    if allowed is not None:
        files = {f"file_{i}": pk for i, pk in enumerate(sorted(allowed))}
        condition += f" AND {alias}.store_file_id IN ({', '.join(f'%({name})s' for name in files)})"
        params.update(files)
    return condition, params


# --- Dense ----------------------------------------------------------------------------------------

# Without pgvector, a store's embeddings are scored in process. Up to EXACT_UP_TO chunks every one is
# scored; above, the signs of the embeddings (one bit a dimension, 48 bytes a chunk at 384) pick
# RESCORED chunks by Hamming distance first, and only those are scored exactly: reading 150 MB of
# floats a query at 100k chunks costs more than the whole search may (bench/search.py measures the
# recall this keeps against scoring every chunk).
EXACT_UP_TO = 20_000
RESCORED = 1_000


def _dense(stores: list[VectorStore], vector: np.ndarray, allowed: set[int] | None) -> list[tuple[int, float]]:
    if indexes.has_pgvector(connection) and len(vector) == settings.EMBEDDING_DIMENSIONS:
        return _dense_pgvector([s.pk for s in stores], vector, allowed)
    found: list[tuple[int, float]] = []
    for store in stores:
        held = _store_vectors(store)
        if not len(held.ids) or held.matrix.shape[1] != len(vector):
            continue
        rows = np.arange(len(held.ids)) if allowed is None else np.flatnonzero(np.isin(held.files, list(allowed)))
        if len(rows) > max(EXACT_UP_TO, RESCORED):
            distances = np.bitwise_count(held.bits[rows] ^ _sign_bits(vector[None, :])).sum(axis=1, dtype=np.int32)
            rows = rows[np.argpartition(distances, RESCORED - 1)[:RESCORED]]
        if not len(rows):
            continue
        scores = held.matrix[rows] @ vector
        top = np.argpartition(-scores, min(CANDIDATES, len(scores)) - 1)[:CANDIDATES]
        found += [(int(held.ids[rows[i]]), float(scores[i])) for i in top]
    found.sort(key=lambda pair: -pair[1])
    return found[:CANDIDATES]


def _dense_pgvector(store_ids: list[int], vector: np.ndarray, allowed: set[int] | None) -> list[tuple[int, float]]:
    narrowing, params = _narrowing("c", store_ids, allowed)
    params.update(vector=_vector_literal(vector), limit=CANDIDATES)
    column = indexes.PG_VECTOR_COLUMN
    sql = (
        f"SELECT c.id, 1 - (c.{column} <=> %(vector)s::vector) FROM knowledge_chunk c "
        f"WHERE {narrowing} AND c.{column} IS NOT NULL ORDER BY c.{column} <=> %(vector)s::vector LIMIT %(limit)s"
    )
    indexes.tune_hnsw(connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = [(row[0], float(row[1])) for row in cursor.fetchall()]
    return sorted(found, key=lambda pair: -pair[1])  # an iterative scan's order is nearly, not quite, exact


def _vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"


def _similarities(stores: list[VectorStore], chunk_ids: list[int], vectors: np.ndarray) -> list[tuple[int, float]]:
    """The best cosine of each chunk to the queries (those the dense ranking did not return)."""
    if not indexes.has_pgvector(connection):  # the store's embeddings are held here already
        out = []
        for store in stores:
            held = _store_vectors(store)
            if not len(held.ids) or held.matrix.shape[1] != vectors.shape[1]:
                continue
            wanted = np.asarray(chunk_ids, dtype=np.int64)
            rows = np.clip(np.searchsorted(held.ids, wanted), 0, len(held.ids) - 1)
            present = held.ids[rows] == wanted
            scores = (held.matrix[rows[present]] @ vectors.T).max(axis=1)
            out += zip(wanted[present].tolist(), scores.tolist(), strict=True)
        return out
    rows = Chunk.objects.filter(pk__in=chunk_ids).exclude(embedding=None).values_list("pk", "embedding")
    out = []
    for pk, blob in rows:
        chunk_vector = np.frombuffer(bytes(blob), dtype=np.float32)
        if vectors.shape[1] == len(chunk_vector):
            out.append((pk, float(np.max(vectors @ chunk_vector))))
    return out


@dataclass(frozen=True)
class _StoreVectors:
    store: str  # public id: a primary key may come again (a database emptied), never a public id
    version: int
    ids: np.ndarray  # chunk ids, ascending
    files: np.ndarray  # store file id of each
    matrix: np.ndarray  # unit-length embeddings, one row each
    bits: np.ndarray  # their signs, packed: uint64 words a row


_held: dict[int, _StoreVectors] = {}
_held_lock = threading.Lock()


def _store_vectors(store: VectorStore) -> _StoreVectors:
    """A store's searchable embeddings, read once per store version (ingestion and removal move it)."""
    with _held_lock:
        held = _held.get(store.pk)
    if held is not None and (held.store, held.version) == (store.public_id, store.version):
        return held
    rows = list(
        Chunk.objects.filter(vector_store=store, store_file__status=VectorStoreFile.Status.COMPLETED)
        .exclude(embedding=None)
        .order_by("pk")
        .values_list("pk", "store_file_id", "embedding")
    )
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    files = np.array([r[1] for r in rows], dtype=np.int64)
    widths = {len(r[2]) for r in rows}
    if rows and len(widths) == 1:
        matrix = np.frombuffer(b"".join(bytes(r[2]) for r in rows), dtype=np.float32).reshape(len(rows), -1)
    else:  # nothing yet, or embeddings of different widths (the model changed): nothing to score
        matrix = np.zeros((0, 0), dtype=np.float32)
        ids, files = ids[:0], files[:0]
    held = _StoreVectors(store.public_id, store.version, ids, files, matrix, _sign_bits(matrix))
    with _held_lock:
        _held[store.pk] = held
    return held


def _sign_bits(matrix: np.ndarray) -> np.ndarray:
    """One bit a dimension (set where positive), packed into uint64 words, a row each."""
    packed = np.packbits(matrix > 0, axis=1)
    padding = (-packed.shape[1]) % 8
    return np.ascontiguousarray(np.pad(packed, ((0, 0), (0, padding)))).view(np.uint64)
