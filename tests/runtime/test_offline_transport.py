"""The offline model's HTTP surface in-process: the httpx2 transport, the SDK client, token estimates."""

from __future__ import annotations

import json
import time

import httpx2
import openai
import pytest

from common.tokens import estimate_message_tokens, estimate_tokens
from offline_model.transport import OfflineTransport
from runtime.llm import client as llm_client
from runtime.llm.client import chat_client, default_model, is_offline

BASE = "http://offline.concierge/v1"
HELLO = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


def raw_client(**options) -> httpx2.Client:
    return httpx2.Client(transport=OfflineTransport(**options), base_url=BASE)


def sdk(**options) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="offline",
        base_url=BASE,
        max_retries=0,
        http_client=httpx2.Client(transport=OfflineTransport(**options)),
    )


def test_models_lists_the_configured_model_names():
    models = sdk(model_names=["gpt-4o-mini", "concierge-offline"]).models.list()

    assert [model.id for model in models.data] == ["gpt-4o-mini", "concierge-offline"]
    assert sdk().models.retrieve("anything").id == "anything"


def test_a_completion_without_stream_is_a_chat_completion_object():
    response = raw_client().post("/chat/completions", json=HELLO)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]


def test_a_stream_is_server_sent_events_ending_with_done():
    request = {**HELLO, "stream": True, "stream_options": {"include_usage": True}}
    with raw_client().stream("POST", "/chat/completions", json=request) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]

    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


def test_a_stream_without_include_usage_has_no_usage_chunk():
    with raw_client().stream("POST", "/chat/completions", json={**HELLO, "stream": True}) as response:
        chunks = [json.loads(line[6:]) for line in response.iter_lines() if line and line != "data: [DONE]"]

    assert all(chunk["choices"] and "usage" not in chunk for chunk in chunks)


def test_unknown_paths_answer_404_with_the_openai_error_envelope():
    response = raw_client().get("/assistants-that-never-were")

    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    with pytest.raises(openai.NotFoundError):
        sdk().images.generate(model="dall-e-3", prompt="a shoe")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (json.dumps({"model": "m", "messages": []}).encode(), "messages"),
        (json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode(), "model"),
        (json.dumps({"model": "m", "messages": [{"role": "wizard", "content": "hi"}]}).encode(), "messages[0].role"),
        (json.dumps({**HELLO, "max_completion_tokens": 0}).encode(), "max_completion_tokens"),
    ],
)
def test_a_malformed_body_answers_400_with_the_error_envelope(body, param):
    response = raw_client().post("/chat/completions", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


def test_the_sdk_raises_bad_request_for_a_malformed_request():
    with pytest.raises(openai.BadRequestError):
        sdk().chat.completions.create(model="gpt-4o-mini", messages=[])


def test_token_delay_spaces_the_chunks_out_in_time():
    started = time.monotonic()
    stream = sdk(token_delay_ms=20).chat.completions.create(**HELLO, stream=True)
    arrivals = [time.monotonic() - started for _ in stream]

    assert len(arrivals) > 10
    assert arrivals[-1] >= (len(arrivals) - 1) * 0.020
    # Produced lazily: the first chunk came long before the last one was made.
    assert arrivals[0] < arrivals[-1] / 2


def test_a_reader_held_up_gets_the_chunks_due_meanwhile_at_once():
    """The chunks keep a fixed schedule: one read late does not push the rest back."""
    started = time.monotonic()
    stream = sdk(token_delay_ms=20).chat.completions.create(**HELLO, stream=True)
    arrivals = []
    for _ in stream:
        arrivals.append(time.monotonic() - started)
        if len(arrivals) == 2:
            time.sleep(0.3)  # the reader is busy for 15 chunks' time

    assert len(arrivals) > 20
    assert arrivals[2] - arrivals[1] >= 0.3
    assert arrivals[3] - arrivals[2] < 0.015  # already due: no 20 ms wait on top
    assert arrivals[-1] < (len(arrivals) - 1) * 0.020 + 0.15


async def test_the_async_sdk_streams_through_the_same_transport():
    client = openai.AsyncOpenAI(
        api_key="offline", base_url=BASE, http_client=httpx2.AsyncClient(transport=OfflineTransport(token_delay_ms=1))
    )
    text = ""
    async for chunk in await client.chat.completions.create(**HELLO, stream=True):
        for choice in chunk.choices:
            text += choice.delta.content or ""
    await client.close()

    assert text.startswith("Hi")


# --- the SDK client the engine uses --------------------------------------------------------------


@pytest.fixture
def fresh_clients(monkeypatch):
    monkeypatch.setattr(llm_client, "_clients", {})


def test_without_a_key_the_client_reaches_the_offline_model(settings, fresh_clients):
    settings.OPENAI_API_KEY = ""
    settings.CONCIERGE_MODEL = "concierge-test"

    client = chat_client()

    assert is_offline() and default_model() == "concierge-test"
    assert str(client.base_url) == "http://offline.concierge/v1/"
    assert client.max_retries == 0
    assert [model.id for model in client.models.list().data] == ["concierge-test"]
    reply = client.chat.completions.create(model=default_model(), messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content.startswith("Hi")


def test_with_a_key_the_client_talks_to_the_configured_provider(settings, fresh_clients):
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    settings.OPENAI_TIMEOUT_SECONDS = 42.0

    client = chat_client()

    assert not is_offline()
    assert client.api_key == "sk-test"
    assert str(client.base_url) == "http://127.0.0.1:9/v1/"
    assert client.max_retries == 0
    assert client.timeout.read == 42.0 and client.timeout.connect == 10


def test_the_client_is_built_once_per_configuration(settings, fresh_clients):
    settings.OPENAI_API_KEY = ""

    assert chat_client() is chat_client()
    assert chat_client(token_delay_ms=5) is not chat_client()


# --- token estimates ------------------------------------------------------------------------------


def test_token_estimates_count_characters_and_at_least_one_per_word():
    assert estimate_tokens("") == 0
    assert estimate_tokens("a b c d e f") == 6  # six words, eleven characters
    assert estimate_tokens("x" * 400) == 100


def test_message_estimates_include_overheads_and_tool_calls():
    plain = [{"role": "user", "content": "hello there"}]
    with_call = [
        *plain,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}],
        },
    ]
    parts = [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]

    assert estimate_message_tokens(plain) > estimate_tokens("hello there")
    assert estimate_message_tokens(with_call) > estimate_message_tokens(plain) + estimate_tokens('{"a": 1}')
    assert estimate_message_tokens(parts) == estimate_message_tokens(plain)
