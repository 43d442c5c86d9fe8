"""Ingest embeds through ONNX Runtime, with the vectors of sentence-transformers, and falls back to torch."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from ingest.sentences import split_sentences
from tests.conftest import SEED
from vectorstore import onnx_encoder
from vectorstore.embeddings import QUERY_TEXTS, Embedder
from vectorstore.onnx_encoder import OnnxMiniLM, OnnxUnavailable


def _texts() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    # More than QUERY_TEXTS, so the batch path is taken; the last text is cut at 256 tokens.
    return sentences + ["When is GCAP meant to be delivered?", "who?", "word " * 300] * 3


def test_onnx_vectors_are_those_of_sentence_transformers(embedder: Embedder) -> None:
    """Every sentence of the sample statement agrees to cosine >= 0.9999, and so do token counts."""
    texts = _texts()
    assert len(texts) > QUERY_TEXTS
    onnx = Embedder(backend="onnx", onnx_after_texts=0)
    vectors = onnx.encode(texts)
    assert onnx.backend == "onnx"  # no fallback happened
    reference = embedder._load().encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert vectors.shape == (len(texts), 384)
    assert float((vectors * reference).sum(axis=1).min()) >= 0.9999
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_the_export_is_made_once_per_cache_folder(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second encoder on the same cache folder opens the exported file; it does not export again."""
    first = Embedder(backend="onnx", onnx_after_texts=0)
    first.encode(_texts())
    cache = first._onnx_encoder()._model_file()
    assert cache.exists()

    def no_export(self: OnnxMiniLM, path: Path) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(OnnxMiniLM, "_export", no_export)
    second = Embedder(backend="onnx")  # the default threshold: the export in the cache is used at once
    second.encode(_texts())
    assert second.backend == "onnx"
    assert second._model is None  # torch was never loaded


def test_ingest_falls_back_to_torch_when_onnx_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed export (no ONNX here) is logged once and the same vectors come from sentence-transformers."""

    def failed_export(self: OnnxMiniLM, path: Path) -> None:
        raise OnnxUnavailable("exporting the model needs onnx")

    monkeypatch.setattr(onnx_encoder, "default_cache_dir", lambda: tmp_path / "empty-cache")
    monkeypatch.setattr(OnnxMiniLM, "_export", failed_export)
    fallback = Embedder(backend="onnx", onnx_after_texts=0)
    with caplog.at_level(logging.WARNING, logger="vectorstore.embeddings"):
        vectors = fallback.encode(_texts())
    assert fallback.backend == "torch"
    assert "embedding with torch instead of ONNX Runtime: exporting the model needs onnx" in caplog.text
    reference = Embedder(backend="torch").encode(_texts())
    assert float((vectors * reference).sum(axis=1).min()) >= 0.9999


def test_a_small_ingest_does_not_pay_for_the_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no export in the cache, texts up to `onnx_after_texts` go through torch; past it, the export is made."""
    exports: list[Path] = []

    def counted_export(self: OnnxMiniLM, path: Path) -> None:
        exports.append(path)
        raise OnnxUnavailable("not exported in this test")

    monkeypatch.setattr(onnx_encoder, "default_cache_dir", lambda: tmp_path / "empty-cache")
    monkeypatch.setattr(OnnxMiniLM, "_export", counted_export)
    texts = _texts()
    small = Embedder(backend="onnx", onnx_after_texts=2 * len(texts))
    small.encode(texts)
    assert exports == []
    assert small.backend == "onnx"  # still to be tried once the ingest grows
    small.encode([*texts, "one more"])  # past the threshold
    assert len(exports) == 1
    assert small.backend == "torch"


def test_warm_up_makes_the_export_when_none_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-running process on a fresh machine (only the bundled sample ingested, so no export yet) makes the
    export when it warms up, and answers through ONNX from the first question."""
    machine = Embedder(backend="onnx")._onnx_encoder()
    machine.load()  # this machine's export, made once and cached: copied below instead of exported again
    exports: list[Path] = []

    def copied_export(self: OnnxMiniLM, path: Path) -> None:
        exports.append(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(machine._path, path)

    monkeypatch.setattr(onnx_encoder, "default_cache_dir", lambda: tmp_path / "empty-cache")
    monkeypatch.setattr(OnnxMiniLM, "_export", copied_export)
    fresh = Embedder(backend="onnx")
    assert not fresh._onnx_encoder().exported()
    fresh.warm()
    assert len(exports) == 1
    assert fresh._onnx is not None
    assert fresh._onnx.loaded


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown embedding backend 'gpu'"):
        Embedder(backend="gpu")


def test_a_warmed_process_embeds_questions_through_onnx(embedder: Embedder) -> None:
    """After warm() with an export cached, a question and its variants go through ONNX, with the same vectors."""
    Embedder(backend="onnx", onnx_after_texts=0).encode(_texts())  # makes sure the export is cached
    questions = ["When is GCAP meant to be delivered?", "When is meant to be delivered?", "who?"]
    warmed = Embedder(backend="onnx")
    warmed.warm()
    vectors = warmed.encode(questions)
    assert warmed._onnx is not None
    assert warmed._onnx.loaded
    assert warmed._light is None or warmed._light._weights is None  # the NumPy weights were never read
    reference = Embedder(backend="torch").encode(questions)  # a few texts, no warm-up: the NumPy encoder
    assert float((vectors * reference).sum(axis=1).min()) >= 0.9999
