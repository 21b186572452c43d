"""What the input gate costs: config.middleware's check of one request, and a socket frame's decode.

Every HTTP request passes config.middleware.RefuseUnstorableInput and every websocket frame goes
through common.text.load_json; this prints the CPU each takes on typical and on the largest inputs,
against plain json.loads, in one process.

    .venv/bin/python bench/input_gate.py

Prints figures; it asserts nothing. Record them in docs/benchmarks.md with the command.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DEBUG"] = "false"
os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.test import RequestFactory  # noqa: E402

from common.text import load_json  # noqa: E402
from config.middleware import refusal  # noqa: E402

ROUNDS = 20_000


def per_call_us(function, inputs: list) -> float:
    started = time.perf_counter()
    for item in inputs:
        function(item)
    return (time.perf_counter() - started) / len(inputs) * 1e6


def main() -> None:
    factory = RequestFactory()
    question = "Where is my order A1001? My email is alice@example.com"
    body = json.dumps({"role": "user", "content": question, "metadata": {"channel": "shop"}})
    largest = json.dumps({"role": "user", "content": "x" * 256_000})
    frame = json.dumps({"type": "message", "text": question, "client_id": "c1"})

    def post(payload: str):
        return factory.post(
            "/v1/threads/thread_abc/messages", payload, content_type="application/json", HTTP_AUTHORIZATION="Bearer k"
        )

    typical = per_call_us(refusal, [post(body) for _ in range(ROUNDS)])
    cursor = per_call_us(refusal, [factory.get("/v1/threads/t/messages?after=msg_1") for _ in range(ROUNDS)])
    largest_ms = per_call_us(refusal, [post(largest) for _ in range(50)]) / 1000
    guarded, plain = per_call_us(load_json, [frame] * ROUNDS), per_call_us(json.loads, [frame] * ROUNDS)
    print(f"/v1 message POST, {len(body)} bytes: {typical:.1f} µs")
    print(f"/v1 GET with a cursor: {cursor:.1f} µs")
    print(f"/v1 message POST, {len(largest)} bytes: {largest_ms:.2f} ms")
    print(f"socket frame, {len(frame)} chars: load_json {guarded:.2f} µs, json.loads {plain:.2f} µs")


if __name__ == "__main__":
    main()
