"""The offline model's embeddings: OpenAI's `POST /v1/embeddings` answered by all-MiniLM-L6-v2.

The model (offline_model/minilm.py) runs in process, from weights a requirement ships: no key and no
download. Its vectors are DIMENSIONS (384) wide and unit length; a request for fewer dimensions gets
each vector's first values, L2-normalised again, as OpenAI's text-embedding-3 models shorten theirs
(this model was not trained to be shortened: shorter vectors rank less well), and one for more is
refused. A text longer than the model's window, 256 word pieces, is embedded by its beginning only.
OpenAI's limits are kept: they are what a client written for OpenAI expects to hit.

    embed_texts(texts, dimensions=DIMENSIONS) -> list[list[float]]
    create_embeddings(request_body) -> dict     # OpenAI's `POST /v1/embeddings` response body
"""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any

import numpy as np

from common.tokens import estimate_tokens
from offline_model import minilm
from offline_model.completion import InvalidRequest

DIMENSIONS = minilm.WIDTH
# OpenAI's limits for every embedding model.
MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192
MAX_REQUEST_TOKENS = 300_000


def embed_texts(texts: list[str], dimensions: int = DIMENSIONS) -> list[list[float]]:
    """The unit-length embeddings of `texts`, `dimensions` (1 to DIMENSIONS) wide, in order."""
    vectors = minilm.encode(texts)
    if dimensions < DIMENSIONS:
        vectors = vectors[:, :dimensions]
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors.tolist()


# --- the API's request and response ----------------------------------------------------------------


def create_embeddings(request: Any) -> dict[str, Any]:
    """OpenAI's response to one `POST /v1/embeddings` request body; InvalidRequest where it answers 400."""
    if not isinstance(request, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("you must provide a model parameter", "model")
    texts = check_input(request.get("input"))
    dimensions = request.get("dimensions")
    if dimensions is None:
        dimensions = DIMENSIONS
    elif not isinstance(dimensions, int) or isinstance(dimensions, bool) or not 1 <= dimensions <= DIMENSIONS:
        # runtime.llm.client reads a 400 about `dimensions` as a model of fixed width, and asks again without.
        raise InvalidRequest(
            f"'dimensions' must be an integer from 1 to {DIMENSIONS}: this model's vectors are {DIMENSIONS} wide.",
            "dimensions",
        )
    encoding = request.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise InvalidRequest(
            f"Invalid value for 'encoding_format': {encoding!r}. Supported values are: 'float' and 'base64'.",
            "encoding_format",
        )

    tokens = [estimate_tokens(text) for text in texts]
    for index, count in enumerate(tokens):
        if count > MAX_INPUT_TOKENS:
            raise InvalidRequest(
                f"This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however you requested "
                f"{count} tokens in input[{index}]. Please reduce the length of the input.",
                "input",
            )
    if sum(tokens) > MAX_REQUEST_TOKENS:
        raise InvalidRequest(f"Requested {sum(tokens)} tokens, max {MAX_REQUEST_TOKENS} tokens per request.", "input")
    data = [
        {"object": "embedding", "index": index, "embedding": encoded(vector, encoding)}
        for index, vector in enumerate(embed_texts(texts, dimensions))
    ]
    usage = {"prompt_tokens": sum(tokens), "total_tokens": sum(tokens)}
    return {"object": "list", "data": data, "model": model, "usage": usage}


def check_input(value: Any) -> list[str]:
    """The texts to embed: a non-empty string, or an array of 1 to MAX_INPUTS of them."""
    if value is None:
        raise InvalidRequest("you must provide an input parameter", "input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts:
        raise InvalidRequest("'input' must be a non-empty string or a non-empty array of strings.", "input")
    if len(texts) > MAX_INPUTS:
        raise InvalidRequest(f"'input' has {len(texts)} items; an array must be {MAX_INPUTS} items or less.", "input")
    for index, text in enumerate(texts):
        where = "input" if isinstance(value, str) else f"input[{index}]"
        if isinstance(text, int | list) and not isinstance(text, bool):
            # Clients that tokenise for the API (LangChain's OpenAIEmbeddings does by default) send
            # tiktoken ids; this model's tokenizer is another, and cannot read them back.
            raise InvalidRequest(
                "The offline model embeds text only: token arrays are not supported. Send the input as "
                "strings (LangChain: OpenAIEmbeddings(check_embedding_ctx_length=False)).",
                "input",
            )
        if not isinstance(text, str):
            raise InvalidRequest(f"'{where}' must be a string, not {type(text).__name__}.", "input")
        if not text:
            raise InvalidRequest(f"'{where}' cannot be an empty string.", "input")
    return texts


def encoded(vector: list[float], encoding: str) -> list[float] | str:
    """The vector as float32 values: a JSON array, or base64 of their little-endian bytes."""
    floats = array("f", vector)  # both formats carry the same float32 values
    if encoding == "float":
        return floats.tolist()
    if sys.byteorder == "big":
        floats.byteswap()
    return base64.b64encode(floats.tobytes()).decode("ascii")
