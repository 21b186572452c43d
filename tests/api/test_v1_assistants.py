"""/v1/assistants: the API's shapes (checked against the openai SDK's own types), validation, server tools."""

from __future__ import annotations

import pytest
from openai.types.beta import Assistant as SdkAssistant
from openai.types.beta import AssistantDeleted

from runtime import runs
from runtime.models import Assistant
from runtime.tools import registry
from tests.api import GET_ORDER_STATUS, ORDER_SUPPORT

pytestmark = pytest.mark.django_db


def test_creating_the_order_support_assistant_answers_every_field_of_the_api(owner_client):
    owner, client = owner_client
    response = client.post("/v1/assistants", {**ORDER_SUPPORT, "metadata": {"team": "support"}})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(SdkAssistant.model_fields) | {"server_tools"}
    assert body["id"].startswith("asst_") and body["object"] == "assistant"
    assert body["tools"] == ORDER_SUPPORT["tools"]
    assert body["metadata"] == {"team": "support"}
    assert body["description"] is None and body["temperature"] is None
    assert body["response_format"] == "auto" and body["tool_resources"] == {}
    assert body["server_tools"] == []
    SdkAssistant.model_validate(body, strict=True)
    stored = Assistant.objects.get(public_id=body["id"])
    assert stored.owner == owner and stored.model == "gpt-4o"


def test_retrieve_modify_and_delete(client):
    created = client.post("/v1/assistants", {"model": "gpt-4o-mini", "name": "Helper"}).json()
    url = f"/v1/assistants/{created['id']}"

    assert client.get(url).json() == created
    modified = client.post(url, {"instructions": "Be brief.", "temperature": 0.2, "metadata": {"v": "2"}}).json()
    assert modified["instructions"] == "Be brief." and modified["temperature"] == 0.2
    assert modified["name"] == "Helper" and modified["model"] == "gpt-4o-mini"
    assert client.post(url, {"name": None}).json()["name"] is None

    deleted = client.delete(url)
    assert deleted.status_code == 200
    AssistantDeleted.model_validate(deleted.json(), strict=True)
    assert deleted.json() == {"id": created["id"], "object": "assistant.deleted", "deleted": True}
    assert client.get(url).status_code == 404


def test_deleting_an_assistant_that_ran_keeps_its_runs_and_their_assistant_id(owner_client):
    owner, client = owner_client
    created = client.post("/v1/assistants", ORDER_SUPPORT).json()
    thread = runs.thread_create(owner=owner)
    run = client.post(f"/v1/threads/{thread.public_id}/runs", {"assistant_id": created["id"]}).json()

    response = client.delete(f"/v1/assistants/{created['id']}")

    assert response.status_code == 200
    assert response.json() == {"id": created["id"], "object": "assistant.deleted", "deleted": True}
    assert not Assistant.objects.filter(public_id=created["id"]).exists()
    kept = client.get(f"/v1/threads/{thread.public_id}/runs/{run['id']}").json()
    assert kept["assistant_id"] == created["id"]
    assert kept["status"] in ("completed", "cancelled")  # an active run is cancelled with its assistant


def test_server_tools_are_validated_against_the_registry_and_returned(client):
    names = ["get_order_status", "track_shipment"]
    assert set(names) <= set(registry.names())

    created = client.post("/v1/assistants", {"model": "gpt-4o-mini", "server_tools": names})
    unknown = client.post("/v1/assistants", {"model": "gpt-4o-mini", "server_tools": ["launch_rockets"]})

    assert created.status_code == 200 and created.json()["server_tools"] == names
    assert unknown.status_code == 400
    assert unknown.json()["error"]["param"] == "server_tools[0]"
    assert "no server tool named 'launch_rockets'" in unknown.json()["error"]["message"]


def test_a_name_cannot_be_both_a_client_function_and_a_server_tool(client):
    both = client.post(
        "/v1/assistants", {"model": "m", "tools": [GET_ORDER_STATUS], "server_tools": ["get_order_status"]}
    )
    created = client.post("/v1/assistants", {"model": "m", "server_tools": ["get_order_status"]}).json()
    later = client.post(f"/v1/assistants/{created['id']}", {"tools": [GET_ORDER_STATUS]})

    assert both.status_code == 400 and both.json()["error"]["param"] == "server_tools"
    assert later.status_code == 400
    assert Assistant.objects.get(public_id=created["id"]).tools == []


def test_file_search_and_code_interpreter_tools_are_stored_as_given(client):
    tools = [
        {"type": "code_interpreter"},
        {"type": "file_search", "file_search": {"max_num_results": 5}},
        GET_ORDER_STATUS,
    ]
    body = client.post("/v1/assistants", {"model": "gpt-4o", "tools": tools}).json()

    assert body["tools"] == tools
    SdkAssistant.model_validate(body)


@pytest.mark.parametrize(
    ("payload", "param", "words"),
    [
        ({}, "model", "required"),
        ({"model": "m", "name": "n" * 257}, "name", "256"),
        ({"model": "m", "description": "d" * 513}, "description", "512"),
        ({"model": "m", "instructions": "i" * 256_001}, "instructions", "256000"),
        ({"model": "m", "temperature": 2.5}, "temperature", "2"),
        ({"model": "m", "top_p": 1.5}, "top_p", "1"),
        ({"model": "m", "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "at most 16 properties"),
        ({"model": "m", "metadata": {"k" * 65: "v"}}, "metadata", "at most 64 characters"),
        ({"model": "m", "metadata": {"k": "v" * 513}}, "metadata.k", "maximum length 512"),
        ({"model": "m", "metadata": {"k": 1}}, "metadata.k", "expected a string"),
        ({"model": "m", "tools": [{"type": "browser"}]}, "tools[0].type", "expected one of"),
        (
            {"model": "m", "tools": [{"type": "function", "function": {"name": "get order"}}]},
            "tools[0].function.name",
            "does not match pattern",
        ),
        ({"model": "m", "tools": [{"type": "code_interpreter"}] * 129}, "tools", "maximum length 128"),
        ({"model": "m", "tools": [GET_ORDER_STATUS, GET_ORDER_STATUS]}, "tools[1].function.name", "duplicate"),
        ({"model": "m", "response_format": {"type": "yaml"}}, "response_format", "json_schema"),
        ({"model": "m", "server_tool": ["get_order_status"]}, "server_tool", "Unrecognized request argument"),
    ],
)
def test_invalid_assistants_are_refused_naming_the_param(client, payload, param, words):
    response = client.post("/v1/assistants", payload)

    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert words in error["message"]
    assert not Assistant.objects.exists()
