"""The official openai Node SDK against a live Concierge: files, vector stores (polled until
ingested), a file batch and search, by tests/e2e/node/knowledge.mjs.

The server is this module's own daphne, so uploads go to a directory of the test session's. The SDK
is installed by `make test` (npm ci in tests/e2e/node).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from accounts.models import ApiKey
from tests.e2e.conftest import LiveServer, running_daphne, server_environment
from tests.e2e.test_openai_node_sdk import NODE_DIR, node, run_script  # noqa: F401  (a fixture, used by name)
from tests.factories import UserFactory
from tests.knowledge.v1 import RETURNS_MD

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCRIPT = NODE_DIR / "knowledge.mjs"


@pytest.fixture(scope="module")
def knowledge_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    with django_db_blocker.unblock():
        env = {**server_environment(), "MEDIA_ROOT": str(tmp_path_factory.mktemp("media"))}
    with running_daphne(env, tmp_path_factory.mktemp("daphne") / "daphne.log") as server:
        yield server


def test_upload_store_batch_and_search_on_the_node_sdk(node, knowledge_server, transactional_db):  # noqa: F811
    _, raw = ApiKey.issue(owner=UserFactory(username="node-knowledge"), name="node sdk")

    done = run_script(node, knowledge_server.url, raw, script=SCRIPT)

    assert done.returncode == 0, done.stdout + done.stderr + knowledge_server.log_tail()
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    uploaded = summary["uploaded"]
    assert uploaded["id"].startswith("file-") and uploaded["filename"] == "returns.md"
    assert uploaded["bytes"] == len(RETURNS_MD) and uploaded["purpose"] == "assistants"
    assert summary["downloadedSame"] is True
    assert summary["store"]["id"].startswith("vs_")
    assert summary["added"] == {"id": uploaded["id"], "status": "completed", "attributes": {"topic": "returns"}}
    batch = summary["batch"]
    assert batch["id"].startswith("vsfb_") and batch["status"] == "completed"
    assert batch["fileCounts"] == {"in_progress": 0, "completed": 2, "failed": 0, "cancelled": 0, "total": 2}
    assert summary["ready"]["status"] == "completed" and summary["ready"]["fileCounts"]["completed"] == 3
    best = summary["hits"][0]
    assert best["filename"] == "shipping.md" and "express shipping" in best["text"] and 0 <= best["score"] <= 1
    assert summary["filtered"] and set(summary["filtered"]) == {uploaded["id"]}
    assert len(summary["storeFiles"]) == 3 and {f["status"] for f in summary["storeFiles"]} == {"completed"}
    assert len(summary["files"]) == 3 and uploaded["id"] in summary["files"]
