"""Engine overhead: Concierge's engine against a raw openai-SDK loop, CPU per conversation (issue 20).

One process alternates conversations of two (or three) kinds, all against the same offline model
served over HTTP by `manage.py serve_offline_model` in a child process (token delay 0), so every side
pays the SDK's HTTP cost and none pays the model's:

- engine: a new thread (`runs.thread_create`) and the customer's question through
  `runs.customer_message_create`, the run executed inline (RUN_DISPATCH=inline, DEBUG=false): the
  model calls get_order_status, the engine runs it in its tool pool (a thread of this process),
  calls the model again and stores the answer; then the event publisher is flushed, so its work is
  counted here and not in the next conversation.
- raw: a hand-written loop over the official openai SDK (`client.chat.completions.create`,
  streamed with usage, as the engine streams): the same system prompt and tool definitions the
  engine sent (read from its first recorded request), the tool call answered with the same
  queries the tool makes (`orders.selectors.order_owned_by_email`, then
  `orders.assistant.tools.order_payload`), the second call streamed, the answer kept in memory.
- raw-json (only when asked for, `--sides engine,raw,raw-json`): the same loop reading the stream as
  the engine does (`client.post(..., cast_to=object)`: chunks as plain JSON, not the SDK's models).

The question is "Where is my order A1001? My email is alice@example.com" on the demo shop's data.
CPU is `time.process_time()` of this process around each conversation: it counts every thread, so
the engine's tool thread and event publisher are included (the model server is another process).
After the warm-up the heap is frozen (`gc.freeze`) and a garbage collection runs before each
conversation, outside the measure, so neither side pays for the other's garbage. Sides alternate,
and which goes first rotates every round.

    .venv/bin/python bench/overhead.py                              # SQLite (a temporary file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concierge_bench .venv/bin/python bench/overhead.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concierge_bench REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/overhead.py
    .venv/bin/python bench/overhead.py --sides engine,raw,raw-json -n 30   # the third side too
    # the engine side alone under a profiler (py-spy is not a requirement: pip install py-spy==0.4.3)
    .venv/bin/py-spy record --gil --format raw --rate 250 --threads -o engine.txt -- \\
        .venv/bin/python bench/overhead.py --sides engine -n 300

The database named by DATABASE_URL is left alone: the bench creates `test_<name>` and drops it.

Prints figures and asserts nothing about them; exits non-zero if a conversation does not end with the
expected answer (the engine's run not completed, or an answer that does not give the order's status).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
QUESTION = "Where is my order A1001? My email is alice@example.com"
ORDER_NUMBER = "A1001"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["RUN_DISPATCH"] = "inline"  # the run executes in this process, right after its message commits
os.environ["OFFLINE_MODEL_TOKEN_DELAY_MS"] = "0"
os.environ["DEBUG"] = "false"  # as production runs: Django records no queries
os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
os.environ.setdefault("ALLOWED_HOSTS", "localhost")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.pop("CELERY_BROKER_URL", None)
WORKDIR = Path(tempfile.mkdtemp(prefix="overhead-"))
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{WORKDIR}/bench.sqlite3"
RECORDED = WORKDIR / "requests.jsonl"


def start_model_server() -> tuple[subprocess.Popen, str]:
    """`manage.py serve_offline_model` on a free port, recording every chat request; its /v1 URL."""
    env = {**os.environ, "OPENAI_API_KEY": ""}
    command = [sys.executable, "manage.py", "serve_offline_model", "--port", "0", "--token-delay-ms", "0"]
    server = subprocess.Popen(
        [*command, "--record", str(RECORDED)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = server.stdout.readline()  # "Offline model serving on http://127.0.0.1:PORT/v1 (…)"
    if "serving on " not in line:
        server.kill()
        raise SystemExit(f"the offline model server did not start: {line!r}")
    return server, line.split("serving on ", 1)[1].split()[0]


def stop_model_server() -> None:
    SERVER.terminate()
    SERVER.wait(timeout=10)
    shutil.rmtree(WORKDIR, ignore_errors=True)


SERVER, MODEL_URL = start_model_server()
atexit.register(stop_model_server)  # however the bench ends, the server goes with it
# The engine reaches the served model as it would any OpenAI-compatible provider.
os.environ["OPENAI_API_KEY"] = "offline"
os.environ["OPENAI_BASE_URL"] = MODEL_URL

import django  # noqa: E402

django.setup()

import openai  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from bench.counting import counting  # noqa: E402
from orders.assistant.persona import default_assistant  # noqa: E402
from orders.assistant.tools import order_payload  # noqa: E402
from orders.models import Order  # noqa: E402
from orders.selectors import order_owned_by_email  # noqa: E402
from runtime import events, runs  # noqa: E402
from runtime.models import Message, Run, ToolCall  # noqa: E402

SIDES = ("engine", "raw", "raw-json")


class WrongAnswer(Exception):
    """A conversation that did not end with the order's status: the figures would mean nothing."""


# --- the engine -----------------------------------------------------------------------------------


def engine_conversation(assistant) -> Run:
    thread = runs.thread_create(assistant=assistant)
    _, run = runs.customer_message_create(thread=thread, text=QUESTION)
    if run is None:
        raise WrongAnswer("the engine queued no run for the question")
    events.flush()  # the publisher thread's sends, counted in this conversation
    return run


def check_engine(run: Run, status_label: str) -> None:
    run.refresh_from_db()
    if run.status != Run.Status.COMPLETED:
        raise WrongAnswer(f"the engine's run ended {run.status}: {run.last_error}")
    answer = Message.objects.filter(run=run, role=Message.Role.ASSISTANT).order_by("-created_at", "-id").first()
    if answer is None or status_label.lower() not in answer.text.lower():
        raise WrongAnswer(f"the engine's answer does not give the status {status_label!r}: {answer and answer.text!r}")
    if not ToolCall.objects.filter(step__run=run, name="get_order_status", status=ToolCall.Status.COMPLETED).exists():
        raise WrongAnswer("the engine's run did not complete a get_order_status call")


# --- the raw loop ---------------------------------------------------------------------------------


class RawLoop:
    """What a developer writes by hand over the openai SDK: two streamed calls and one tool round."""

    def __init__(self, *, base_url: str, request: dict, typed: bool = True) -> None:
        self.client = openai.OpenAI(api_key="offline", base_url=base_url, max_retries=0)
        self.model = request["model"]
        self.system = request["messages"][0]
        self.tools = request["tools"]
        # The rest of the engine's request, so that the model gets the same request from both sides.
        self.options = {
            key: request[key] for key in ("temperature", "tool_choice", "parallel_tool_calls") if key in request
        }
        self.typed = typed
        self.chunks = 0

    def stream(self, messages: list[dict]) -> tuple[str, list[dict]]:
        """One streamed call: its text and its tool calls. The chunks are read as the SDK's typed
        models (`chat.completions.create`, what a developer writes) or, with `typed` off, as the JSON
        the server sent (`client.post(..., cast_to=object)`, as the engine's `open_stream` reads them)."""
        request = {"model": self.model, "messages": messages, "tools": self.tools, **self.options}
        usage = {"stream_options": {"include_usage": True}}
        text: list[str] = []
        calls: dict[int, dict] = {}
        if self.typed:
            for chunk in self.client.chat.completions.create(**request, stream=True, **usage):
                self.chunks += 1
                if not chunk.choices:
                    continue  # the usage chunk
                delta = chunk.choices[0].delta
                if delta.content:
                    text.append(delta.content)
                for part in delta.tool_calls or ():
                    call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
                    call["id"] = part.id or call["id"]
                    if part.function is not None:
                        call["name"] += part.function.name or ""
                        call["arguments"] += part.function.arguments or ""
            return "".join(text), [calls[index] for index in sorted(calls)]
        stream = self.client.post(
            "/chat/completions",
            body={**request, "stream": True, **usage},
            options={"security": {"bearer_auth": True}},
            cast_to=object,
            stream=True,
            stream_cls=openai.Stream[object],
        )
        for chunk in stream:
            self.chunks += 1
            if not chunk.get("choices"):
                continue
            delta = chunk["choices"][0].get("delta") or {}
            if delta.get("content"):
                text.append(delta["content"])
            for part in delta.get("tool_calls") or ():
                call = calls.setdefault(part["index"], {"id": "", "name": "", "arguments": ""})
                call["id"] = part.get("id") or call["id"]
                function = part.get("function") or {}
                call["name"] += function.get("name") or ""
                call["arguments"] += function.get("arguments") or ""
        return "".join(text), [calls[index] for index in sorted(calls)]

    def get_order_status(self, arguments: dict) -> dict:
        # The tool's own queries, without its bookkeeping (the thread's proof of the order).
        order = order_owned_by_email(arguments["order_number"], arguments.get("email") or "")
        return order_payload(order) if order is not None else {"found": False}

    def conversation(self) -> str:
        messages = [self.system, {"role": "user", "content": QUESTION}]
        for _ in range(4):  # at most a few model calls, as the engine bounds its round trips
            text, calls = self.stream(messages)
            if not calls:
                return text
            messages.append(
                {
                    "role": "assistant",
                    "content": text or None,
                    "tool_calls": [
                        {
                            "id": c["id"],
                            "type": "function",
                            "function": {"name": c["name"], "arguments": c["arguments"]},
                        }
                        for c in calls
                    ],
                }
            )
            for call in calls:
                if call["name"] != "get_order_status":
                    raise WrongAnswer(f"the model called {call['name']} in the raw loop")
                result = self.get_order_status(json.loads(call["arguments"]))
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)})
        raise WrongAnswer("the raw loop's model kept calling tools")


def check_raw(answer: str, status_label: str) -> None:
    if status_label.lower() not in answer.lower():
        raise WrongAnswer(f"the raw loop's answer does not give the status {status_label!r}: {answer!r}")


# --- measuring ------------------------------------------------------------------------------------


def measured(work) -> tuple[float, float, object]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def count_statements(work) -> tuple[int, int]:
    """(SQL statements, Redis round trips) of one call of `work`, every connection counted (as
    bench/statements.py counts). Installed only for this: the counting costs CPU."""
    with counting() as counted:
        work()
    return counted.sql, counted.redis


def spread(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    q1, _, q3 = statistics.quantiles(ms, n=4) if len(ms) > 1 else (ms[0], ms[0], ms[0])
    return f"median {statistics.median(ms):6.2f} ms  (IQR {q1:.2f}–{q3:.2f}, min–max {ms[0]:.2f}–{ms[-1]:.2f})"


def recorded_requests() -> list[dict]:
    return [json.loads(line) for line in RECORDED.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--conversations", type=int, default=30, help="measured conversations per side")
    parser.add_argument("--warmup", type=int, default=3, help="conversations per side before measuring")
    parser.add_argument(
        "--sides",
        default="engine,raw",
        help="comma-separated, alternated in this order, rotated every round: engine, raw (the SDK's typed "
        "chunks), raw-json (chunks as plain JSON, as the engine reads them); one side alone to profile it",
    )
    args = parser.parse_args()
    sides = args.sides.split(",")
    if not sides or any(side not in SIDES for side in sides) or len(set(sides)) != len(sides):
        parser.error(f"--sides takes distinct names among {', '.join(SIDES)}")

    if connection.vendor == "sqlite":  # the test database beside the temporary file, not in the project
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(WORKDIR / "test.sqlite3")
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with open(os.devnull, "w") as quiet:
            call_command("seed_demo", force=True, stdout=quiet)
        assistant = default_assistant()
        status_label = Order.objects.get(number=ORDER_NUMBER).get_status_display()

        # The engine's first request gives the raw loop its system prompt and tool definitions.
        check_engine(engine_conversation(assistant), status_label)
        first = recorded_requests()[0]
        loops = {
            "raw": RawLoop(base_url=MODEL_URL, request=first),
            "raw-json": RawLoop(base_url=MODEL_URL, request=first, typed=False),
        }
        work = {"engine": lambda: engine_conversation(assistant), **{k: loop.conversation for k, loop in loops.items()}}
        check = {side: (lambda text: check_raw(text, status_label)) for side in loops}
        check["engine"] = lambda run: check_engine(run, status_label)
        for _ in range(args.warmup):
            for side in sides:
                check[side](work[side]())
        # What exists now (Django, the SDK, the demo data's objects) is left out of every collection from
        # here on: the full collection before each conversation then takes a moment, not 0.2 s.
        gc.collect()
        gc.freeze()

        cpu: dict[str, list[float]] = {side: [] for side in sides}
        wall: dict[str, list[float]] = {side: [] for side in sides}
        requests_before = len(recorded_requests())
        for loop in loops.values():
            loop.chunks = 0
        for round_ in range(args.conversations):
            shift = round_ % len(sides)
            for side in sides[shift:] + sides[:shift]:
                spent, took, result = measured(work[side])
                check[side](result)  # outside the measure: the raw loop's answer needs no query
                cpu[side].append(spent)
                wall[side].append(took)
        requests = recorded_requests()[requests_before:]
        chunks = {side: loop.chunks / args.conversations for side, loop in loops.items()}

        statements = {side: count_statements(work[side]) for side in sides}
        print(f"database:      {connection.vendor} ({connection.settings_dict['NAME']})")
        print(f"events:        {'Redis' if settings.REDIS_URL else 'in-memory layer and local-memory cache'}")
        print(f"model:         {MODEL_URL} (served offline model, token delay 0, another process)")
        print(f"conversations: {args.conversations} per side after {args.warmup} warm-up, alternated")
        body_sizes = [len(json.dumps(r)) for r in requests]
        print(f"model requests measured: {len(requests)} (mean body {statistics.mean(body_sizes):.0f} bytes)")
        for side in sides:
            sql, round_trips = statements[side]
            print(f"{side:<8} CPU   {spread(cpu[side])}")
            print(f"{side:<8} wall  {spread(wall[side])}")
            read = f", {chunks[side]:.0f} chunks read" if side in loops else ""
            print(f"{side:<8} {sql} SQL statements, {round_trips} Redis round trips per conversation{read}")
        for side in ("raw", "raw-json"):
            if "engine" in sides and side in sides:
                ratio = statistics.median(cpu["engine"]) / statistics.median(cpu[side])
                rounds = sorted(e / r for e, r in zip(cpu["engine"], cpu[side], strict=True))
                print(
                    f"engine/{side} CPU: {ratio:.2f}x (of the medians; round by round: median "
                    f"{statistics.median(rounds):.2f}x, min–max {rounds[0]:.2f}–{rounds[-1]:.2f}x)"
                )
    except WrongAnswer as wrong:
        print(f"FAILED: {wrong}", file=sys.stderr)
        sys.exit(1)
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)


if __name__ == "__main__":
    main()
