"""Talk to an assistant from the terminal: `python manage.py chat --message "Where is my order?"`.

It creates (or continues) a thread, starts a run and prints the answer as it streams, listening on
the thread's channel-layer group like any other subscriber.
"""

from __future__ import annotations

import asyncio
import sys

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.management.base import BaseCommand, CommandError

from runtime import events, runs
from runtime.errors import InvalidRequest
from runtime.models import Assistant, Message, Thread
from runtime.serializers import delta_text

TERMINAL_EVENTS = {
    "thread.run.completed",
    "thread.run.failed",
    "thread.run.cancelled",
    "thread.run.expired",
    "thread.run.incomplete",
    "thread.run.requires_action",
}


class Command(BaseCommand):
    help = "Send a message to an assistant and stream its answer; prints the thread id to continue with --thread."

    def add_arguments(self, parser):
        parser.add_argument("--message", "-m", required=True)
        parser.add_argument("--thread", help="Continue this thread (thread_…).")
        parser.add_argument(
            "--assistant",
            help="The assistant's name or asst_ id (default: the shop's own, the first without an owner).",
        )
        parser.add_argument("--timeout", type=float, default=120.0)

    def handle(self, *args, message: str, thread: str | None, assistant: str | None, timeout: float, **options):
        if assistant is None:
            found = Assistant.objects.filter(owner__isnull=True).order_by("created_at", "id").first()
        else:
            found = (
                Assistant.objects.filter(public_id=assistant).first()
                or Assistant.objects.filter(name=assistant).first()
            )
        if found is None:
            raise CommandError(f"No assistant {assistant or 'of the shop'!r}. Run `python manage.py seed_demo` first.")
        if thread:
            conversation = Thread.objects.filter(public_id=thread).first()
            if conversation is None:
                raise CommandError(f"No thread {thread!r}.")
        else:
            conversation = runs.thread_create(assistant=found)
        try:
            final = asyncio.run(self._converse(conversation, found, message, timeout))
        except InvalidRequest as error:
            raise CommandError(error.message) from None
        self.stdout.write("")
        if final != "thread.run.completed":
            self.stdout.write(f"({final.removeprefix('thread.run.')})")
        self.stdout.write(f"thread: {conversation.public_id}")

    async def _converse(self, thread: Thread, assistant: Assistant, text: str, timeout: float) -> str:
        await events.attach_server()
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(events.group_for(thread.public_id), channel)

        def start() -> None:
            runs.message_create(thread=thread, role="user", content=text, author=Message.Author.CUSTOMER)
            runs.run_create(thread=thread, assistant=assistant)

        await sync_to_async(start, thread_sensitive=False)()
        while True:
            message = await asyncio.wait_for(layer.receive(channel), timeout=timeout)
            for event in events.unbatch(message):
                name, data = event["event"], event["data"]
                if name == "thread.message.delta":
                    sys.stdout.write(delta_text(data))
                    sys.stdout.flush()
                elif name == "conversation.activity" and data.get("label") and data.get("status") != "finished":
                    # Once as the work starts (or waits); the answer itself says how it went.
                    self.stdout.write(self.style.NOTICE(f"[{data['label']}]"))
                elif name == "thread.run.failed":
                    self.stdout.write(self.style.ERROR(data["last_error"]["message"]))
                if name in TERMINAL_EVENTS:
                    return name
