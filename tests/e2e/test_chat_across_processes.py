"""A customer's question answered across processes: daphne relays what a Celery worker publishes.

A live daphne server and a real Celery worker share the test database, the Redis channel layer and
a Redis broker; a websocket client asks for a demo order's status and receives the streamed answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis
import websockets

from orders.assistant.persona import ensure_demo_assistant
from runtime.models import Run
from tests import needs
from tests.e2e.conftest import PROJECT, LiveServer, _wait_until_answering, free_port, server_environment

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REDIS = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def redis_is_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def deployment(tmp_path, transactional_db):
    """daphne + a Celery worker (threads pool) on their own queue, like a production deployment."""
    if not redis_is_up():
        needs.missing(f"Redis is not reachable at {REDIS}", "CI runs it")
    env = server_environment()
    queue = f"e2e-{secrets.token_hex(4)}"
    env.update(REDIS_URL=REDIS, CELERY_BROKER_URL=REDIS, CELERY_QUEUE=queue, RUN_DISPATCH="celery")
    bin_dir = Path(sys.executable).parent
    port = free_port()
    processes = []
    logs = {}
    for name, command in {
        "worker": [
            str(bin_dir / "celery"),
            "-A",
            "config",
            "worker",
            "-P",
            "threads",
            "-c",
            "4",
            "-Q",
            queue,
            "--without-mingle",
            "--without-gossip",
            "--loglevel=INFO",
        ],
        "daphne": [str(bin_dir / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
    }.items():
        logs[name] = tmp_path / f"{name}.log"
        with logs[name].open("wb") as log:
            processes.append(subprocess.Popen(command, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT))
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=processes[1], log_path=logs["daphne"])
    try:
        _wait_until_answering(server)
        _wait_for_worker(logs["worker"], processes[0])
        yield server, processes[0].pid, logs
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_for_worker(log: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the Celery worker exited:\n" + log.read_text(errors="replace")[-3000:])
        if "ready." in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise RuntimeError("the Celery worker did not start:\n" + log.read_text(errors="replace")[-3000:])


def open_session(url: str) -> dict:
    request = urllib.request.Request(
        f"{url}/chat/session/", data=b"{}", headers={"Content-Type": "application/json", "Origin": url}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


async def ask(url: str, ticket: str, text: str) -> list[dict]:
    ws_url = url.replace("http://", "ws://") + f"/ws/chat/?ticket={ticket}"
    received = []
    async with websockets.connect(ws_url, origin=url) as socket:
        received.append(json.loads(await socket.recv()))
        await socket.send(json.dumps({"type": "message", "text": text, "client_id": "e2e-1"}))
        async with asyncio.timeout(60):
            while True:
                event = json.loads(await socket.recv())
                received.append(event)
                if event["type"] == "run" and event["state"] in ("done", "failed"):
                    return received


def test_a_celery_worker_answers_and_daphne_streams_it_to_the_customer(deployment, alice_order):
    server, worker_pid, logs = deployment
    ensure_demo_assistant()
    session = open_session(server.url)

    events = asyncio.run(ask(server.url, session["ticket"], "Where is my order A1001? My email is alice@example.com"))

    assert events[0]["type"] == "hello"
    answers = [e["message"] for e in events if e["type"] == "message" and e["message"]["role"] == "assistant"]
    assert answers, [e["type"] for e in events]
    final = answers[-1]
    streamed = "".join(e["text"] for e in events if e["type"] == "delta" and e["id"] == final["id"])
    assert streamed == final["text"]
    assert "A1001" in final["text"] and "Delivered" in final["text"]
    run = Run.objects.get(thread__public_id=session["thread_id"])
    assert run.status == "completed"
    # Executed by the worker process, relayed by daphne: two processes.
    assert f":{worker_pid}:" in run.claimed_by, (run.claimed_by, logs["worker"].read_text()[-2000:])
