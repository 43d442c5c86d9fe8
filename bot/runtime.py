"""Composition root: the one place that opens the store, model and answerer."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from qa.service import AnswerBackend, StatementService
    from vectorstore.embeddings import Embedder
    from vectorstore.mirror import CorpusMirror


def build_service(settings: Settings, *, embedder: Embedder | None = None) -> StatementService:
    """Open every resource the front ends need, from settings alone.

    `embedder` shares an already loaded model (tests, benchmarks building several services);
    by default the bundled MiniLM is loaded here.
    """
    from platformdirs import user_cache_dir

    from qa.extractive import ExtractiveAnswerer
    from qa.service import StatementService
    from vectorstore.embeddings import Embedder
    from vectorstore.indexing import Indexer
    from vectorstore.lexical import LexicalIndex
    from vectorstore.mirror import lexical_path
    from vectorstore.retrieval import HybridRetriever
    from vectorstore.store import ParagraphStore

    embedder = Embedder(backend=settings.embed_backend) if embedder is None else embedder
    if settings.chroma_url:
        store = ParagraphStore.open_server(
            settings.chroma_url, embedder, prefix=settings.collection, timeout_s=settings.chroma_timeout_s
        )
        # Each process keeps its own cache of the shared server's corpus.
        tag = hashlib.sha256(f"{settings.chroma_url}|{settings.collection}".encode()).hexdigest()[:12]
        from pathlib import Path

        index_path = Path(user_cache_dir("statementbot")) / f"lexical-{tag}.sqlite3"
    else:
        store = ParagraphStore.open_embedded(settings.data_dir, embedder, prefix=settings.collection)
        index_path = lexical_path(settings.data_dir, settings.collection)
    retriever = HybridRetriever(store, LexicalIndex(store, index_path), resident_max_mb=settings.resident_vectors_mb)
    extractive = ExtractiveAnswerer(retriever, abstain_threshold=settings.abstain_threshold)
    answerer: AnswerBackend = extractive
    if settings.llm_provider != "none":
        from qa.llm import LLMConfig, build_llm_answerer

        config = LLMConfig(
            provider=settings.llm_provider,
            model=settings.llm_model,
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            temperature=settings.llm_temperature,
            timeout_s=settings.llm_timeout_s,
            max_tokens=settings.llm_max_tokens,
        )
        answerer = build_llm_answerer(config, retriever=retriever, extractive=extractive)
    return StatementService(
        store=store,
        indexer=Indexer(store, max_bytes=settings.max_file_bytes),
        retriever=retriever,
        answerer=answerer,
        sample_dir=settings.sample_dir,
        max_question_chars=settings.max_question_chars,
    )


def open_mirror(settings: Settings) -> CorpusMirror | None:
    """The embedded store's local mirror when it holds the current corpus, for read-only commands
    (vectorstore/mirror.py); None for a server, or when the store must be opened."""
    if settings.chroma_url:
        return None
    from vectorstore.mirror import CorpusMirror

    return CorpusMirror.open(settings.data_dir, settings.collection)
