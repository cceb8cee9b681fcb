"""The retriever behind LangChain's ``BaseRetriever`` (a Runnable): ``invoke(question)`` -> passages.

A module of its own, imported only when asked for (``Retriever.as_langchain``):
LangChain's retriever module brings its tracing machinery, about 0.3 s of
imports that the app's own question path does not use.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict


class PassageRetriever(BaseRetriever):
    """LangChain adapter of ``retrieval.Retriever``: each passage with its fused, dense and BM25 scores in metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    engine: Any
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = self.engine.search(query, k=self.k)
        out = []
        for hit in result.hits:
            meta = {**hit.doc.metadata, "score": hit.score, "dense_score": hit.dense, "bm25_score": hit.lexical}
            out.append(Document(page_content=hit.text, metadata=meta, id=hit.id))
        return out
