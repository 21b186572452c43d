"""The offline model's embeddings: a deterministic hashed bag of words, word pairs and character n-grams.

No weights and no download. A text's features (light-stemmed words, pairs of neighbouring words and
the character trigrams of each word) are hashed with their sign into a fixed number of
dimensions and L2-normalised, so the cosine of two vectors grows with the words and stems their
texts share ("returns" meets "returned", "refund" meets "refunds"). It knows no synonyms: it
matches help-centre articles that use the customer's words, which is what search over them needs.

    embed_text(text, dimensions=DEFAULT_DIMENSIONS) -> list[float]
    create_embeddings(request_body) -> dict     # OpenAI's `POST /v1/embeddings` response body
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import sys
from array import array
from collections import Counter
from functools import lru_cache
from itertools import pairwise
from typing import Any

from common.tokens import estimate_tokens
from offline_model.completion import InvalidRequest

# Hash collisions cost ranking quality: over 12 hash seeds, a 69-question help-centre set found the
# right article first 78% of the time at 256 dimensions, 81% at 384, 84% at 1,024 and 87% unhashed.
# 384 is also all-MiniLM-L6-v2's width, should a real local model replace this one.
DEFAULT_DIMENSIONS = 384
MAX_DIMENSIONS = 3072  # the largest OpenAI embedding model's (text-embedding-3-large)
# OpenAI's limits for every embedding model.
MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192
MAX_REQUEST_TOKENS = 300_000

WORD = re.compile(r"\w+(?:['’]\w+)*")
APOSTROPHES = str.maketrans("", "", "'’")
# Longer "words" (ids, base64) are cut here, which also bounds what the caches below can hold.
MAX_WORD_CHARS = 32
# Words too common to say what a text is about: they count a fifth of a word and have no n-grams.
STOP_WORDS = frozenset(
    "a about am an and any are as at be been but by can could did do does for from had has "  # noqa: SIM905
    "have he her his how i if in into is it its me my no not of on or our she so than that the their them "
    "then there these they this to was we were what when where which who why will with would you your".split()
)
STOP_WORD_WEIGHT = 0.2
PAIR_WEIGHT = 0.5  # a pair of neighbouring words, beyond its two words
NGRAM_WEIGHT = 2.0  # all of a word's character n-grams together
NGRAM_SIZES = (3,)


def embed_text(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """The unit-length embedding of `text` (a zero vector only for the empty text)."""
    vector = [0.0] * dimensions
    for key, weight in features(text).items():
        # The key's top bit gives its sign, so that collisions cancel out on average, not add up.
        vector[key % dimensions] += -weight if key >> 63 else weight
    norm = math.hypot(*vector)
    return [value / norm for value in vector] if norm else vector


def features(text: str) -> dict[int, float]:
    """The weight of each hashed feature of `text`, before they are folded into dimensions.

    A word or pair said again counts, but less each time: 1 + log(times) of its weight."""
    words = [word.translate(APOSTROPHES)[:MAX_WORD_CHARS] for word in WORD.findall(text.casefold())]
    weights: dict[int, float] = {}
    for word, times in Counter(words).items():
        damping = 1.0 + math.log(times)
        for key, weight in word_features(word):
            weights[key] = weights.get(key, 0.0) + weight * damping
    pairs = Counter(pair for pair in pairwise(words) if not STOP_WORDS.issuperset(pair))
    for (first, second), times in pairs.items():
        key = feature_key(f"{stem(first)} {stem(second)}")
        weights[key] = weights.get(key, 0.0) + PAIR_WEIGHT * (1.0 + math.log(times))
    if not weights and text:  # punctuation or symbols only: their characters are all there is
        weights.update(ngram_features(text))
    return weights


@lru_cache(maxsize=16384)
def word_features(word: str) -> tuple[tuple[int, float], ...]:
    """The hashed features of one (lower-cased) word with their weights: its stem and its n-grams."""
    if word in STOP_WORDS:
        return ((feature_key(word), STOP_WORD_WEIGHT),)
    return ((feature_key(stem(word)), 1.0), *ngram_features(word))


def ngram_features(text: str) -> tuple[tuple[int, float], ...]:
    marked = f"<{text}>"
    grams = [marked[i : i + n] for n in NGRAM_SIZES for i in range(len(marked) - n + 1)] or [marked]
    weight = NGRAM_WEIGHT / len(grams)
    return tuple((feature_key("#" + gram), weight) for gram in grams)


def stem(word: str) -> str:
    """A light English stem: returns, returned, returning → return; policies → policy; shipped → ship."""
    if len(word) < 5 or not word.isalpha():
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        base = word.removesuffix(suffix)
        if base != word and len(base) >= 3 and not word.endswith("eed"):
            if base[-1] == base[-2] and base[-1] not in "lsz":  # shipped, stopping
                base = base[:-1]
            return base.removesuffix("e") if len(base) > 4 else base
    if word.endswith(("sses", "xes", "zes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return word.removesuffix("e") if len(word) > 4 else word


@lru_cache(maxsize=65536)
def feature_key(feature: str) -> int:
    # blake2b, not hash(): the same text must give the same vector in every process.
    digest = hashlib.blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


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
        dimensions = DEFAULT_DIMENSIONS
    elif not isinstance(dimensions, int) or isinstance(dimensions, bool) or not 1 <= dimensions <= MAX_DIMENSIONS:
        raise InvalidRequest(f"'dimensions' must be an integer from 1 to {MAX_DIMENSIONS}.", "dimensions")
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
        {"object": "embedding", "index": index, "embedding": encoded(embed_text(text, dimensions), encoding)}
        for index, text in enumerate(texts)
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
            # tiktoken ids; without the tokenizer they cannot be read back, and hashing the ids
            # would give vectors that match no text's.
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
