"""MiniLM through ONNX Runtime, for ingest: the same weights, about 1.5x faster than torch on CPU.

Ingest is bound by the embedding model. ONNX Runtime runs the same network
with fused kernels; on the 2-core development machine it embedded 600 archive
sentences in 35-43 s where sentence-transformers took 56-57 s, with vectors
equal to cosine 1.000000 (`bench/bench_archive.py` prints both rates).

There is no ONNX file in the model package, so the torch model is exported
once (`torch.onnx.export`, the `onnx` package) into a cache folder and checked
against sentence-transformers on fixed texts before it is used: below
`MIN_AGREEMENT` cosine the file is deleted and ingest stays on torch. Nothing
is downloaded; the export reads the packaged weights.

Tokens come from the model's own `tokenizer.json` through `NumpyMiniLM`, so a
text is cut at the same 256 tokens as everywhere else; mean pooling over real
tokens and unit length follow sentence-transformers.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vectorstore.query_encoder import NumpyMiniLM

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

# The exported graph must agree with sentence-transformers this closely on every probe text.
MIN_AGREEMENT = 0.9999
_PROBES = (
    "When is GCAP meant to be delivered?",
    "The Ministers welcomed the first landing of UK F-35B aircraft on JS KAGA.",
    "x",
    " ".join(["The leaders reaffirmed their commitment to a free and open Indo-Pacific."] * 30),  # past 256 tokens
)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OnnxUnavailable(RuntimeError):
    """ONNX Runtime cannot run the model here (missing package, failed export or disagreement)."""


def default_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("statementbot")) / "onnx"


class OnnxMiniLM:
    """Batched sentence embeddings from an ONNX export of the sentence-transformers model."""

    def __init__(
        self,
        tokens: NumpyMiniLM,
        torch_model: Callable[[], SentenceTransformer],
        cache_dir: Path | None = None,
    ) -> None:
        self.tokens = tokens  # tokenizer and truncation shared with the question encoder
        self._torch_model = torch_model  # loaded only when the export has to be made
        self.cache_dir = cache_dir or default_cache_dir()
        self._session: Any = None
        self._lock = threading.Lock()

    @functools.cached_property
    def _path(self) -> Path:
        return self._model_file()

    def _model_file(self) -> Path:
        """The export's path, named by everything that shapes it: weights, torch and ONNX Runtime versions."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            versions = f"{version('torch')}:{version('onnxruntime')}"  # without importing either (seconds)
        except PackageNotFoundError as error:
            raise OnnxUnavailable(f"{error.name} is not installed") from error
        weights = self.tokens.model_dir / "model.safetensors"
        info = weights.stat()
        key = f"{weights.resolve()}:{info.st_size}:{info.st_mtime_ns}:{versions}"
        return self.cache_dir / f"minilm-{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def exported(self) -> bool:
        """Whether the export is in the cache already (so using it costs no export)."""
        try:
            return self._path.exists()  # asked before every ingest batch: the path is worked out once
        except OnnxUnavailable:
            return False

    def load(self) -> None:
        """Open the session, exporting and checking the model first if needed; raises OnnxUnavailable."""
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime
            except ImportError as error:
                raise OnnxUnavailable("onnxruntime is not installed") from error
            path = self._path
            fresh = not path.exists()
            if fresh:
                self._export(path)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = os.cpu_count() or 1
            options.log_severity_level = 3  # warnings about unused initialisers are noise
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            self._session = session
        if fresh:
            self._check_agreement(path)

    def _export(self, path: Path) -> None:
        try:
            import onnx  # noqa: F401 - torch.onnx.export needs it; fail early with a clear reason
            import torch
        except ImportError as error:
            raise OnnxUnavailable(f"exporting the model needs {error.name}") from error
        model = self._torch_model()
        bert: Any = model[0].auto_model
        network = _last_hidden_state(bert.eval())
        sample = {name: torch.ones((2, 8), dtype=torch.int64) for name in _INPUTS}
        sample["token_type_ids"] = torch.zeros((2, 8), dtype=torch.int64)
        axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        log.info("exporting the embedding model to ONNX (once): %s", path)
        try:
            with torch.no_grad():
                torch.onnx.export(
                    network,
                    tuple(sample[name] for name in _INPUTS),
                    str(partial),
                    input_names=list(_INPUTS),
                    output_names=["last_hidden_state"],
                    dynamic_axes=axes,
                    opset_version=17,
                    dynamo=False,
                )
            os.replace(partial, path)  # another process may export too; either copy is the same
        except Exception as error:  # torch raises many types; all mean "no ONNX here"
            partial.unlink(missing_ok=True)
            raise OnnxUnavailable(f"the ONNX export failed: {error.__class__.__name__}: {error}") from error

    def _check_agreement(self, path: Path) -> None:
        reference = self._torch_model().encode(
            list(_PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        agreement = float(np.min(np.sum(self.encode(list(_PROBES)) * reference, axis=1)))
        if agreement < MIN_AGREEMENT:
            with self._lock:
                self._session = None
            path.unlink(missing_ok=True)
            raise OnnxUnavailable(f"the ONNX export agrees with sentence-transformers only to cosine {agreement:.6f}")
        log.info("ONNX embedding model checked: cosine %.6f with sentence-transformers", agreement)

    def encode(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Unit-length float32 vectors, one row per text; texts of similar length share a batch."""
        if not texts:
            return np.zeros((0, self.tokens.hidden), dtype=np.float32)
        self.load()
        vectors = np.zeros((len(texts), self.tokens.hidden), dtype=np.float32)
        for rows, ids, mask in self.tokens.padded_batches(texts, batch_size):
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, feeds)[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
            vectors[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return vectors


def _last_hidden_state(bert: Any) -> Any:
    """The BERT encoder as a module of positional tensors returning its last hidden state (exportable)."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    return LastHiddenState()
