"""Knowledge search speed: ingestion throughput, and search latency at 1k, 10k and 100k chunks.

Ingestion: the help-centre articles (knowledge/help_centre and bench/help_centre_large, one page
each) uploaded and ingested as a deployment does it (file_create, store_file_add, ingested inline:
extraction in its child process, chunking, the offline model's embeddings, storage), ROUNDS times;
pages and chunks per second, and the share the embeddings took.

Search: one store grown to each size with chunks of a few sentences each, drawn from the
articles' and from other English prose (the docstrings of Python's standard library and Django, see
`sentence_pool`), so that the words a question uses recur across thousands of chunks; stored by
knowledge.ingest's own storage step. A chunk's vector is the normalised mean of its sentences'
embeddings (each distinct sentence embedded once by the configured model): latency depends on how
many vectors there are and how wide, and embedding 100k chunks one by one would take longer than
everything else together. Then the labelled questions (bench/search_labels.json, rewritten as
file_search does) are searched, each REPEATS times, with the query's embedding computed beforehand:
`knowledge.search.search` is timed without it, and the embedding call on its own. The first search
after the store changed reads its embeddings into memory (without pgvector) and is reported apart.
The dense ranking's top 10 (the HNSW index, or the in-process sign prefilter above
knowledge.search.EXACT_UP_TO chunks) is compared with the exact top 10 (recall@10).

    .venv/bin/python bench/search.py                                  # SQLite (a temporary file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5433/concierge_bench .venv/bin/python bench/search.py
    .venv/bin/python bench/search.py --sizes 1000,10000               # smaller, quicker

Prints figures; it asserts nothing. Record them in docs/benchmarks.md with the command.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["RUN_DISPATCH"] = "inline"  # a file is ingested as soon as it is added
os.environ["DEBUG"] = "false"
os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
os.environ.setdefault("ALLOWED_HOSTS", "localhost")
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("CELERY_BROKER_URL", None)
os.environ["MEDIA_ROOT"] = tempfile.mkdtemp()
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.db import connection  # noqa: E402

from knowledge import indexes, ingest, services  # noqa: E402
from knowledge import search as search_module  # noqa: E402
from knowledge.chunking import Chunk as Piece  # noqa: E402
from knowledge.models import Chunk, VectorStore, VectorStoreFile  # noqa: E402
from offline_model.documents import search_words  # noqa: E402
from runtime.llm.client import embed  # noqa: E402

LABELS = ROOT / "bench" / "search_labels.json"
ARTICLES = [ROOT / "knowledge" / "help_centre", ROOT / "bench" / "help_centre_large"]
CHUNKS_PER_FILE = 100
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


# --- ingestion ------------------------------------------------------------------------------------


def ingestion(rounds: int) -> None:
    pages = [path for directory in ARTICLES for path in sorted(directory.glob("*.md"))]
    embed_seconds = 0.0

    def timed_embed(texts: list[str]) -> list[list[float]]:
        nonlocal embed_seconds
        started = time.perf_counter()
        try:
            return embed(texts)
        finally:
            embed_seconds += time.perf_counter() - started

    ingest.embed = timed_embed
    print(f"ingestion: {len(pages)} pages ({sum(p.stat().st_size for p in pages) // 1024} KiB of Markdown) a round")
    print(f"{'round':>5} {'pages/s':>8} {'chunks/s':>9} {'wall s':>7} {'embedding share':>16}")
    rates = []
    try:
        for round_ in range(1, rounds + 1):
            embed_seconds = 0.0
            store = services.vector_store_create(owner=None, name=f"ingestion {round_}")
            started = time.perf_counter()
            for path in pages:
                upload = ContentFile(path.read_bytes(), name=path.name)
                file = services.file_create(owner=None, upload=upload, purpose="assistants")
                services.store_file_add(store, file)
            wall = time.perf_counter() - started
            done = store.store_files.filter(status=VectorStoreFile.Status.COMPLETED).count()
            chunks = Chunk.objects.filter(vector_store=store).count()
            assert done == len(pages), f"{done} of {len(pages)} pages ingested"
            rates.append(len(pages) / wall)
            print(
                f"{round_:>5} {len(pages) / wall:>8.1f} {chunks / wall:>9.1f} {wall:>7.2f} "
                f"{embed_seconds / wall:>15.0%}"
            )
    finally:
        ingest.embed = embed
    print(f"median: {statistics.median(rates):.1f} pages/s")


# --- a store of a given size ----------------------------------------------------------------------


def sentence_pool(size: int) -> list[tuple[str, str]]:
    """`size` distinct (heading, sentence) pairs: every help-centre article's, and the rest from the
    docstrings of Python's standard library and Django (English prose on other subjects, with words
    a customer's question shares: "return", "order", "account"), picked at random, the same each run."""
    pool = []
    for directory in ARTICLES:
        for path in sorted(directory.glob("*.md")):
            heading = path.stem.replace("-", " ")
            for line in path.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line.startswith("#"):
                    heading = line.lstrip("#").strip()
                    continue
                line = line.lstrip("-*0123456789. ").strip()
                pool += [(heading, s) for s in SENTENCE.split(line) if len(s.split()) >= 4]
    others = {}
    for root in (Path(sysconfig.get_paths()["stdlib"]), Path(django.__file__).parent):
        for path in sorted(root.rglob("*.py")):
            if "test" in path.parts or "tests" in path.parts or "site-packages" in path.relative_to(root).parts:
                continue
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    text = " ".join((ast.get_docstring(node) or "").split())
                    for sentence in SENTENCE.split(text):
                        if 4 <= len(sentence.split()) <= 60:
                            others.setdefault(sentence, path.stem.replace("_", " "))
    seen = {sentence for _, sentence in pool}
    rest = sorted((heading, sentence) for sentence, heading in others.items() if sentence not in seen)
    return pool + random.Random(16).sample(rest, min(len(rest), size - len(pool)))


class Grower:
    """Adds chunks to one store, CHUNKS_PER_FILE a file, through knowledge.ingest's storage step."""

    def __init__(self, pool_size: int) -> None:
        self.store = services.vector_store_create(owner=None, name="search latency")
        self.pool = sentence_pool(pool_size)
        started = time.perf_counter()
        distinct = sorted({sentence for _, sentence in self.pool})
        vectors = np.asarray(embed(distinct), dtype=np.float32)
        self.sentence_seconds = time.perf_counter() - started
        self.sentences = len(distinct)
        self.vector_of = dict(zip(distinct, vectors, strict=True))
        self.random = random.Random(16)
        self.count = 0
        self.files = 0
        self.store_seconds = 0.0

    def grow_to(self, size: int) -> None:
        while self.count < size:
            self.add_file(min(CHUNKS_PER_FILE, size - self.count))
        self.store.refresh_from_db()

    def add_file(self, count: int) -> None:
        self.files += 1
        pieces, sentences = [], []
        for index in range(count):
            picked = self.random.sample(self.pool, self.random.randint(3, 6))
            heading = picked[0][0]
            text = f"{heading}\n\n" + " ".join(sentence for _, sentence in picked)
            pieces.append(Piece(index=index, text=text, tokens=len(text) // 4, page=None, heading=heading))
            sentences.append([sentence for _, sentence in picked])
        vectors = []
        for picked in sentences:
            mean = np.mean([self.vector_of[sentence] for sentence in picked], axis=0)
            vectors.append((mean / np.linalg.norm(mean)).tolist())
        upload = ContentFile(b"generated for bench/search.py", name=f"generated-{self.files}.txt")
        file = services.file_create(owner=None, upload=upload, purpose="assistants")
        store_file = VectorStoreFile.objects.create(
            vector_store=self.store, file=file, chunking_strategy=services.strategy_obj(800, 400)
        )
        started = time.perf_counter()
        worker = "bench"
        assert ingest._claim(store_file.pk, worker)
        store_file.refresh_from_db()
        assert ingest._store(store_file, worker, pieces, vectors) == VectorStoreFile.Status.COMPLETED
        self.store_seconds += time.perf_counter() - started
        self.count += count


# --- searching ------------------------------------------------------------------------------------


def questions() -> list[str]:
    labels = json.loads(LABELS.read_text(encoding="utf-8"))
    return [search_module.rewrite(search_words(q["question"]) or q["question"]) for q in labels["questions"]]


def latency(store: VectorStore, queries: list[str], repeats: int) -> dict:
    started = time.perf_counter()
    vectors = embed(queries)
    embed_each = (time.perf_counter() - started) / len(queries)
    one_by_one = []
    for query in queries[:20]:
        started = time.perf_counter()
        embed([query])
        one_by_one.append(time.perf_counter() - started)
    by_query = dict(zip(queries, vectors, strict=True))
    search_module.embed = lambda texts: [by_query[text] for text in texts]
    parts = {"lexical": [], "dense": []}
    timed_parts = {}
    for name in parts:
        original = getattr(search_module, f"_{name}")

        def timed(*args, _original=original, _name=name, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                parts[_name].append(time.perf_counter() - started)

        timed_parts[name] = original
        setattr(search_module, f"_{name}", timed)
    try:
        search_module._held.clear()
        started = time.perf_counter()
        search_module.search([store], [queries[0]], max_num_results=10)
        first = time.perf_counter() - started
        for values in parts.values():
            values.clear()
        times = []
        for _ in range(repeats):
            for query in queries:
                started = time.perf_counter()
                search_module.search([store], [query], max_num_results=10)
                times.append(time.perf_counter() - started)
    finally:
        search_module.embed = embed
        for name, original in timed_parts.items():
            setattr(search_module, f"_{name}", original)
    return {
        "first": first,
        "p50": percentile(times, 50),
        "p99": percentile(times, 99),
        "mean": statistics.fmean(times),
        "lexical_p50": percentile(parts["lexical"], 50),
        "dense_p50": percentile(parts["dense"], 50),
        "embed_batched": embed_each,
        "embed_one": statistics.median(one_by_one),
        "samples": len(times),
    }


def dense_recall(store: VectorStore, queries: list[str]) -> float:
    """Share of the exact top 10 (cosine over every chunk) that the dense ranking returns in its top
    10: pgvector's HNSW index, or the in-process sign prefilter above EXACT_UP_TO chunks."""
    held = search_module._store_vectors(store)
    found = total = 0
    for vector in np.asarray(embed(queries), dtype=np.float32):
        exact = {int(held.ids[i]) for i in np.argsort(-(held.matrix @ vector))[:10]}
        ranked = {pk for pk, _ in search_module._dense([store], vector, None)[:10]}
        found += len(exact & ranked)
        total += len(exact)
    return found / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="chunk counts, ascending")
    parser.add_argument("--repeats", type=int, default=3, help="times each question is searched at each size")
    parser.add_argument("--rounds", type=int, default=3, help="ingestion rounds")
    parser.add_argument("--sentences", type=int, default=20_000, help="distinct sentences the chunks are made of")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        pgvector = indexes.has_pgvector(connection)
        print(
            f"database: {connection.vendor}{' with pgvector (HNSW)' if pgvector else ''}; "
            f"embeddings: {settings.EMBEDDING_MODEL}, {settings.EMBEDDING_DIMENSIONS} wide; "
            f"dense scoring: {'HNSW index' if pgvector else 'in process (numpy)'}"
        )
        ingestion(args.rounds)
        print()
        queries = questions()
        grower = Grower(args.sentences)
        print(f"search: {len(queries)} questions x {args.repeats}, top 10, one store; times in ms")
        header = f"{'chunks':>7} {'p50':>7} {'p99':>7} {'mean':>7} {'lexical p50':>12} {'dense p50':>10} {'first':>8}"
        print(header + f" {'dense recall@10':>16}")
        embeds = []
        for size in sizes:
            grower.grow_to(size)
            figures = latency(grower.store, queries, args.repeats)
            embeds.append(figures)
            line = (
                f"{size:>7} {ms(figures['p50']):>7} {ms(figures['p99']):>7} {ms(figures['mean']):>7} "
                f"{ms(figures['lexical_p50']):>12} {ms(figures['dense_p50']):>10} {ms(figures['first']):>8}"
            )
            print(line + f" {dense_recall(grower.store, queries):>16.1%}", flush=True)
        print(
            f"query embedding (excluded above): {ms(statistics.median(e['embed_one'] for e in embeds))} ms "
            f"a question alone, {ms(statistics.median(e['embed_batched'] for e in embeds))} ms each batched"
        )
        print(
            f"building the store: {grower.sentences} distinct sentences embedded in {grower.sentence_seconds:.1f} s; "
            f"{grower.count} chunks in {grower.files} files, {grower.count / grower.store_seconds:.0f} stored a second"
        )
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)


if __name__ == "__main__":
    main()
