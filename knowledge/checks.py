"""System checks of the knowledge app's deployment (`manage.py check --database default`)."""

from __future__ import annotations

from django.core.checks import Tags, Warning, register
from django.db import connections

from knowledge import indexes


@register(Tags.database)
def pgvector_is_there(app_configs, databases=None, **kwargs) -> list[Warning]:
    warnings = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor == "postgresql" and not indexes.has_pgvector(connection):
            warnings.append(
                Warning(
                    "PostgreSQL without the pgvector extension: file_search scores embeddings exactly, in each "
                    "process, instead of through an HNSW index (fine for a help centre; slower past ~100k chunks).",
                    hint="Install pgvector on the database server, then run `manage.py knowledge_indexes`, which "
                    "makes the index from the embeddings already stored (docs/benchmarks.md measures both).",
                    id="knowledge.W001",
                )
            )
    return warnings
