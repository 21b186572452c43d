"""`manage.py knowledge_indexes`: make the database's search indexes over chunks again.

After installing pgvector on a PostgreSQL that did not have it when the knowledge migrations ran
(the vector column and its HNSW index are then made, and filled from the embeddings already stored),
or after changing KNOWLEDGE_TEXT_SEARCH_CONFIG (the tsvector column and its index are made again). Nothing is lost:
chunks and their embeddings stay; only indexes and the vector column's copy are rebuilt.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from knowledge import indexes
from knowledge.models import Chunk

BATCH = 500


class Command(BaseCommand):
    help = "Rebuild the search indexes of the knowledge app's chunks (full text; pgvector where available)."

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            with connection.schema_editor() as editor:
                indexes.drop(editor)
                indexes.create(editor)
            self.stdout.write(self.style.SUCCESS("Full-text index made again."))
            return
        with connection.cursor() as cursor:
            indexes.drop_text_search(cursor)
            indexes.create_text_search(cursor)
        if not indexes.enable_pgvector(connection):
            self.stdout.write("Full-text index made again; this server has no pgvector (dense search stays exact).")
            return
        width, filled = int(settings.EMBEDDING_DIMENSIONS), 0
        rows = Chunk.objects.exclude(embedding=None).values_list("pk", "embedding").iterator(chunk_size=BATCH)
        with connection.cursor() as cursor:
            for pk, blob in rows:
                vector = np.frombuffer(bytes(blob), dtype="<f4")
                if len(vector) == width:
                    literal = "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"
                    cursor.execute(
                        f"UPDATE knowledge_chunk SET {indexes.PG_VECTOR_COLUMN} = %s::vector WHERE id = %s",
                        [literal, pk],
                    )
                    filled += 1
        self.stdout.write(self.style.SUCCESS(f"Indexes made again; {filled} chunk vectors in pgvector's HNSW index."))
