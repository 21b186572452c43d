"""Knowledge search quality: how often `knowledge.search.search` finds the passage that answers a
customer's question, for each retrieval choice, and how well its score tells a covered question
from one the documents do not cover; with the CPU each choice costs per query and per ingested chunk.

The questions (bench/search_labels.json) are asked of two stores ingested here: the demo help centre
(knowledge/help_centre) and a larger one written for measuring only (bench/help_centre_large);
those neither covers are asked of both. Each goes through the offline model's path: its keywords
(offline_model.documents.search_words), then file_search's `rewrite`.

Retrieval choices (knowledge.search.RANKINGS), each over the embedded default's embeddings (the
offline model's all-MiniLM-L6-v2, through runtime.llm.client.embed as in production):
    lexical                the database's full-text ranking alone, no embeddings
    dense + W lexical      fused, the lexical ranking weighted W (0.1 to 1) against the dense one's 1
    dense                  the embeddings alone
The one knowledge.search.RANKINGS holds today is marked "(default)".

The labelled questions are paraphrases, the case embeddings are for. The bench also asks questions
made from the articles' own words ("Tell me about monogrammed"), each naming a word of 6 letters or
more that one section of its store alone contains, that section being the right answer: the case a
full-text index is for, and which a label set of paraphrases does not see.

Scoring rules (what a result's `score` is, which `score_threshold` compares), measured by putting
each in place of knowledge.search.relevance.

    .venv/bin/python bench/search_quality.py                      # SQLite (a temporary file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concierge_bench .venv/bin/python bench/search_quality.py

Prints figures; it asserts nothing. Record them in docs/benchmarks.md with the command. The figures
of the hashed-feature embeddings the offline model had before are in docs/benchmarks.md; the code
that computed them is in this file's history.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["RUN_DISPATCH"] = "inline"  # a file is ingested as soon as it is added
os.environ["DEBUG"] = "false"
os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
os.environ.setdefault("ALLOWED_HOSTS", "localhost")
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("CELERY_BROKER_URL", None)
os.environ["MEDIA_ROOT"] = tempfile.mkdtemp()  # the uploaded articles
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.db import connection  # noqa: E402

from knowledge import indexes, ingest, services  # noqa: E402
from knowledge import search as search_module  # noqa: E402
from knowledge.models import Chunk, VectorStore  # noqa: E402
from offline_model import minilm  # noqa: E402
from offline_model.documents import search_words  # noqa: E402
from runtime.llm.client import embed as project_embed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LABELS = Path(__file__).with_name("search_labels.json")
THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 15)]  # 0.05 … 0.70
SHOWN_THRESHOLDS = (0.25, 0.30, 0.35, 0.40, 0.45, 0.50)
SHOWN = 3  # "answered right": a right passage among the first SHOWN results above the threshold
EXACT_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]{5,}")
EXACT_PER_STORE = 100


# --- embedders -------------------------------------------------------------------------------------

Embed = Callable[[list[str]], list[list[float]]]


def no_vectors(texts: list[str]) -> list[list[float]]:
    return [[] for _ in texts]


def load_model() -> dict[str, float]:
    """Load the offline model's encoder now, so that no question pays for it; what that cost."""
    started_wall, started_cpu, before = time.perf_counter(), time.process_time(), rss_mb()
    minilm.loaded()
    return {
        "wall_s": time.perf_counter() - started_wall,
        "cpu_s": time.process_time() - started_cpu,
        "rss_before_mb": before,
        "rss_after_mb": rss_mb(),
    }


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Timed:
    """An embedder that adds up the CPU time and the texts it was given."""

    def __init__(self, embed: Embed) -> None:
        self.embed, self.cpu, self.texts = embed, 0.0, 0

    def __call__(self, texts: list[str]) -> list[list[float]]:
        started = time.process_time()
        try:
            return self.embed(texts)
        finally:
            self.cpu += time.process_time() - started
            self.texts += len(texts)


# --- stores ---------------------------------------------------------------------------------------


@dataclass
class Ingested:
    stores: dict[str, VectorStore]
    chunks: int
    cpu: float  # this process, the whole ingestion (extraction runs in a child process, not counted)
    embed_cpu: float


def ingest_stores(embedder_name: str, embed: Embed, directories: dict[str, Path]) -> Ingested:
    timed = Timed(embed)
    ingest.embed = timed
    stores, chunks, cpu = {}, 0, 0.0
    try:
        for name, directory in directories.items():
            store = services.vector_store_create(owner=None, name=f"{name} ({embedder_name})")
            started = time.process_time()
            for path in sorted(directory.glob("*.md")):
                upload = ContentFile(path.read_bytes(), name=path.name)
                file = services.file_create(owner=None, upload=upload, purpose="assistants")
                services.store_file_add(store, file)  # ingested on commit (RUN_DISPATCH inline)
            cpu += time.process_time() - started
            store.refresh_from_db()
            stores[name] = store
            count = Chunk.objects.filter(vector_store=store).count()
            files = len(list(directory.glob("*.md")))
            done = store.store_files.filter(status="completed").count()
            assert done == files, f"{name}: {done} of {files} files ingested"
            chunks += count
    finally:
        ingest.embed = project_embed
    return Ingested(stores, chunks, cpu, timed.cpu)


# --- running the questions --------------------------------------------------------------------------


@dataclass
class Hit:
    file: str
    heading: str
    cosine: float
    coverage: float
    fusion: float


@dataclass
class Outcome:
    question: dict
    hits: list[Hit]
    right: set[tuple[str, str]] = field(default_factory=set)

    @property
    def answerable(self) -> bool:
        return bool(self.question["answers"])

    def rank(self) -> int | None:
        """1-based rank of the first right passage in the search's order, None if it was not found."""
        for index, hit in enumerate(self.hits, 1):
            if (hit.file, hit.heading) in self.right:
                return index
        return None


def exact_word_questions(stores: dict[str, VectorStore]) -> list[dict]:
    """Up to EXACT_PER_STORE questions a store, each naming a word that one of its sections alone
    contains (a fixed random sample), labelled with that section."""
    questions = []
    for name, store in stores.items():
        sections: dict[str, set[tuple[str, str]]] = {}
        for chunk in Chunk.objects.filter(vector_store=store).select_related("store_file__file"):
            for word in set(EXACT_WORD.findall(chunk.text.lower())):
                sections.setdefault(word, set()).add((chunk.store_file.file.filename, chunk.heading))
        words = sorted(word for word, found in sections.items() if len(found) == 1)
        random.Random(7).shuffle(words)
        for word in words[:EXACT_PER_STORE]:
            [(file, heading)] = sections[word]
            answers = [{"file": file, "heading": heading}]
            questions.append({"question": f"Tell me about {word}", "store": name, "answers": answers})
    return questions


def query_of(question: str) -> str:
    """What file_search searches for when the offline model asks it about `question`."""
    return search_module.rewrite(search_words(question) or question)


def ask_all(questions: list[dict], stores: dict[str, VectorStore], embed: Embed) -> tuple[list[Outcome], float]:
    """Every question through search(), in the search's order with each result's parts of a score;
    and the CPU seconds those searches took."""
    recorded: list[tuple[float, float]] = []

    def recording(*, cosine: float, fusion: float) -> float:
        recorded.append((cosine, fusion))
        return 1.0  # every candidate is kept: the rules and thresholds are applied afterwards

    search_module.relevance = recording
    search_module.embed = embed
    outcomes, cpu = [], 0.0
    try:
        for question in questions:
            names = list(stores) if question["store"] == "any" else [question["store"]]
            query = query_of(question["question"])
            for name in names:
                recorded.clear()
                started = time.process_time()
                found = search_module.search([stores[name]], [query], max_num_results=10_000)
                cpu += time.process_time() - started
                wanted = stems(query)
                hits = [
                    Hit(r.chunk.store_file.file.filename, r.chunk.heading, cosine, share(wanted, r.chunk.text), fusion)
                    for r, (cosine, fusion) in zip(found, recorded, strict=True)
                ]
                right = {(a["file"], a["heading"]) for a in question["answers"]}
                outcomes.append(Outcome(question, hits, right))
    finally:
        search_module.relevance = PRODUCTION_RELEVANCE
        search_module.embed = project_embed
    return outcomes, cpu


def share(wanted: set[str], text: str) -> float:
    """The share of the query's meaningful words (stemmed) that `text` contains."""
    return len(wanted & stems(text)) / len(wanted) if wanted else 0.0


def stems(text: str) -> set[str]:
    return {stem(word) for word in search_module.WORD.findall(text.lower()) if word not in search_module.FILLER}


def stem(word: str) -> str:
    """A light English stem: returns, returned → return; charges, charge → charg; shipped → ship."""
    if len(word) < 4 or not word.isalpha():
        return word
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    return word.removesuffix("e") if len(word) > 3 else word


# --- measures -------------------------------------------------------------------------------------

Rule = Callable[[Hit], float]
RULES: dict[str, Rule] = {
    "cosine": lambda h: h.cosine,
    "words": lambda h: h.coverage,
    "max(cosine, words)": lambda h: max(h.cosine, h.coverage),
    "mean(cosine, words)": lambda h: (h.cosine + h.coverage) / 2,
    "0.8 cosine + 0.2 words": lambda h: 0.8 * h.cosine + 0.2 * h.coverage,
    "fused rank": lambda h: h.fusion,
}


def retrieval(outcomes: list[Outcome]) -> dict[str, float]:
    ranks = [o.rank() for o in outcomes if o.answerable]
    n = len(ranks)
    return {
        "n": n,
        "r@1": sum(1 for r in ranks if r and r <= 1) / n,
        "r@3": sum(1 for r in ranks if r and r <= 3) / n,
        "r@5": sum(1 for r in ranks if r and r <= 5) / n,
        "mrr": sum(1 / r for r in ranks if r) / n,
    }


def decision(outcomes: list[Outcome], rule: Rule, threshold: float) -> dict[str, float]:
    """The "covered" decision (some result scores at least `threshold`) against the labels."""
    covered = answered_right = first_right = false_covered = answerable = unanswerable = 0
    top_by_score = 0
    for outcome in outcomes:
        kept = [hit for hit in outcome.hits if clamp(rule(hit)) >= threshold]
        if outcome.answerable:
            answerable += 1
            covered += bool(kept)
            answered_right += any((h.file, h.heading) in outcome.right for h in kept[:SHOWN])
            first_right += bool(kept) and (kept[0].file, kept[0].heading) in outcome.right
            if kept:
                best = max(kept, key=lambda h: clamp(rule(h)))
                top_by_score += (best.file, best.heading) in outcome.right
        else:
            unanswerable += 1
            false_covered += bool(kept)
    precision = covered / (covered + false_covered) if covered + false_covered else 1.0
    recall = covered / answerable
    rejected = 1 - false_covered / unanswerable if unanswerable else 1.0
    return {
        "precision": precision,
        "recall": recall,
        "rejected": rejected,  # share of uncovered questions the search says are not covered
        "right": answered_right / answerable,
        "first": first_right / answerable,  # the search's first result above the threshold is right
        "top_by_score": top_by_score / answerable,
        "balanced": (recall + rejected) / 2,
    }


def clamp(score: float) -> float:
    return round(min(max(score, 0.0), 1.0), 4)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# --- the run ----------------------------------------------------------------------------------------

PRODUCTION_RELEVANCE = search_module.relevance


@dataclass
class Choice:
    name: str
    rankings: dict[str, float]  # knowledge.search.RANKINGS
    rules: tuple[str, ...]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="store_true", help="print every threshold of every rule")
    args = parser.parse_args()

    labels = json.loads(LABELS.read_text(encoding="utf-8"))
    directories = {name: ROOT / path for name, path in labels["stores"].items()}
    questions = labels["questions"]
    check_labels(questions, directories)

    load = load_model()
    print(
        f"model: all-MiniLM-L6-v2 loaded in {load['wall_s']:.2f} s wall, {load['cpu_s']:.2f} s CPU "
        f"({settings.OFFLINE_MODEL_EMBEDDING_THREADS} onnxruntime thread(s)); "
        f"RSS {load['rss_before_mb']:.0f} MB before, {load['rss_after_mb']:.0f} MB after"
    )
    default = dict(search_module.RANKINGS)
    some_rules = ("cosine", "max(cosine, words)", "mean(cosine, words)", "0.8 cosine + 0.2 words")
    choices = [Choice("lexical", {"lexical": 1.0}, ("words",))]
    choices += [
        Choice(f"dense + {weight:g} lexical", {"dense": 1.0, "lexical": weight}, tuple(RULES))
        for weight in (0.1, 0.25, 0.5, 1.0)
    ]
    choices.append(Choice("dense", {"dense": 1.0}, some_rules))
    for choice in choices:
        if {name: w for name, w in choice.rankings.items() if w} == {n: w for n, w in default.items() if w}:
            choice.name += " (default)"

    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        vectors = "pgvector's HNSW index" if indexes.has_pgvector(connection) else "exact, in process"
        print(f"database: {connection.vendor}; dense ranking: {vectors}; {settings.EMBEDDING_DIMENSIONS} dimensions")
        answerable = [q for q in questions if q["answers"]]
        print(
            f"labels: {len(answerable)} answerable ({sum(q['store'] == 'demo' for q in answerable)} demo, "
            f"{sum(q['store'] == 'large' for q in answerable)} large), "
            f"{len(questions) - len(answerable)} not covered (asked of both stores)"
        )
        results: dict[str, list[Outcome]] = {}
        exact: dict[str, list[Outcome]] = {}
        costs: dict[str, float] = {}
        done = ingest_stores("minilm", project_embed, directories)
        print(
            f"ingest: {done.chunks} chunks; CPU per chunk {done.cpu / done.chunks * 1000:.2f} ms "
            f"in all (this process), of which embedding {done.embed_cpu / done.chunks * 1000:.2f} ms"
        )
        for choice in choices:
            search_module.RANKINGS = choice.rankings
            query_embed = project_embed if "dense" in choice.rankings else no_vectors
            ask_all(questions[:5], done.stores, query_embed)  # warm the caches
            results[choice.name], cpu = ask_all(questions, done.stores, query_embed)
            costs[choice.name] = cpu / len(results[choice.name])
            exact[choice.name], _ = ask_all(exact_word_questions(done.stores), done.stores, query_embed)
        for store in done.stores.values():
            services.vector_store_delete(store)
        search_module.RANKINGS = default
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)

    print("\n| choice | recall@1 | recall@3 | recall@5 | MRR | CPU ms/query | recall@1 demo | recall@1 large |")
    print("|---|---|---|---|---|---|---|---|")
    for choice in choices:
        outcomes = results[choice.name]
        r = retrieval(outcomes)
        demo = retrieval([o for o in outcomes if o.question["store"] == "demo"])
        large = retrieval([o for o in outcomes if o.question["store"] == "large"])
        print(
            f"| {choice.name} | {pct(r['r@1'])} | {pct(r['r@3'])} | {pct(r['r@5'])} | {r['mrr']:.3f} "
            f"| {costs[choice.name] * 1000:.2f} | {pct(demo['r@1'])} | {pct(large['r@1'])} |"
        )

    print(
        f"\nThe articles' own words: {len(next(iter(exact.values())))} questions, each naming a word one section holds"
    )
    print(
        "| choice | recall@1 | recall@3 | recall@5 | MRR | "
        + " | ".join(f"covered at {t:.2f}" for t in SHOWN_THRESHOLDS)
        + " |"
    )
    print("|---|---|---|---|---|" + "---|" * len(SHOWN_THRESHOLDS))
    for choice in choices:
        outcomes = exact[choice.name]
        r = retrieval(outcomes)
        covered = [pct(decision(outcomes, RULES["cosine"], t)["recall"]) for t in SHOWN_THRESHOLDS]
        print(
            f"| {choice.name} | {pct(r['r@1'])} | {pct(r['r@3'])} | {pct(r['r@5'])} | {r['mrr']:.3f} | "
            + " | ".join(covered if "dense" in choice.rankings else ["–"] * len(covered))
            + " |"
        )

    print("\nCovered or not: each rule's AUC, its best threshold (by balanced accuracy) and the figures there")
    print("| choice | rule | AUC | threshold | precision | recall | not covered caught | right in top 3 |")
    print("|---|---|---|---|---|---|---|---|")
    for choice in choices:
        for rule_name in choice.rules:
            rule, outcomes = RULES[rule_name], results[choice.name]
            best = max(THRESHOLDS, key=lambda t: decision(outcomes, rule, t)["balanced"])
            d = decision(outcomes, rule, best)
            print(
                f"| {choice.name} | {rule_name} | {auc(outcomes, rule):.3f} | {best:.2f} | {pct(d['precision'])} "
                f"| {pct(d['recall'])} | {pct(d['rejected'])} | {pct(d['right'])} |"
            )

    print("\nThe cosine rule at several thresholds")
    print(
        "| choice | threshold | precision | recall | not covered caught | right in top 3 | right first | top by score |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for choice in choices:
        if "cosine" not in choice.rules:
            continue
        for t in SHOWN_THRESHOLDS:
            d = decision(results[choice.name], RULES["cosine"], t)
            print(
                f"| {choice.name} | {t:.2f} | {pct(d['precision'])} | {pct(d['recall'])} | {pct(d['rejected'])} "
                f"| {pct(d['right'])} | {pct(d['first'])} | {pct(d['top_by_score'])} |"
            )
    if args.grid:
        for choice in choices:
            for rule_name in choice.rules:
                print(f"\n{choice.name}, {rule_name}:")
                print("| threshold | precision | recall | not covered caught | right in top 3 | top by score |")
                print("|---|---|---|---|---|---|")
                for t in THRESHOLDS:
                    d = decision(results[choice.name], RULES[rule_name], t)
                    print(
                        f"| {t:.2f} | {pct(d['precision'])} | {pct(d['recall'])} | {pct(d['rejected'])} "
                        f"| {pct(d['right'])} | {pct(d['top_by_score'])} |"
                    )
    print_scores(results)


def auc(outcomes: list[Outcome], rule: Rule) -> float:
    """The chance that a covered question's best score beats an uncovered one's (ties count half)."""
    best = [(o.answerable, max((clamp(rule(h)) for h in o.hits), default=0.0)) for o in outcomes]
    covered = [score for answerable, score in best if answerable]
    uncovered = [score for answerable, score in best if not answerable]
    wins = sum((c > u) + 0.5 * (c == u) for c in covered for u in uncovered)
    return wins / (len(covered) * len(uncovered))


def print_scores(results: dict[str, list[Outcome]]) -> None:
    """The spread of the best cosine and word share, covered questions against uncovered ones."""
    print("\nBest score per question, median [10th–90th percentile]")
    for name, outcomes in results.items():
        for part in ("cosine", "coverage"):
            covered = [max((getattr(h, part) for h in o.hits), default=0.0) for o in outcomes if o.answerable]
            uncovered = [max((getattr(h, part) for h in o.hits), default=0.0) for o in outcomes if not o.answerable]
            if not any(covered):
                continue
            print(f"  {name:15} {part:9} covered {spread(covered)}  not covered {spread(uncovered)}")


def spread(values: list[float]) -> str:
    values = sorted(values)
    decile = statistics.quantiles(values, n=10)
    return f"{statistics.median(values):.2f} [{decile[0]:.2f}–{decile[-1]:.2f}]"


def check_labels(questions: list[dict], directories: dict[str, Path]) -> None:
    """Every labelled answer names a heading that exists in its store's articles."""
    headings = {
        name: {
            (path.name, line[3:].strip())
            for path in directory.glob("*.md")
            for line in path.read_text().splitlines()
            if line.startswith("## ")
        }
        for name, directory in directories.items()
    }
    for question in questions:
        for answer in question["answers"]:
            where = (answer["file"], answer["heading"])
            assert where in headings[question["store"]], f"no such section: {where} ({question['question']})"


if __name__ == "__main__":
    main()
