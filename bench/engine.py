"""Engine benchmark: runs per second and the engine's own CPU time per run.

A three-turn conversation with two tool calls (a greeting; an order-status question answered with
get_order_status; a tracking question answered with track_shipment), repeated on fresh threads,
on the offline model with zero token delay. The model's own CPU time is measured by replaying the
exact requests the engine sent through the offline model alone, and subtracted.

    .venv/bin/python bench/engine.py                       # SQLite (a temporary file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concierge_bench .venv/bin/python bench/engine.py

Prints figures; it asserts nothing. Record them in docs/benchmarks.md with the command.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["RUN_DISPATCH"] = "inline"  # measure the engine itself, one run after another
os.environ["OFFLINE_MODEL_TOKEN_DELAY_MS"] = "0"
# As production runs: DEBUG off (Django would record every query).
os.environ["DEBUG"] = "false"
os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
os.environ.setdefault("ALLOWED_HOSTS", "localhost")
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("CELERY_BROKER_URL", None)
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

import offline_model.transport as transport  # noqa: E402
from offline_model.http import answer  # noqa: E402
from orders.assistant.persona import default_assistant  # noqa: E402
from runtime import events, runs  # noqa: E402
from runtime.models import Message, ToolCall  # noqa: E402

TURNS = [
    "Hello!",
    "Where is my order A1001? My email is alice@example.com",
    "Can you track the parcel for A1001?",
]

recorded: list[bytes] = []


def recording_answer(method, path, body, **kwargs):
    if path.endswith("/chat/completions"):
        recorded.append(bytes(body))
    return answer(method, path, body, **kwargs)


def conversation(assistant) -> None:
    thread = runs.thread_create(assistant=assistant)
    for text in TURNS:
        runs.message_create(thread=thread, role="user", content=text, author=Message.Author.CUSTOMER)
        run = runs.run_create(thread=thread, assistant=assistant)
        run.refresh_from_db()
        assert run.status == "completed", (run.status, run.last_error)


def model_cpu(bodies: list[bytes]) -> float:
    """CPU seconds the offline model alone needs for these requests, streamed to the last frame."""
    started = time.process_time()
    for body in bodies:
        result = answer("POST", "/v1/chat/completions", body)
        for _ in result.events or ():
            pass
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with open(os.devnull, "w") as quiet:
            call_command("seed_demo", force=True, stdout=quiet)
        assistant = default_assistant()
        transport.answer = recording_answer
        for _ in range(args.warmup):
            conversation(assistant)
        recorded.clear()
        calls_before = ToolCall.objects.count()

        wall_started, cpu_started = time.perf_counter(), time.process_time()
        per_conversation = []
        for _ in range(args.conversations):
            one = time.perf_counter()
            conversation(assistant)
            per_conversation.append(time.perf_counter() - one)
        events.flush()
        wall, cpu = time.perf_counter() - wall_started, time.process_time() - cpu_started

        runs = args.conversations * len(TURNS)
        tool_calls = ToolCall.objects.count() - calls_before
        model = model_cpu(recorded)
        print(f"database:            {connection.vendor} ({settings.DATABASES['default']['NAME']})")
        print(f"conversations:       {args.conversations} x {len(TURNS)} turns = {runs} runs, {tool_calls} tool calls")
        print(f"model requests:      {len(recorded)}")
        print(f"runs per second:     {runs / wall:.1f}  (wall {wall:.2f} s)")
        print(f"conversation wall:   p50 {statistics.median(per_conversation) * 1000:.1f} ms")
        print(f"CPU per run, total:  {cpu / runs * 1000:.2f} ms")
        print(f"CPU per run, model:  {model / runs * 1000:.2f} ms  (offline model replayed alone)")
        print(f"CPU per run, engine: {(cpu - model) / runs * 1000:.2f} ms  (total minus model)")
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)


if __name__ == "__main__":
    main()
