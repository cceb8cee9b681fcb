"""Process-wide caches keyed on everything that shapes what they hold, and the one Chroma behaviour we pin."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, ROOT, make_settings

from assistant import llm

# Every setting _build reads, with a value different from the default.
MODEL_SHAPING = {
    "llm_temperature": 0.9, "llm_threads": 1, "llm_ctx": 1024, "llm_max_tokens": 64, "llm_timeout": 5.0,
    "llm_model": "other-model", "llm_base_url": "http://127.0.0.1:9/v1", "llm_api_key": "other-key",
    "llm_model_path": Path("other.gguf"), "llm_backend": "openai",
}


@pytest.fixture
def fake_build(monkeypatch):
    built: list[object] = []

    def build(settings):
        built.append(object())
        return built[-1]

    monkeypatch.setattr(llm, "_build", build)
    monkeypatch.setattr(llm, "_MODELS", {})
    return built


def test_same_settings_share_one_model(tmp_path: Path, fake_build) -> None:
    settings = make_settings(tmp_path, tmp_path, llm_backend="llamacpp")
    assert llm.get_chat_model(settings) is llm.get_chat_model(make_settings(tmp_path, tmp_path, llm_backend="llamacpp"))
    assert len(fake_build) == 1


@pytest.mark.parametrize("field", sorted(MODEL_SHAPING))
def test_every_model_setting_gives_its_own_model(tmp_path: Path, fake_build, field: str) -> None:
    """Changing temperature, threads or context size must take effect without a restart."""
    base = make_settings(tmp_path, tmp_path, llm_backend="llamacpp")
    changed = make_settings(tmp_path, tmp_path, **{"llm_backend": "llamacpp", field: MODEL_SHAPING[field]})
    assert llm.get_chat_model(base) is not llm.get_chat_model(changed), f"{field} is not part of the model cache key"


def test_reopened_client_sees_another_process_and_old_clients_keep_working(tmp_path: Path) -> None:
    """Pins the Chroma behaviour ``store.reopen_client`` relies on (written against chromadb 1.5.9)."""
    import chromadb

    from assistant import store as store_mod
    from assistant.indexing import run_ingest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "projects" / "akash-network.md", corpus)
    settings = make_settings(tmp_path, corpus)
    run_ingest(settings, progress=False, log=lambda m: None)
    old = store_mod.get_collection(settings)
    before = set(old.get(include=[])["ids"])

    shutil.copy(CORPUS / "projects" / "render-network.md", corpus)
    env = {**os.environ, "CORPUS_DIR": str(corpus), "STORE_DIR": str(settings.store_dir)}
    subprocess.run([sys.executable, str(ROOT / "ingest.py"), "--quiet"], env=env, cwd=tmp_path, check=True, timeout=300)

    store_mod.reopen_client(settings)
    fresh = store_mod.get_collection(settings)
    added = set(fresh.get(include=[])["ids"]) - before
    how = (
        f"with chromadb {chromadb.__version__}, store.reopen_client no longer gives a client that reads the folder "
        "again. It calls the public ClientAPI.clear_system_cache(), then builds a new PersistentClient for the path; "
        "chromadb 1.5.9 then starts a new System for that path (chromadb/api/shared_system_client.py, "
        "_create_system_if_not_exists). Read that file in the installed version for how a System is now cached per "
        "path and drop only this path's System the new way; until then pin chromadb==1.5.9 in pyproject.toml."
    )
    assert added and all(i.startswith("render-network.md#") for i in added), how
    assert fresh.get(ids=sorted(added), include=["metadatas"])["metadatas"], how
    # a collection handed out before the reopen still answers (requests in flight are not broken)
    assert old.count() >= len(before), how


# -- sentence and word vectors (assistant.text_vectors) ------------------------------------------------------

class CountingEmbeddings:
    """Passage vectors from a fixed hash of the text; counts what it was asked to embed."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        self.asked.extend(texts)
        return [np.random.default_rng(sum(t.encode())).standard_normal(8).tolist() for t in texts]


def test_sentence_vectors_are_kept_on_disk_for_the_next_process(tmp_path: Path) -> None:
    import numpy as np

    from assistant.text_vectors import DiskVectors, VectorCache

    path = tmp_path / "text-vectors.sqlite"
    first = CountingEmbeddings()
    before = VectorCache(first, disk=DiskVectors(path)).passages(["a sentence", "كلمة", "a sentence"])
    assert first.asked == ["a sentence", "كلمة"]  # each text once
    again = CountingEmbeddings()
    after = VectorCache(again, disk=DiskVectors(path)).passages(["كلمة", "a sentence", "new one"])
    assert again.asked == ["new one"]  # a restart embeds only what no process embedded before
    assert np.array_equal(after[0], before[1]) and np.array_equal(after[1], before[0])


def test_a_damaged_vector_file_is_made_again_and_loses_no_answer(tmp_path: Path, caplog) -> None:
    from assistant.text_vectors import DiskVectors, VectorCache

    path = tmp_path / "text-vectors.sqlite"
    path.write_bytes(b"not a database" * 100)
    embeddings = CountingEmbeddings()
    assert VectorCache(embeddings, disk=DiskVectors(path)).passages(["one", "two"]).shape == (2, 8)
    assert "damaged" in caplog.text
    again = CountingEmbeddings()
    VectorCache(again, disk=DiskVectors(path)).passages(["one", "two"])
    assert again.asked == []  # the new file works


def test_passage_warm_up_waits_for_questions_then_leaves_them_nothing_to_embed(built_settings, tmp_path: Path) -> None:
    """The app embeds every passage's sentences and words while idle; a question then embeds only its own words."""
    import sqlite3

    from assistant.answer import Assistant, answer
    from assistant.chunking import passage_text
    from assistant.evidence import candidate_units
    from assistant.text_vectors import disk_path

    store = tmp_path / "store"
    shutil.copytree(built_settings.store_dir, store, ignore=shutil.ignore_patterns("text-vectors-*"))
    settings = built_settings.model_copy(update={"store_dir": store})
    assistant = Assistant(settings)
    assistant.retriever.warm_up()  # builds the sentence index (assistant.sentences): the lost sentence vectors come back
    units = candidate_units([passage_text(d) for d in assistant.retriever.snapshot().docs])
    sentences, words = [u.text for u in units], [w for u in units for w in u.words]
    wanted = sentences + words
    assert assistant.vectors.disk.known(sentences) == set(sentences)

    with assistant.working():  # a question is being answered: the warm-up waits
        thread = assistant.warm_passages()
        thread.join(1.0)
        assert thread.is_alive()
        assert not assistant.vectors.disk.known(words)  # nothing embedded meanwhile
    thread.join(300)
    assert not thread.is_alive()
    assert assistant.vectors.missing(wanted) == []  # every sentence and word of every passage is on disk

    def rows() -> int:
        with sqlite3.connect(disk_path(settings)) as db:
            return db.execute("SELECT count(*) FROM vectors").fetchone()[0]

    question = "Which blockchain did Render Network move to?"
    before = rows()
    assert answer(assistant, question).status == "answered"
    assert rows() - before <= len(question.split())  # its own words at most; cold, it embeds its passages' sentences
