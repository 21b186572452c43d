"""Create an API key and print it, alone, on stdout (it is not stored and cannot be shown again)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiKey


class Command(BaseCommand):
    help = "Create an API key for the shop's backend and print it on stdout."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="shop backend", help="A label to recognise the key by.")
        parser.add_argument(
            "--owner",
            default="api",
            help="Username owning the key (created, without a password, if missing). "
            "On /v1/ a key sees only its owner's assistants and threads.",
        )

    def handle(self, *args, name: str, owner: str, **options):
        if not name.strip():
            raise CommandError("--name must not be empty.")
        user, created = get_user_model().objects.get_or_create(username=owner)
        if created:
            user.set_unusable_password()  # a service account: it authenticates by key only
            user.save(update_fields=["password"])
        _, raw = ApiKey.issue(owner=user, name=name)
        self.stdout.write(raw)
