"""LangChain's retriever interface over HybridRetriever, for LLM chains.

Kept apart from `vectorstore.retrieval` so that commands that never build a
chain do not pay for importing LangChain.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from vectorstore.retrieval import SearchFilter, SearchResult


class StatementRetriever(BaseRetriever):
    """LangChain's retriever interface over HybridRetriever, for LLM chains."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    hybrid: Any
    k: int = 6
    search_filter: SearchFilter | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        result: SearchResult = self.hybrid.search(query, k=self.k, search_filter=self.search_filter)
        return [
            LCDocument(
                page_content=hit.paragraph.text,
                metadata={
                    "document": hit.paragraph.doc_id,
                    "title": result.documents[hit.paragraph.doc_id].title,
                    "paragraph": hit.paragraph.label,
                    "score": hit.score,
                    "exact": hit.exact,
                },
            )
            for hit in result.hits
        ]
