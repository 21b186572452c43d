"""`manage.py seed_help_centre`: the demo shop's help centre (returns, shipping, warranty, payments,
privacy), ingested into the shop's own vector store and given to the shop's assistants that use
file_search.

Idempotent: an article already there (by its slug) is left as it is, and so is the store. Like
seed_demo it refuses to run while the demo is off (DEBUG and DEMO_SHOP false), unless forced: a
real shop uploads its own articles in the console's Knowledge page.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from knowledge import ingest, services
from knowledge.help_centre import ensure_help_centre
from knowledge.models import File, VectorStoreFile
from runtime.engine.runner import worker_name

ARTICLES = Path(__file__).resolve().parents[2] / "help_centre"


class Command(BaseCommand):
    help = "Seed the demo help centre into the shop's vector store (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--force", action="store_true", help="Seed even though the demo is off.")

    def handle(self, *args, **options) -> None:
        if not settings.DEMO_SHOP and not options["force"]:
            raise CommandError("The demo is off here (DEBUG=false, DEMO_SHOP not set). Use --force to seed anyway.")
        store, assistants = ensure_help_centre()
        # Ingested here and now, each as it is added: this command's process would end before a
        # background pool got to them.
        with override_settings(RUN_DISPATCH="inline"):
            added = self._add_articles(store)
        for store_file_id in VectorStoreFile.objects.filter(  # any left in progress by an earlier run
            vector_store=store, status=VectorStoreFile.Status.IN_PROGRESS
        ).values_list("pk", flat=True):
            ingest.ingest(store_file_id, worker=worker_name())
        done = VectorStoreFile.objects.filter(vector_store=store, status=VectorStoreFile.Status.COMPLETED).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Help centre ready: {added} article(s) added, {done} searchable in {store.public_id}; "
                f"file_search of {len(assistants)} assistant(s) uses it."
            )
        )

    def _add_articles(self, store) -> int:
        added = 0
        for path in sorted(ARTICLES.glob("*.md")):
            slug = path.stem
            if File.objects.filter(help_slug=slug).exists():
                continue
            text = path.read_text(encoding="utf-8")
            title = text.splitlines()[0].lstrip("# ").strip()
            upload = ContentFile(text.encode(), name=path.name)
            file = services.file_create(owner=None, upload=upload, purpose="assistants", help_slug=slug, title=title)
            services.store_file_add(store, file)
            added += 1
        return added
