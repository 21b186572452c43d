"""deploy/Procfile as written: its web, worker and beat processes against the test's PostgreSQL and
Redis, a customer's conversation through them, and a graceful restart of the worker while it is
streaming an answer, with nothing lost.

Each Procfile line runs as `sh -c "exec <line>"` (so SIGTERM reaches the server itself, as a process
manager's stop does), with $PORT given, the virtualenv's bin/ on PATH, and this test process's own
database, Redis names and Celery queue, so tests side by side never hear each other.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import websockets

from orders.assistant.persona import ensure_demo_assistant
from runtime.models import Run, Thread
from tests import needs
from tests.e2e.conftest import PROJECT, free_port, server_environment
from tests.e2e.test_chat_across_processes import REDIS, open_session, redis_is_up

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROCFILE = PROJECT / "deploy" / "Procfile"
# Three processes starting at once on a busy 2-core machine take a while to import Django.
START_SECONDS = 90
QUESTION = "Where is my order A1001? My email is alice@example.com"
FOLLOW_UP = "Can you track the parcel for order A1001?"


def procfile(path: Path = PROCFILE) -> dict[str, str]:
    """The Procfile's `name: command` lines (comments and blank lines skipped)."""
    processes = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    return processes


class Deployment:
    """The Procfile's processes, started and stopped one by one as an operator would."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.commands = env, logs, procfile()
        self.processes: list[subprocess.Popen] = []

    def start(self, name: str, log_name: str, **variables: str) -> subprocess.Popen:
        command = self.commands[name]
        for variable, value in variables.items():
            command = command.replace(f"${variable}", value)
        with (self.logs / f"{log_name}.log").open("wb") as log:
            # In a directory of its own: beat writes its schedule file where it runs.
            process = subprocess.Popen(
                ["/bin/sh", "-c", f"exec {command}"], cwd=self.logs, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return process

    def log(self, log_name: str) -> str:
        return (self.logs / f"{log_name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def deployment(tmp_path, transactional_db):
    if not redis_is_up():
        needs.missing(f"Redis is not reachable at {REDIS}", "CI runs it")
    env = server_environment()
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(PROJECT),
        REDIS_URL=REDIS,
        CELERY_BROKER_URL=REDIS,
        CELERY_QUEUE=f"e2e-deploy-{secrets.token_hex(4)}",
        RUN_DISPATCH="celery",
        # Slow enough that the answer is still streaming when the worker is told to stop.
        OFFLINE_MODEL_TOKEN_DELAY_MS="150",
    )
    deployment = Deployment(env, tmp_path)
    try:
        yield deployment
    finally:
        deployment.stop()


async def converse(url: str, ticket: str, questions: list[str], on_first_delta: Callable[[], None]) -> list[list[dict]]:
    """Ask the questions one after the other on one widget websocket; for each, every event until
    its run ended. `on_first_delta` is called when the first answer starts streaming."""
    ws_url = url.replace("http://", "ws://") + f"/ws/chat/?ticket={ticket}"
    conversation, streaming = [], False
    async with websockets.connect(ws_url, origin=url) as socket:
        assert json.loads(await socket.recv())["type"] == "hello"
        for question in questions:
            await socket.send(json.dumps({"type": "message", "text": question, "client_id": secrets.token_hex(4)}))
            received = []
            async with asyncio.timeout(START_SECONDS):
                while not (received and received[-1]["type"] == "run" and received[-1]["state"] in ("done", "failed")):
                    received.append(json.loads(await socket.recv()))
                    if received[-1]["type"] == "delta" and not streaming:
                        streaming = True
                        on_first_delta()
            conversation.append(received)
    return conversation


def wait_until_ready(url: str, web: subprocess.Popen, deployment: Deployment) -> None:
    """Until /readyz says ready (database, channel layer, broker), as a load balancer waits."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise RuntimeError("the web process exited:\n" + deployment.log("web")[-3000:])
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
                if json.load(response)["status"] == "ready":
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.3)
    raise RuntimeError("the web process was not ready:\n" + deployment.log("web")[-3000:])


def wait_for_worker(deployment: Deployment, log_name: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the Celery worker exited:\n" + deployment.log(log_name)[-3000:])
        if "ready." in deployment.log(log_name):
            return
        time.sleep(0.3)
    raise RuntimeError("the Celery worker did not start:\n" + deployment.log(log_name)[-3000:])


def answers_in(events: list[dict]) -> list[dict]:
    return [e["message"] for e in events if e["type"] == "message" and e["message"]["role"] == "assistant"]


def test_the_procfile_serves_a_conversation_through_a_graceful_worker_restart(deployment, alice_order):
    ensure_demo_assistant()
    port = free_port()
    web = deployment.start("web", "web", PORT=str(port))
    old_worker = deployment.start("worker", "worker-1")
    deployment.start("beat", "beat")
    url = f"http://127.0.0.1:{port}"
    wait_until_ready(url, web, deployment)
    wait_for_worker(deployment, "worker-1", old_worker)
    session = open_session(url)
    new_workers = []

    def restart_the_worker() -> None:
        # What `systemctl restart` or a deploy does: SIGTERM (Celery's warm shutdown), then a new one.
        old_worker.send_signal(signal.SIGTERM)
        new_workers.append(deployment.start("worker", "worker-2"))

    first, second = asyncio.run(
        converse(url, session["ticket"], [QUESTION, FOLLOW_UP], on_first_delta=restart_the_worker)
    )

    # The answer that was streaming when the worker was told to stop arrived complete, once.
    assert new_workers, "the answer never streamed"
    (answer,) = answers_in(first)
    streamed = "".join(e["text"] for e in first if e["type"] == "delta" and e["id"] == answer["id"])
    assert streamed == answer["text"]
    assert "A1001" in answer["text"] and "Delivered" in answer["text"]
    assert first[-1]["state"] == "done"
    # The old worker finished the run, then left cleanly (a warm shutdown, not a crash).
    assert old_worker.wait(timeout=START_SECONDS) == 0, deployment.log("worker-1")[-3000:]
    log = deployment.log("worker-1")
    after_sigterm = log[log.index("Warm shutdown") :]
    assert re.search(r"execute_run\[[-\w]+\] succeeded", after_sigterm), log[-3000:]
    # The follow-up, sent while no worker might be up yet, waited on the broker for the new one.
    (second_answer,) = answers_in(second)
    assert second_answer["text"] and second[-1]["state"] == "done"
    thread = Thread.objects.get(public_id=session["thread_id"])
    runs = list(thread.runs.order_by("created_at"))
    assert [run.status for run in runs] == ["completed", "completed"]
    assert [worker_pid(run) for run in runs] == [old_worker.pid, new_workers[0].pid]
    assert [(m.role, m.text) for m in thread.messages.order_by("created_at", "id")] == [
        ("user", QUESTION),
        ("assistant", answer["text"]),
        ("user", FOLLOW_UP),
        ("assistant", second_answer["text"]),
    ]
    assert "beat: Starting" in deployment.log("beat"), deployment.log("beat")[-2000:]


def worker_pid(run: Run) -> int:
    """The process that executed a run (runtime.engine.runner.worker_name: host:pid:thread)."""
    return int(run.claimed_by.split(":")[1])
