"""Where the embedded default scores vectors: in process with numpy, or in SQLite with sqlite-vec.

The time to find the 50 nearest of n unit vectors (384 wide, as the offline model's) for one query,
at 1k, 10k and 100k vectors:

    numpy exact        matrix @ query, then argpartition (what knowledge.search does up to EXACT_UP_TO)
    numpy signs        Hamming distance of the signs (48 bytes a vector), the RESCORED nearest then
                       scored exactly (what knowledge.search does above EXACT_UP_TO)
    sqlite-vec float   a vec0 table of float[384], `embedding MATCH ? AND k = 50`
    sqlite-vec bit     a vec0 table of bit[384] (the signs), the same query

No Django: vectors are random here (the time does not depend on them; recall on real embeddings is
bench/search.py's). sqlite-vec is a SQLite extension, and the project's Python cannot load one
(built without enable_load_extension), so this runs in a venv of Debian's /usr/bin/python3.11:

    /usr/bin/python3.11 -m venv /tmp/vecvenv && /tmp/vecvenv/bin/pip install sqlite-vec numpy
    /tmp/vecvenv/bin/python bench/vector_scoring.py

Prints figures; it asserts nothing. Record them in docs/benchmarks.md with the command.
"""

from __future__ import annotations

import sqlite3
import statistics
import time

import numpy as np
import sqlite_vec

WIDTH = 384
TOP = 50
RESCORED = 1_000
QUERIES = 50


def timed(function, queries) -> tuple[float, float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        function(query)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, float(np.percentile(times, 99)) * 1000


def signs(matrix: np.ndarray) -> np.ndarray:
    return np.packbits(matrix > 0, axis=1).view(np.uint64)


def choices(matrix: np.ndarray, db: sqlite3.Connection) -> dict:
    bits = signs(matrix)

    def exact(query):
        scores = matrix @ query
        return np.argpartition(-scores, TOP - 1)[:TOP]

    def by_signs(query):
        if len(matrix) <= RESCORED:
            return exact(query)
        distances = np.bitwise_count(bits ^ signs(query[None, :])).sum(axis=1, dtype=np.int32)
        rows = np.argpartition(distances, RESCORED - 1)[:RESCORED]
        scores = matrix[rows] @ query
        return rows[np.argpartition(-scores, TOP - 1)[:TOP]]

    def vec_float(query):
        return db.execute(
            "SELECT rowid FROM floats WHERE embedding MATCH ? AND k = ?", (query.tobytes(), TOP)
        ).fetchall()

    def vec_bit(query):
        return db.execute(
            "SELECT rowid FROM signs WHERE embedding MATCH vec_bit(?) AND k = ?",
            (np.packbits(query > 0).tobytes(), TOP),
        ).fetchall()

    return {"numpy exact": exact, "numpy signs": by_signs, "sqlite-vec float": vec_float, "sqlite-vec bit": vec_bit}


def loaded(matrix: np.ndarray) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.enable_load_extension(True)
    sqlite_vec.load(db)
    db.execute(f"CREATE VIRTUAL TABLE floats USING vec0(embedding float[{WIDTH}] distance_metric=cosine)")
    db.execute(f"CREATE VIRTUAL TABLE signs USING vec0(embedding bit[{WIDTH}])")
    with db:
        db.executemany(
            "INSERT INTO floats(rowid, embedding) VALUES (?, ?)", ((i + 1, v.tobytes()) for i, v in enumerate(matrix))
        )
        db.executemany(
            "INSERT INTO signs(rowid, embedding) VALUES (?, vec_bit(?))",
            ((i + 1, np.packbits(v > 0).tobytes()) for i, v in enumerate(matrix)),
        )
    return db


def main() -> None:
    rng = np.random.default_rng(16)
    print(f"sqlite-vec {sqlite_vec.__version__}, SQLite {sqlite3.sqlite_version}, numpy {np.__version__}")
    print(f"{'vectors':>8} {'choice':<17} {'p50 ms':>8} {'p99 ms':>8}")
    for size in (1_000, 10_000, 100_000):
        matrix = rng.normal(size=(size, WIDTH)).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        queries = [matrix[i] + rng.normal(scale=0.5, size=WIDTH).astype(np.float32) for i in range(QUERIES)]
        db = loaded(matrix)
        for name, function in choices(matrix, db).items():
            function(queries[0])  # warm
            p50, p99 = timed(function, queries)
            print(f"{size:>8} {name:<17} {p50:>8.2f} {p99:>8.2f}", flush=True)
        db.close()


if __name__ == "__main__":
    main()
