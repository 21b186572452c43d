"""`manage.py serve_offline_model`: the offline model as an OpenAI-compatible HTTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import openai
import pytest
from django.core.management import CommandError, call_command

from offline_model.server import start_server

PROJECT = Path(__file__).resolve().parents[2]
HELLO = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def server():
    server, thread = start_server(model_names=["gpt-4o-mini"])
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_the_server_records_each_completion_request_for_replay(tmp_path):
    record = tmp_path / "requests.jsonl"
    server, thread = start_server(model_names=["gpt-4o-mini"], record_to=str(record))
    try:
        client = openai.OpenAI(api_key="anything", base_url=server.url, max_retries=0)
        client.chat.completions.create(**HELLO)
        client.models.list()
        list(client.chat.completions.create(**HELLO, stream=True))
        bodies = [json.loads(line) for line in record.read_text().splitlines()]
        assert [body["messages"] for body in bodies] == [HELLO["messages"]] * 2
        assert [body.get("stream", False) for body in bodies] == [False, True]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def command_server():
    """The real command in a subprocess, on a free port; yields (url, process)."""
    env = {**os.environ, "CONCIERGE_MODEL": "concierge-served", "OPENAI_API_KEY": ""}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve_offline_model", "--port", "0", "--token-delay-ms", "20"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert "serving on http://" in line, line + process.stderr.read()
        url = line.split("serving on ", 1)[1].split(" ", 1)[0]
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow
def test_the_command_answers_models_and_streams_a_completion(command_server):
    url, _ = command_server
    client = openai.OpenAI(api_key="anything", base_url=url, max_retries=0)

    assert [model.id for model in client.models.list().data] == ["concierge-served"]
    started = time.monotonic()
    chunks = list(client.chat.completions.create(**HELLO, stream=True, stream_options={"include_usage": True}))
    elapsed = time.monotonic() - started

    text = "".join(choice.delta.content or "" for chunk in chunks for choice in chunk.choices)
    assert text.startswith("Hi")
    assert chunks[-1].usage.total_tokens > 0
    assert elapsed >= (len(chunks) - 1) * 0.020  # --token-delay-ms 20 between chunks


@pytest.mark.slow
def test_the_command_answers_a_non_streamed_completion_and_a_tool_call(command_server):
    url, _ = command_server
    client = openai.OpenAI(api_key="anything", base_url=url, max_retries=0)
    tool = {
        "type": "function",
        "function": {
            "name": "get_order_status",
            "parameters": {
                "type": "object",
                "properties": {"order_number": {"type": "string"}, "email": {"type": "string"}},
                "required": ["order_number", "email"],
            },
        },
    }
    messages = [{"role": "user", "content": "status of A1001, alice@example.com"}]

    completion = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[tool])

    call = completion.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"order_number": "A1001", "email": "alice@example.com"}


def test_the_server_speaks_the_same_errors_as_the_transport(server):
    with httpx2.Client(base_url=server.url) as client:
        missing = client.get("/no-such-thing")
        malformed = client.post("/chat/completions", content=b"{oops", headers={"content-type": "application/json"})

    assert missing.status_code == 404 and missing.json()["error"]["type"] == "invalid_request_error"
    assert malformed.status_code == 400 and set(malformed.json()["error"]) == {"message", "type", "param", "code"}


def test_the_server_keeps_connections_alive_between_requests(server):
    with httpx2.Client(base_url=server.url) as client:
        first = client.post("/chat/completions", json=HELLO)
        second = client.post("/chat/completions", json={**HELLO, "stream": True})

    assert first.status_code == second.status_code == 200
    assert second.text.rstrip().endswith("data: [DONE]")


@pytest.mark.slow
def test_the_server_holds_200_concurrent_streams():
    streams = 200
    # ~40 chunks at 200 ms: each stream stays open ~8 s, long enough for all 200 to open on a busy machine.
    server, thread = start_server(token_delay_ms=200)
    pool = httpx2.Limits(max_connections=streams, max_keepalive_connections=streams)
    client = httpx2.Client(base_url=server.url, timeout=60, limits=pool)
    ready = threading.Barrier(streams)
    opened: list[float] = []
    closed: list[float] = []
    endings: list[str] = []
    request = {**HELLO, "stream": True}

    def one() -> None:
        ready.wait(timeout=30)
        with client.stream("POST", "/chat/completions", json=request) as response:
            lines = response.iter_lines()
            next(lines)
            opened.append(time.monotonic())
            endings.append([line for line in lines if line][-1])
        closed.append(time.monotonic())

    workers = [threading.Thread(target=one) for _ in range(streams)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    finally:
        client.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    assert endings == ["data: [DONE]"] * streams
    # Every stream had started before any had finished: all 200 were open at once.
    assert max(opened) < min(closed)


def test_the_command_needs_a_port():
    with pytest.raises(CommandError):
        call_command("serve_offline_model")
