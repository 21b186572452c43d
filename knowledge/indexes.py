"""The search indexes each database keeps for chunks, made by the migrations (DDL only, no models).

- PostgreSQL: a stored tsvector column (generated from the text with KNOWLEDGE_TEXT_SEARCH_CONFIG)
  with a GIN index, so ranking reads the vector rather than parsing every matching chunk again; with
  the pgvector extension, a vector column mirroring each chunk's embedding, with an HNSW index (cosine).
- SQLite: an FTS5 table over the chunks' text (porter stemming), kept in step by triggers.
"""

from __future__ import annotations

import logging
import weakref

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)

FTS_TABLE = "knowledge_chunk_fts"
PG_TEXT_COLUMN = "text_search"
PG_TEXT_INDEX = "knowledge_chunk_text_search"
PG_VECTOR_COLUMN = "embedding_vec"
PG_VECTOR_INDEX = "knowledge_chunk_embedding_hnsw"


def create_text_search(cursor) -> None:
    """The tsvector column and its GIN index (PostgreSQL), for KNOWLEDGE_TEXT_SEARCH_CONFIG as it is now."""
    cursor.execute(
        f"ALTER TABLE knowledge_chunk ADD COLUMN IF NOT EXISTS {PG_TEXT_COLUMN} tsvector "
        f"GENERATED ALWAYS AS (to_tsvector('{_config()}'::regconfig, text)) STORED"
    )
    cursor.execute(f"CREATE INDEX IF NOT EXISTS {PG_TEXT_INDEX} ON knowledge_chunk USING gin ({PG_TEXT_COLUMN})")


def drop_text_search(cursor) -> None:
    cursor.execute(f"DROP INDEX IF EXISTS {PG_TEXT_INDEX}")
    cursor.execute(f"ALTER TABLE knowledge_chunk DROP COLUMN IF EXISTS {PG_TEXT_COLUMN}")


def _config() -> str:
    config = settings.KNOWLEDGE_TEXT_SEARCH_CONFIG
    if not config.replace("_", "").isalnum():
        raise ValueError(f"KNOWLEDGE_TEXT_SEARCH_CONFIG must be a text search configuration name, not {config!r}")
    return config


def create(schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            create_text_search(cursor)
        enable_pgvector(connection)
    elif connection.vendor == "sqlite":
        for statement in (
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
            "text, content='knowledge_chunk', content_rowid='id', tokenize='porter unicode61')",
            f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON knowledge_chunk BEGIN "
            f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END",
            f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON knowledge_chunk BEGIN "
            f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text); END",
            f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au AFTER UPDATE OF text ON knowledge_chunk BEGIN "
            f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text); "
            f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END",
        ):
            schema_editor.execute(statement)


def drop(schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {PG_VECTOR_INDEX}")
        schema_editor.execute(f"ALTER TABLE knowledge_chunk DROP COLUMN IF EXISTS {PG_VECTOR_COLUMN}")
        with connection.cursor() as cursor:
            drop_text_search(cursor)
    elif connection.vendor == "sqlite":
        for suffix in ("ai", "ad", "au"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
        schema_editor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")


def enable_pgvector(connection) -> bool:
    """Create the extension (if the server has it) and the vector column with its HNSW index.
    False when the server has no pgvector: dense scores are then computed exactly in Python."""
    dimensions = int(settings.EMBEDDING_DIMENSIONS)
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
            cursor.execute(
                f"ALTER TABLE knowledge_chunk ADD COLUMN IF NOT EXISTS {PG_VECTOR_COLUMN} vector({dimensions})"
            )
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {PG_VECTOR_INDEX} ON knowledge_chunk "
                f"USING hnsw ({PG_VECTOR_COLUMN} vector_cosine_ops)"
            )
    except Exception as error:  # the server has no pgvector (or may not create extensions)
        log.warning("pgvector is not available (%s): dense search scores exactly, without an index", error)
        return False
    finally:
        forget_pgvector()
    return True


_pgvector: dict[str, tuple[int, ...] | None] = {}


def has_pgvector(connection) -> bool:
    """Whether the chunks table has the vector column (pgvector was available when it was made)."""
    return pgvector_version(connection) is not None


def pgvector_version(connection) -> tuple[int, ...] | None:
    """The pgvector extension's version when the chunks table has its vector column, else None.
    Asked of the database once per process and database: only a migration changes it."""
    if connection.vendor != "postgresql":
        return None
    key = connection.settings_dict["NAME"]
    if key not in _pgvector:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT e.extversion FROM pg_extension e WHERE e.extname = 'vector' AND EXISTS (SELECT 1 FROM "
                "information_schema.columns WHERE table_name = 'knowledge_chunk' AND column_name = %s)",
                [PG_VECTOR_COLUMN],
            )
            row = cursor.fetchone()
            _pgvector[key] = tuple(int(part) for part in row[0].split(".") if part.isdigit()) if row else None
    return _pgvector[key]


def forget_pgvector() -> None:
    """After a migration made or dropped the column (and in tests that do)."""
    _pgvector.clear()


# The HNSW search's settings, per database session. ef_search bounds how many rows one index scan
# returns (pgvector's default, 40, is fewer than a ranking's candidates); from pgvector 0.8 an
# iterative scan goes on past it until the WHERE clause (one store of many) has let enough through.
HNSW_EF_SEARCH = 100
_tuned_sessions: weakref.WeakSet = weakref.WeakSet()


def tune_hnsw(connection) -> None:
    """Set the HNSW search's settings for the query about to run: once per database session in
    autocommit, or for the current transaction inside one (whose rollback would undo a session's)."""
    connection.ensure_connection()
    raw = connection.connection
    local = connection.in_atomic_block
    if not local and raw in _tuned_sessions:
        return
    iterative = (pgvector_version(connection) or ()) >= (0, 8)
    scope = "true" if local else "false"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT set_config('hnsw.ef_search', %s, {scope})"
            + (f", set_config('hnsw.iterative_scan', 'relaxed_order', {scope})" if iterative else ""),
            [str(HNSW_EF_SEARCH)],
        )
    if not local:
        _tuned_sessions.add(raw)
