"""`manage.py reingest_knowledge`: read, chunk and embed every file of every vector store again.

Run it after changing EMBEDDING_MODEL or EMBEDDING_DIMENSIONS: embeddings of different models
cannot be compared, so until a store's files are ingested again its dense ranking finds nothing (a
different width) or the wrong passages (the same width). Files that failed are tried again too.
Each file stays searchable with its old chunks until its new ones replace them.

With Celery (RUN_DISPATCH=celery) the files are queued for the workers; otherwise they are ingested
here, one after another, before the command returns (a background pool would die with it).
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db.models import Count
from django.test.utils import override_settings

from knowledge import services
from knowledge.models import VectorStoreFile


class Command(BaseCommand):
    help = "Ingest every file of every vector store again (after the embedding model changed)."

    def handle(self, *args, **options) -> None:
        queued = settings.RUN_DISPATCH == "celery"
        store_files = VectorStoreFile.objects.filter(
            status__in=[VectorStoreFile.Status.COMPLETED, VectorStoreFile.Status.FAILED], vector_store__expired=False
        ).order_by("pk")
        with override_settings(RUN_DISPATCH=settings.RUN_DISPATCH if queued else "inline"):
            count = sum(services.store_file_retry(store_file, completed_too=True) for store_file in store_files)
        statuses = dict(
            VectorStoreFile.objects.filter(vector_store__expired=False)
            .values_list("status")
            .annotate(n=Count("pk"))
            .order_by()
        )
        if queued:
            self.stdout.write(self.style.SUCCESS(f"{count} files queued for ingestion."))
        else:
            self.stdout.write(self.style.SUCCESS(f"{count} files ingested again: {statuses}."))
