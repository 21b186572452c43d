"""The official openai Node SDK against a live Concierge: the seed's order-support chat loop, streamed.

tests/e2e/node/order_support.mjs creates the assistant with client-side get_order_status and
initiate_return, streams runs with `for await`, answers `thread.run.requires_action` with
submitToolOutputs (stream: true) and prints the final texts and a JSON summary. The SDK is installed
by `make test` (npm ci in tests/e2e/node).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from accounts.models import ApiKey
from tests.factories import UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NODE_DIR = Path(__file__).resolve().parent / "node"
SCRIPT = NODE_DIR / "order_support.mjs"


@pytest.fixture
def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("Node.js is not installed: the Node SDK test needs node and npm (`make test` runs npm ci)")
    if not (NODE_DIR / "node_modules" / "openai" / "package.json").exists():
        pytest.fail("The openai Node SDK is not installed: run `make test`, or npm ci --prefix tests/e2e/node")
    return path


def run_script(node: str, base_url: str, api_key: str, *, script: Path = SCRIPT) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONCIERGE_BASE_URL": f"{base_url}/v1", "CONCIERGE_API_KEY": api_key}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    return subprocess.run(
        [node, str(script)], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_seeds_order_support_chat_runs_on_the_node_sdk(node, live_server_url):
    _, raw = ApiKey.issue(owner=UserFactory(username="node-shop"), name="node sdk")

    done = run_script(node, live_server_url, raw)

    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    status_turn, *later_turns = summary["turns"]

    assert [call["name"] for call in status_turn["toolCalls"]] == ["get_order_status"]
    assert status_turn["toolCalls"][0]["arguments"] == {"orderId": "ORD-12345", "email": "jane@example.com"}
    assert status_turn["status"] == "completed"
    assert "ORD-12345" in status_turn["text"] and "shipped" in status_turn["text"].lower()
    assert status_turn["text"] in done.stdout
    events = status_turn["events"]
    # Stream 1 ends at requires_action; the submitToolOutputs stream starts with the tool step completed.
    assert events[events.index("thread.run.requires_action") + 1] == "thread.run.step.completed"
    assert events[-1] == "thread.run.completed"

    # The customer confirms the return the assistant proposed; the client-side function opens it.
    returns = [call for turn in later_turns for call in turn["toolCalls"]]
    assert [call["name"] for call in returns] == ["initiate_return"]
    assert returns[0]["arguments"] == {"orderId": "ORD-12345", "itemId": "ITEM-1", "reason": "defective"}
    assert "RMA-1001" in later_turns[-1]["text"]

    stored = summary["storedMessages"]
    assert [m["role"] for m in stored] == ["user", "assistant"] * 3
    assert [m["text"] for m in stored[1::2]] == [turn["text"] for turn in summary["turns"]]
