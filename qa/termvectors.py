"""Soft term matching with the embedding model's own static token vectors.

A question term is *softly* backed by a passage when some word of the passage
lies close to it in the input embedding table of the model that embeds the
paragraphs (MiniLM's word-piece embeddings): "warship" is close to
"destroyer", "price" to "cost", "Aussie" to "Australian", while "weapons" and
"hurricane" are not. A word's vector is the mean of its word pieces' rows,
centred on the table's mean (the raw rows share a large common component) and
normalised, so a word matches itself with cosine 1.

No forward pass runs: the table is read once from the model's safetensors
file, and each word's vector is a lookup, so this costs microseconds per
question (the issue's latency budget allows no transformer pass over evidence
at query time).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

import numpy as np

_TABLE = "embeddings.word_embeddings.weight"


class TermVectors:
    """Static word vectors from a sentence-transformers model folder (`model.safetensors`, `tokenizer.json`)."""

    def __init__(self, model_dir: str | Path) -> None:
        from safetensors import safe_open
        from tokenizers import Tokenizer

        folder = Path(model_dir)
        with safe_open(str(folder / "model.safetensors"), "np") as tensors:
            table = np.asarray(tensors.get_tensor(_TABLE), dtype=np.float32)
        table = table - table.mean(axis=0)
        self._table = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-9)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # The shipped tokenizer pads to a fixed length; single words need neither padding nor truncation.
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.vector = functools.lru_cache(maxsize=65536)(self._vector)

    def _vector(self, word: str) -> np.ndarray:
        ids = self._tokenizer.encode(word, add_special_tokens=False).ids
        if not ids:
            return np.zeros(self._table.shape[1], dtype=np.float32)
        mean = self._table[ids].mean(axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-9)

    def matrix(self, words: Iterable[str]) -> np.ndarray:
        """One row per word (in the order given)."""
        rows = [self.vector(word) for word in words]
        return np.stack(rows) if rows else np.zeros((0, self._table.shape[1]), dtype=np.float32)


@functools.cache
def bundled_term_vectors() -> TermVectors:
    """The static vectors of the bundled MiniLM (the model `vectorstore.embeddings` embeds with)."""
    from vectorstore.embeddings import bundled_model_path

    return TermVectors(bundled_model_path())
