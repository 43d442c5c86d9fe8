"""MiniLM's forward pass in NumPy, for questions: no torch, no transformers, ~0.1 s to load.

A cold `statementbot ask` spent most of its time importing torch and
sentence-transformers to embed one short question. This module runs the same
network (BERT: 6 layers, 12 heads, hidden 384) on the same packaged
safetensors weights, with the model's own `tokenizer.json` through the
`tokenizers` library, mean-pooled and normalised as sentence-transformers
does. A test checks its vectors against sentence-transformers (cosine >=
0.9999). Ingest keeps using sentence-transformers (batched, multi-threaded);
this is for the few short texts of a question.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_LAYER_NORM_EPS = 1e-12  # BERT's
_BATCH = 16  # texts per forward pass: a question's variants fit in one


class NumpyMiniLM:
    """Sentence embeddings from a BERT-style sentence-transformers folder, computed with NumPy."""

    def __init__(self, model_dir: str | Path) -> None:
        self.model_dir = Path(model_dir)
        self._lock = threading.Lock()
        self._weights: dict[str, np.ndarray] | None = None
        self._tokenizer: Any = None
        self._threads: Any = None  # threadpoolctl controller, made with the weights
        config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        if config.get("hidden_act", "gelu") != "gelu" or config.get("model_type", "bert") != "bert":
            raise ValueError(f"{self.model_dir} is not a BERT model with GELU; the NumPy encoder cannot run it")
        st_config = self.model_dir / "sentence_bert_config.json"
        self.max_length = 256
        if st_config.exists():
            self.max_length = int(json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length", 256))

    def _load_tokenizer(self) -> Any:
        """The tokenizer alone: counting a paragraph's tokens at ingest needs no weights."""
        with self._lock:
            if self._tokenizer is None:
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
                # Untruncated, so count_tokens sees a long paragraph's full length; encode truncates.
                tokenizer.no_truncation()
                tokenizer.no_padding()
                self._tokenizer = tokenizer
            return self._tokenizer

    def _load(self) -> tuple[dict[str, np.ndarray], Any]:
        tokenizer = self._load_tokenizer()
        with self._lock:
            if self._weights is None:
                from safetensors.numpy import load_file
                from threadpoolctl import ThreadpoolController

                raw = load_file(str(self.model_dir / "model.safetensors"))
                # Checkpoints differ in whether names carry the "bert." prefix.
                self._weights = {name.removeprefix("bert."): value.astype(np.float32) for name, value in raw.items()}
                self._threads = ThreadpoolController()
            return self._weights, tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (one padded batch, padding masked out)."""
        if not texts:
            return np.zeros((0, self.hidden), dtype=np.float32)
        weights, _tokenizer = self._load()
        vectors = np.zeros((len(texts), self.hidden), dtype=np.float32)
        for rows, ids, mask in self.padded_batches(texts, _BATCH):
            # One BLAS thread: a question's matrices are small, and on a busy machine
            # OpenBLAS's thread hand-offs made a batch of 8 questions 5-10x slower (measured).
            with self._threads.limit(limits=1, user_api="blas"):
                vectors[rows] = self._embed(weights, ids, mask.astype(np.float32))
        return vectors

    def padded_batches(
        self, texts: Sequence[str], batch_size: int
    ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """(rows of `texts`, token ids, attention mask) per batch, each text cut at `max_length` tokens.

        Texts of similar length share a batch, so little work goes into padding.
        """
        tokenizer = self._load_tokenizer()
        encoded = [self.truncated(e.ids) for e in tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            length = max(len(encoded[i]) for i in rows)
            ids = np.zeros((len(rows), length), dtype=np.int64)
            mask = np.zeros((len(rows), length), dtype=np.int64)
            for row, index in enumerate(rows):
                ids[row, : len(encoded[index])] = encoded[index]
                mask[row, : len(encoded[index])] = 1
            yield rows, ids, mask

    def truncated(self, ids: Sequence[int]) -> list[int]:
        """At most max_length tokens, ending with [SEP] as the Hugging Face tokenizer truncates."""
        ids = list(ids)
        return ids if len(ids) <= self.max_length else ids[: self.max_length - 1] + ids[-1:]

    def count_tokens(self, text: str) -> int:
        return len(self._load_tokenizer().encode(text).ids)

    def _embed(self, w: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(length)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        head = self.hidden // self.heads
        scale = 1.0 / math.sqrt(head)
        # Padding positions get -inf-like scores, as BERT's extended attention mask does.
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."

            def heads(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)

            q = heads(_linear(x, w, p + "attention.self.query"))
            k = heads(_linear(x, w, p + "attention.self.key"))
            v = heads(_linear(x, w, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            attention = np.exp(scores)
            attention /= attention.sum(axis=-1, keepdims=True)
            context = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.hidden)
            x = _layer_norm(
                x + _linear(context, w, p + "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            inner = _gelu(_linear(x, w, p + "intermediate.dense"))
            x = _layer_norm(
                x + _linear(inner, w, p + "output.dense"),
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        # Mean over real tokens only, then unit length: sentence-transformers' pooling + Normalize.
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def _linear(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    return x @ w[name + ".weight"].T + w[name + ".bias"]


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + _LAYER_NORM_EPS) * gamma + beta


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (error < 1.5e-7): BERT's exact GELU without SciPy."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
