"""Real backends, no fakes: sentence-transformers on a shipped model, llama.cpp in process,
an OpenAI-compatible server on 127.0.0.1 (llama-cpp-python's), and failing endpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CORPUS, ROOT, make_settings

from assistant.answer import Assistant, answer, answer_stream
from assistant.indexing import run_ingest
from assistant.llm import resolve_model_path
from assistant.procs import free_port, serving
from assistant.retrieval import Retriever

QUIET = {"progress": False, "log": lambda m: None}


def test_sentence_transformers_backend_on_shipped_model(tmp_path: Path) -> None:
    from all_minilm_l6_v2 import extract_model

    model_dir = extract_model(str(tmp_path / "models"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "gpu.md").write_text("# GPU markets\n\nDecentralized GPU markets rent idle graphics cards to AI developers.\n", encoding="utf-8")
    (corpus / "food.md").write_text("# Cooking\n\nA chocolate cake needs flour, sugar, eggs and cocoa.\n", encoding="utf-8")
    settings = make_settings(tmp_path, corpus, embed_backend="sentence-transformers", embed_model=str(model_dir))
    summary = run_ingest(settings, **QUIET)
    assert summary.added == 2
    retriever = Retriever(settings)
    assert retriever.embeddings.signature()["embedder_dim"] == 384
    assert retriever.embeddings.backend == "sentence-transformers"
    result = retriever.search("Where can I rent graphics cards for machine learning?", k=2, mode="dense")
    assert result.hits[0].doc.metadata["source"] == "gpu.md"
    assert result.hits[0].dense > result.hits[1].dense


@pytest.fixture(scope="module")
def gguf() -> Path:
    settings = make_settings(Path("/tmp"), CORPUS)
    return resolve_model_path(settings)


def _check_answer(response) -> None:
    assert response.answer.strip()
    if not response.refused:
        # the model's text is shown only when it cites; otherwise the passages are quoted instead
        assert response.citations, response.answer
        ids = {r["id"] for r in response.retrieved}
        assert all(c.id in ids for c in response.citations)  # every citation is a retrieved passage
        if response.backend == "extractive":
            assert response.status != "answered" and response.notice, response.reason


def _model_answered(response, backend: str) -> bool:
    """The model was reached and wrote an answer (shown, or set aside for the quoted passages)."""
    return not response.error and bool(response.generated.strip()) and response.backend in {backend, "extractive"}


def test_llamacpp_in_process_answers_both_languages(built_settings, gguf: Path) -> None:
    settings = built_settings.model_copy(update={"llm_backend": "llamacpp", "llm_model_path": gguf, "llm_max_tokens": 96, "llm_ctx": 4096})
    assistant = Assistant(settings, retriever=Retriever(settings))
    for question, language in [("What is Akash Network?", "en"), ("ما هي شبكة أكاش؟", "ar")]:
        events = list(answer_stream(assistant, question, k=3))
        final = events[-1].response
        assert _model_answered(final, "llamacpp"), final.notice
        assert final.language == language
        assert sum(e.kind == "token" for e in events) > 1  # streamed
        _check_answer(final)


def test_llamacpp_concurrent_follow_ups_share_one_model_safely(built_settings, gguf: Path) -> None:
    """The chat queue runs several requests at once: the rewrite of a follow-up and the answers of
    others both call the in-process llama.cpp context, which is not re-entrant."""
    import threading

    settings = built_settings.model_copy(update={"llm_backend": "llamacpp", "llm_model_path": gguf, "llm_max_tokens": 32,
                                                 "llm_ctx": 2048})
    assistant = Assistant(settings, retriever=Retriever(settings))
    history = [{"role": "user", "content": "What is Render Network?"}, {"role": "assistant", "content": "A GPU rendering network."}]
    calls, inside, overlap = [], [0], []
    model = assistant.llm()
    real_invoke, real_stream = type(model).invoke, type(model).stream

    def track(real):
        def wrapped(self, *args, **kwargs):
            inside[0] += 1
            if inside[0] > 1:
                overlap.append(1)
            try:
                calls.append(real.__name__)
                result = real(self, *args, **kwargs)
                return list(result) if real.__name__ == "stream" else result
            finally:
                inside[0] -= 1
        return wrapped

    type(model).invoke, type(model).stream = track(real_invoke), track(real_stream)
    try:
        finals, errors = [], []

        def ask(question: str) -> None:
            try:
                finals.append(answer(assistant, question, history, k=2))
            except Exception as exc:  # noqa: BLE001 - collected, the assertion reports it
                errors.append(exc)

        questions = ["And which blockchain does it run on now?", "ما هي شبكة أكاش؟", "And why did it move?", "What is Akash Network?"]
        threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
    finally:
        type(model).invoke, type(model).stream = real_invoke, real_stream
    assert errors == [] and len(finals) == len(questions)
    assert all(_model_answered(f, "llamacpp") and f.answer.strip() for f in finals)  # the model never failed
    assert "invoke" in calls and "stream" in calls  # follow-ups were rewritten by the model, answers streamed
    assert overlap == []  # never two calls in the model at once


def test_missing_gguf_falls_back_with_message(built_settings, tmp_path: Path) -> None:
    settings = built_settings.model_copy(update={"llm_backend": "llamacpp", "llm_model_path": tmp_path / "nope.gguf"})
    response = answer(Assistant(settings, retriever=Retriever(settings)), "What is Akash Network?")
    assert response.backend == "extractive" and "nope.gguf" in response.notice and response.citations


@pytest.fixture(scope="module")
def openai_server(gguf: Path):
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1, with an API key."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
           "--n_ctx", "4096", "--api_key", "test-key", "--model_alias", "smollm2"]
    url = f"http://127.0.0.1:{port}/v1"
    with serving(cmd, url + "/models", 120, headers={"Authorization": "Bearer test-key"}):
        yield url


def _openai_settings(built_settings, url: str, key: str = "test-key"):
    return built_settings.model_copy(update={
        "llm_backend": "openai", "llm_base_url": url, "llm_api_key": key, "llm_model": "smollm2",
        "llm_max_tokens": 96, "llm_timeout": 60.0, "llm_retries": 1,
    })


def test_openai_compatible_server_streams(built_settings, openai_server: str) -> None:
    settings = _openai_settings(built_settings, openai_server)
    assistant = Assistant(settings, retriever=Retriever(settings))
    events = list(answer_stream(assistant, "Which blockchain did Render Network move to?", k=3))
    final = events[-1].response
    assert _model_answered(final, "openai"), final.notice
    assert sum(e.kind == "token" for e in events) > 1
    _check_answer(final)


def test_eval_measures_the_answers_of_a_model_behind_the_server(built_settings, openai_server: str, tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"id": "x", "lang": "en", "question": "Which blockchain did Render Network move to?",
                              "gold_keywords": ["Solana"], "answerable": True}) + "\n", encoding="utf-8")
    env = {**os.environ, "LLM_BASE_URL": openai_server, "LLM_API_KEY": "test-key", "LLM_MODEL": "smollm2", "LLM_MAX_TOKENS": "48"}
    out = subprocess.run([sys.executable, "-m", "assistant", "eval", "--set", str(qa), "--store", str(built_settings.store_dir),
                          "--backend", "openai", "--json"], capture_output=True, text=True, check=True, cwd=ROOT, env=env, timeout=300)
    data = json.loads(out.stdout)
    row = data["questions"][0]
    assert data["summary"]["backend"] == "openai"
    assert row["generated"].strip() and row["backend"] in {"openai", "extractive"}  # the model answered; shown or set aside
    if row["backend"] == "extractive":  # set aside: the passages are quoted, and the status says so
        assert row["status"] == "unsure" and row["answer"] != row["generated"]


def test_openai_bad_key_is_readable_and_not_retried(built_settings, openai_server: str) -> None:
    settings = _openai_settings(built_settings, openai_server, key="wrong")
    started = time.time()
    response = answer(Assistant(settings, retriever=Retriever(settings)), "What is Akash Network?")
    assert response.backend == "extractive" and "401" in response.notice and response.citations
    assert time.time() - started < 30


def test_unreachable_endpoint_is_readable_and_bounded(built_settings) -> None:
    settings = _openai_settings(built_settings, f"http://127.0.0.1:{free_port()}/v1")
    settings = settings.model_copy(update={"llm_timeout": 5.0})
    started = time.time()
    response = answer(Assistant(settings, retriever=Retriever(settings)), "ما هي شبكة أكاش؟")
    assert response.backend == "extractive" and response.citations
    assert "لا يمكن" in response.notice or "غير متاح" in response.notice
    assert "Traceback" not in response.notice and time.time() - started < 30
