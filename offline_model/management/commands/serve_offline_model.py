"""`manage.py serve_offline_model`: the offline model as an OpenAI-compatible HTTP server."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from offline_model.server import OfflineModelServer


class Command(BaseCommand):
    help = (
        "Serve the offline model over HTTP as an OpenAI-compatible API (/v1/chat/completions, streamed or not, "
        "and /v1/models), for benchmarks and outside clients."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, required=True, help="Port to listen on (0 picks a free one).")
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1).")
        parser.add_argument(
            "--token-delay-ms",
            type=float,
            default=None,
            help="Pause between streamed chunks (default: OFFLINE_MODEL_TOKEN_DELAY_MS).",
        )
        parser.add_argument("--verbose-requests", action="store_true", help="Log every request.")
        parser.add_argument(
            "--record", metavar="FILE", help="Append every chat completion request's JSON body to FILE, one per line."
        )

    def handle(self, *args, port: int, host: str, token_delay_ms: float | None, verbose_requests: bool, **options):
        delay = settings.OFFLINE_MODEL_TOKEN_DELAY_MS if token_delay_ms is None else token_delay_ms
        server = OfflineModelServer(
            (host, port),
            token_delay_ms=delay,
            model_names=[settings.CONCIERGE_MODEL],
            quiet=not verbose_requests,
            record_to=options.get("record"),
        )
        # The first line names the real address (useful with --port 0); scripts wait for it.
        self.stdout.write(f"Offline model serving on {server.url} (token delay {delay:g} ms). Quit with CONTROL-C.")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            server.server_close()
