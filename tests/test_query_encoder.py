"""Questions are embedded without torch, and their vectors are those of sentence-transformers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from ingest.sentences import split_sentences
from tests.conftest import SEED
from vectorstore.embeddings import Embedder, bundled_model_path
from vectorstore.query_encoder import NumpyMiniLM


def test_numpy_encoder_matches_sentence_transformers(embedder: Embedder) -> None:
    """Every sentence of the sample statement and a few questions agree to cosine >= 0.9999, padding or not."""
    text = SEED.read_text(encoding="utf-8")
    texts = [text[s.start : s.end] for s in split_sentences(text)][:40]
    texts += ["When is GCAP meant to be delivered?", "who?", "word " * 260]  # the last one is truncated at 256
    light = NumpyMiniLM(bundled_model_path())
    batched = light.encode(texts)
    alone = np.stack([light.encode([t])[0] for t in texts[-3:]])
    # sentence-transformers itself, as the reference
    reference = embedder._load().encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert float((batched * reference).sum(axis=1).min()) >= 0.9999
    assert float((alone * reference[-3:]).sum(axis=1).min()) >= 0.9999
    assert light.count_tokens(texts[-1]) == embedder.count_tokens(texts[-1])


def test_embedding_a_question_imports_no_torch() -> None:
    """A fresh process embeds a question with the packaged weights and never imports torch or LangChain."""
    code = (
        "import sys; from vectorstore.embeddings import Embedder; e = Embedder(); v = e.encode(['When is GCAP due?']);"
        "assert v.shape == (1, 384), v.shape;"
        "heavy = ('torch', 'transformers', 'sentence_transformers', 'langchain_core');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert completed.stdout.strip() == "[]"
