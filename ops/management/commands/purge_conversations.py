"""`manage.py purge_conversations`: delete the conversations idle for longer than RETENTION_DAYS
(or --days), with their files (ops.retention says which). --dry-run prints what would go."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops.retention import COUNTED, purge_conversations


class Command(BaseCommand):
    help = "Delete conversations idle for longer than RETENTION_DAYS, with their messages, runs and files."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, help="Idle for more than this many days (default: RETENTION_DAYS).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args, days: int | None, dry_run: bool, **options) -> None:
        days = settings.RETENTION_DAYS if days is None else days
        if days == 0:
            self.stdout.write("RETENTION_DAYS is 0: every conversation is kept (give --days to purge anyway).")
            return
        try:
            counts = purge_conversations(days=days, dry_run=dry_run)
        except ValueError as error:
            raise CommandError(str(error)) from None
        verb = "Would delete" if dry_run else "Deleted"
        listed = ", ".join(f"{counts[word]} {word}" for word in COUNTED.values())
        self.stdout.write(f"{verb} (idle for more than {days} days): {listed}.")
