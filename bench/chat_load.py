"""Chat load benchmark: K concurrent websocket customers against a running deployment.

Each customer opens a widget session, connects to /ws/chat/ and holds a short conversation (a
greeting, then an order-status question that makes the assistant call a tool), with a little think
time between turns. For every answer it measures, from the moment the message was sent, the time to
the first streamed text and to the final message, and checks that the streamed text equals the
final message (nothing lost, nothing duplicated). The prompts Concierge sent (with --spawn, the model
server records them) are then replayed straight to the model server, so the model's own time to
first and last token can be subtracted. Before the measured customers, --warmup conversations run
and are not counted: a fresh process's first conversations pay for filling its connection pools
and the SDK's first use of its types, which a serving deployment has long paid.

With --spawn it starts the deployment itself: the offline model served over HTTP with a per-token
delay, daphne on the Redis channel layer, and a Celery worker on a Redis broker, all on the database
in DATABASE_URL (migrated and seeded first). Without it, point --url at a running deployment whose
model is reachable at --model-url.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concierge_load REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/chat_load.py --spawn --customers 200

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import websockets

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # the baseline sends its requests as the engine does
BIN = Path(sys.executable).parent
CONVERSATION = [
    "Hello!",
    "Where is my order {order}? My email is {email}",
]


@dataclass
class Answer:
    turn: int
    sent_at: float
    first_token_at: float | None = None
    final_at: float | None = None
    streamed: str = ""
    final: str = ""
    finals: int = 0


@dataclass
class Customer:
    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def post_json(url: str, body: dict, origin: str) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", "Origin": origin}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


async def customer(url: str, order: tuple[str, str], start_delay: float, think: float) -> Customer:
    result = Customer()
    await asyncio.sleep(start_delay)
    try:
        session = await asyncio.to_thread(post_json, f"{url}/chat/session/", {}, url)
        ws_url = url.replace("http", "ws", 1) + f"/ws/chat/?ticket={session['ticket']}"
        async with websockets.connect(ws_url, origin=url, max_size=2**22, open_timeout=60) as socket:
            json.loads(await socket.recv())  # hello
            for turn, template in enumerate(CONVERSATION):
                text = template.format(order=order[0], email=order[1])
                answer = Answer(turn=turn, sent_at=time.perf_counter())
                await socket.send(json.dumps({"type": "message", "text": text, "client_id": str(uuid.uuid4())}))
                answer_id = None
                async with asyncio.timeout(120):
                    while True:
                        event = json.loads(await socket.recv())
                        now = time.perf_counter()
                        kind = event.get("type")
                        if kind == "error":
                            result.errors.append(event.get("code", "error"))
                            break
                        if kind == "message_started" and event["message"]["role"] == "assistant":
                            answer_id = answer_id or event["message"]["id"]
                        elif kind == "delta" and event["id"] == answer_id:
                            if answer.first_token_at is None and event["text"]:
                                answer.first_token_at = now
                            answer.streamed += event["text"]
                        elif kind == "message" and event["message"]["id"] == answer_id:
                            answer.final, answer.final_at = event["message"]["text"], now
                            answer.finals += 1
                        elif kind == "run" and event["state"] in ("done", "failed"):
                            if event["state"] == "failed":
                                result.errors.append("run_failed")
                            break
                result.answers.append(answer)
                await asyncio.sleep(think * random.uniform(0.5, 1.5))
    except Exception as error:  # a customer's failure is a figure, not a crash of the benchmark
        result.errors.append(f"{type(error).__name__}: {error}")
    return result


ORDER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_order_status",
        "description": "Look up an order's status. Needs the order number and the email it was placed with.",
        "parameters": {
            "type": "object",
            "properties": {"order_number": {"type": "string"}, "email": {"type": "string"}},
            "required": ["order_number", "email"],
        },
    },
}
ORDER_RESULT = {
    "found": True,
    "order_number": "A1001",
    "status": "delivered",
    "status_label": "Delivered",
    "total": "53.51",
    "currency": "USD",
    "items": [],
    "shipment": None,
}


def timed_stream(client, body: dict) -> tuple[float, float]:
    """(time to first text, time to the end) of one streamed chat completion, in seconds.

    Sent and read as the engine does (`support.engine.model.open_stream`): the body as it is, the
    chunks as JSON objects. `chat.completions.create`'s walk over the arguments and its chunk models
    cost the client about 2 ms a call, which would count as the model's time and hide as much of ours.
    """
    from runtime.engine.model import open_stream

    started, first = time.perf_counter(), None
    for chunk in open_stream(client, body):
        choices = chunk.get("choices") or [{}]
        if first is None and (choices[0].get("delta") or {}).get("content"):
            first = time.perf_counter() - started
    return first or 0.0, time.perf_counter() - started


def model_baseline(model_url: str, recorded: Path | None, samples: int = 10) -> dict[int, tuple[float, float]]:
    """The model server's own time to first and last token for each turn, in seconds (medians).

    The greeting is one model call. The order question is two: the tool call, streamed to its end,
    then the answer; the model's own time to first token for that turn is the first call's whole
    duration plus the second call's time to first token. With `recorded` (the requests Concierge
    sent during the run, as the model server logged them), exactly those prompts are replayed;
    otherwise minimal prompts stand in for them.
    """
    import openai

    client = openai.OpenAI(base_url=model_url, api_key="offline", max_retries=0)
    if recorded is not None and recorded.exists():
        return _replay_baseline(client, recorded, samples)

    def stream(messages, tools=None) -> tuple[float, float]:
        return timed_stream(client, {"model": "m", "messages": messages, **({"tools": tools} if tools else {})})

    question = {"role": "user", "content": "Where is my order A1001? My email is alice@example.com"}
    call = {"id": "call_1", "type": "function", "function": {"name": "get_order_status", "arguments": "{}"}}
    answer_prompt = [
        question,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps(ORDER_RESULT)},
    ]
    greeting, order = [], []
    for _ in range(samples):
        greeting.append(stream([{"role": "user", "content": "Hello!"}]))
        _, tool_call = stream([question], [ORDER_TOOL])
        first, last = stream(answer_prompt)
        order.append((tool_call + first, tool_call + last))
    return {
        0: (statistics.median(f for f, _ in greeting), statistics.median(v for _, v in greeting)),
        1: (statistics.median(f for f, _ in order), statistics.median(v for _, v in order)),
    }


def _replay_baseline(client, recorded: Path, samples: int) -> dict[int, tuple[float, float]]:
    kinds: dict[str, list[dict]] = {"greeting": [], "tool_call": [], "answer": []}
    for line in recorded.read_text().splitlines():
        body = json.loads(line)
        last = body["messages"][-1]
        if last["role"] == "tool":
            kinds["answer"].append(body)
        elif last["role"] == "user" and last.get("content") == CONVERSATION[0]:
            kinds["greeting"].append(body)
        elif last["role"] == "user":
            kinds["tool_call"].append(body)
    timed = {kind: [timed_stream(client, body) for body in bodies[:samples]] for kind, bodies in kinds.items()}
    greeting, tool_call, answer = (timed[k] for k in ("greeting", "tool_call", "answer"))
    call = statistics.median(total for _, total in tool_call)
    return {
        0: (statistics.median(f for f, _ in greeting), statistics.median(t for _, t in greeting)),
        1: (call + statistics.median(f for f, _ in answer), call + statistics.median(t for _, t in answer)),
    }


def spawn(args) -> tuple[str, str, list[subprocess.Popen]]:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp()}/load.sqlite3")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    queue = f"load-{uuid.uuid4().hex[:6]}"
    model_port, web_port = args.model_port, args.port
    model_url = f"http://127.0.0.1:{model_port}/v1"
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        CELERY_BROKER_URL=env["REDIS_URL"],
        CELERY_QUEUE=queue,
        OPENAI_API_KEY="offline",
        OPENAI_BASE_URL=model_url,
        WIDGET_SESSIONS_PER_IP_PER_MINUTE="100000",
        WIDGET_MESSAGES_PER_IP_PER_MINUTE="100000",
        WIDGET_MESSAGES_PER_VISITOR_PER_MINUTE="1000",
        LOG_LEVEL="WARNING",
        ASGI_THREADS=str(args.asgi_threads),
        # as production runs: no query recording, no debug pages
        DEBUG="false",
        SECRET_KEY=env.get("SECRET_KEY", "bench-" + uuid.uuid4().hex * 2),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
    )
    env.pop("RUN_DISPATCH", None)
    manage = [str(BIN / "python"), "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=PROJECT, env=env, check=True)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], cwd=PROJECT, env=env, check=True)
    subprocess.run([*manage, "seed_demo", "--force"], cwd=PROJECT, env=env, check=True, stdout=subprocess.DEVNULL)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL} if not args.verbose else {}
    processes = [
        subprocess.Popen(
            [
                *manage,
                "serve_offline_model",
                "--port",
                str(model_port),
                "--token-delay-ms",
                str(args.token_delay_ms),
                "--record",
                str(args.recorded),
            ],
            cwd=PROJECT,
            env=env,
            **quiet,
        ),
        *(
            subprocess.Popen(
                [
                    str(BIN / "celery"),
                    "-A",
                    "config",
                    "worker",
                    "-P",
                    "threads",
                    "-c",
                    str(args.worker_threads),
                    "-Q",
                    queue,
                    "--without-mingle",
                    "--without-gossip",
                    "--loglevel=WARNING",
                    "-n",
                    f"load{index}@%h",
                ],
                cwd=PROJECT,
                # a connection for every run thread, unless DB_POOL_MAX_SIZE is set for all processes
                env={"DB_POOL_MAX_SIZE": str(args.worker_threads), **env},
                **quiet,
            )
            for index in range(args.workers)
        ),
        subprocess.Popen(
            [
                str(BIN / "daphne"),
                *("-b", "127.0.0.1", "-p", str(web_port)),
                # as README's deployment: a slow handshake under load waits instead of being dropped at 5 s
                *("--websocket_connect_timeout", "30"),
                "config.asgi:application",
            ],
            cwd=PROJECT,
            env={"DB_POOL_MAX_SIZE": "10", **env},
            **quiet,
        ),
    ]
    url = f"http://127.0.0.1:{web_port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/", timeout=2)
            urllib.request.urlopen(f"{model_url}/models", timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    time.sleep(3)  # let the worker connect to the broker
    return url, model_url, processes


async def run_customers(url: str, count: int, ramp: float, think: float) -> list[Customer]:
    orders = [("A1001", "alice@example.com"), ("A1002", "bob@example.com")]
    tasks = [customer(url, orders[i % len(orders)], random.uniform(0, ramp), think) for i in range(count)]
    return await asyncio.gather(*tasks)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (Linux /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


def report(customers: list[Customer], baseline: dict[int, tuple[float, float]], wall: float) -> None:
    answers = [a for c in customers for a in c.answers]
    done = [a for a in answers if a.first_token_at and a.final_at]
    ttft = [(a.first_token_at - a.sent_at) * 1000 for a in done]
    ttlt = [(a.final_at - a.sent_at) * 1000 for a in done]
    model_ttft = [baseline[a.turn][0] * 1000 for a in done]
    model_ttlt = [baseline[a.turn][1] * 1000 for a in done]
    added_ttft = [ours - model for ours, model in zip(ttft, model_ttft, strict=True)]
    added_ttlt = [ours - model for ours, model in zip(ttlt, model_ttlt, strict=True)]
    lost = sum(1 for a in answers if a.finals == 0 or a.streamed != a.final or not a.first_token_at)
    duplicated = sum(1 for a in answers if a.finals > 1 or (a.final and a.streamed.count(a.final) > 1))
    errors = [e for c in customers for e in c.errors]
    expected = len(customers) * len(CONVERSATION)
    print(f"customers: {len(customers)}, answers: {len(answers)}/{expected}, wall {wall:.1f} s")
    print(f"{'':30}{'p50':>9}{'p95':>9}{'p99':>9}")
    for label, values in [
        ("time to first token (ms)", ttft),
        ("  the model's own (ms)", model_ttft),
        ("  added by Concierge (ms)", added_ttft),
        ("time to last token (ms)", ttlt),
        ("  the model's own (ms)", model_ttlt),
        ("  added by Concierge (ms)", added_ttlt),
    ]:
        print(f"{label:30}" + "".join(f"{percentile(values, q):9.1f}" for q in (50, 95, 99)))
    print("added to first token, by turn:")
    for turn, text in enumerate(CONVERSATION):
        added = [value for a, value in zip(done, added_ttft, strict=True) if a.turn == turn]
        label = f"  {turn + 1}: {text[:17]}"
        print(f"{label:30}" + "".join(f"{percentile(added, q):9.1f}" for q in (50, 95, 99)))
    print(f"lost answers: {lost + (expected - len(answers))}, duplicated: {duplicated}, errors: {len(errors)}")
    if errors:
        counts: dict[str, int] = {}
        for error in errors:
            counts[error[:80]] = counts.get(error[:80], 0) + 1
        for error, n in sorted(counts.items(), key=lambda item: -item[1])[:5]:
            print(f"  {n} x {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--ramp", type=float, default=5.0, help="customers start within this many seconds")
    parser.add_argument("--think", type=float, default=2.0, help="seconds between a customer's turns")
    parser.add_argument("--warmup", type=int, default=40, help="conversations run first and not counted (0: cold)")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--model-url", default="http://127.0.0.1:8100/v1")
    parser.add_argument("--spawn", action="store_true", help="start the model server, daphne and a worker")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--model-port", type=int, default=8766)
    parser.add_argument("--token-delay-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (one per core)")
    parser.add_argument("--worker-threads", type=int, default=32, help="threads per worker process")
    parser.add_argument("--asgi-threads", type=int, default=32, help="daphne's pool for database work")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    processes: list[subprocess.Popen] = []
    url, model_url = args.url, args.model_url
    try:
        args.recorded = None
        if args.spawn:
            args.recorded = Path(tempfile.mkdtemp()) / "model-requests.jsonl"
            url, model_url, processes = spawn(args)
        names = ["offline model server", *(f"celery worker {n + 1}" for n in range(args.workers)), "daphne"]
        if args.warmup:
            # A deployment serves warm: the first conversations of a fresh process pay for its
            # connection pools filling and the SDK's first use of its types. They are not counted.
            warm = asyncio.run(run_customers(url, args.warmup, ramp=2.0, think=0.2))
            failed = sum(len(c.errors) for c in warm)
            print(f"warm-up: {args.warmup} conversations, not counted ({failed} errors)")
        cpu_before = [cpu_seconds(p.pid) for p in processes]
        machine_before, own_before = machine_cpu_seconds(), time.process_time()
        started = time.perf_counter()
        customers = asyncio.run(run_customers(url, args.customers, args.ramp, args.think))
        wall = time.perf_counter() - started
        cpu_used = [cpu_seconds(p.pid) - before for p, before in zip(processes, cpu_before, strict=True)]
        own = time.process_time() - own_before
        busy, total = (after - before for after, before in zip(machine_cpu_seconds(), machine_before, strict=True))
        report(customers, model_baseline(model_url, args.recorded), wall)
        answers = sum(len(c.answers) for c in customers) or 1
        rest = busy - own - sum(cpu_used)
        for name, used in [
            *zip(names, cpu_used, strict=False),
            ("load generator (this)", own),
            ("everything else" if processes else "everything else here", rest),
        ]:
            share = f"{used / answers * 1000:.0f} ms per answer, {used / wall:.0%} of a core"
            print(f"CPU {name:22} {used:6.1f} s  ({share})")
        print(f"machine busy {busy / total:.0%} of {os.cpu_count()} cores over {wall:.1f} s")
    finally:
        for process in processes:
            process.terminate()


if __name__ == "__main__":
    main()
