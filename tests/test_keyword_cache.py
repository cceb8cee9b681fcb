"""The keyword index is saved per store state and loaded by the next start; stale or damaged files mean a rebuild."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant import evidence, keyword_cache
from assistant import store as store_mod
from assistant.lexical import BM25Index
from assistant.text import terms
from conftest import CORPUS, ROOT, make_settings

QUESTIONS = ["What is Akash Network?", "ما هي شبكة أكاش؟", "Which blockchain did Render Network move to?", "رندر سولانا"]


def _ranking(retriever, question: str, mode: str) -> list[tuple[str, float | None]]:
    return [(h.id, h.lexical) for h in retriever.search(question, k=8, mode=mode).hits]


def _rankings(retriever) -> dict[tuple[str, str], list]:
    return {(q, mode): _ranking(retriever, q, mode) for q in QUESTIONS for mode in ("bm25", "hybrid")}


def _cache_file(settings) -> Path:
    return keyword_cache.cache_path(settings, str(store_mod.get_collection(settings).id))


@pytest.fixture(scope="module")
def small_store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two corpus files ingested once, by ``ingest.py`` in its own process (so every store file is closed)."""
    base = tmp_path_factory.mktemp("keyword-cache")
    corpus = base / "corpus"
    corpus.mkdir()
    for name in ("akash-network.md", "render-network.md"):
        shutil.copy(CORPUS / "projects" / name, corpus)
    env = {**os.environ, "CORPUS_DIR": str(corpus), "STORE_DIR": str(base / "store"), "LLM_BACKEND": "extractive"}
    subprocess.run([sys.executable, str(ROOT / "ingest.py"), "--quiet"], env=env, cwd=base, check=True, timeout=300)
    return base


@pytest.fixture()
def small_store(small_store_template: Path, tmp_path: Path):
    """A private copy of the ingested store and of its corpus, without the keyword index ingest saved."""
    shutil.copytree(small_store_template / "corpus", tmp_path / "corpus")
    shutil.copytree(small_store_template / "store", tmp_path / "store", ignore=shutil.ignore_patterns("keyword-index-*"))
    return make_settings(tmp_path, tmp_path / "corpus")


@pytest.fixture()
def no_tokenizing(monkeypatch):
    """Makes any tokenization of a passage fail: a start that passes under it loaded the index."""
    def refuse(*args, **kwargs):
        raise AssertionError("passages were tokenized again")

    return lambda: monkeypatch.setattr(BM25Index, "document_tokens", staticmethod(refuse))


def test_arrays_round_trip_scores_identically() -> None:
    docs = ["Akash Network GPU market", "شبكة أكاش سوق الحوسبة", "", "Render Network moved to Solana; Render GPU"]
    built = BM25Index(["a", "b", "c", "d"], [terms(d) for d in docs])
    loaded = BM25Index.from_arrays(built.ids, built.to_arrays())
    for query in ["akash gpu", "render solana network", "أكاش الحوسبة", "netwrok", "nothing"]:
        assert loaded.search(terms(query), 4) == built.search(terms(query), 4)
    assert loaded.idf("gpu") == built.idf("gpu") and set(loaded.vocabulary) == set(built.vocabulary)


def test_arrays_that_leave_a_passage_without_terms_or_count_a_term_zero_times_are_refused() -> None:
    from dataclasses import replace

    built = BM25Index(["a", "b"], [terms("Akash Network GPU"), terms("Render Solana")])
    arrays = built.to_arrays()
    with pytest.raises(ValueError):
        BM25Index.from_arrays(["a", "b", "c"], replace(arrays, norm=np.ones(3)))  # "c" has no term
    with pytest.raises(ValueError):
        BM25Index.from_arrays(built.ids, replace(arrays, tfs=np.zeros_like(arrays.tfs)))
    twice = json.loads(arrays.terms.tobytes().decode("utf-8"))
    twice[1] = twice[0]  # a damaged file naming one term twice would give two terms one id
    with pytest.raises(ValueError):
        replace(arrays, terms=np.frombuffer(json.dumps(twice).encode(), dtype=np.uint8)).counts(2)


def _postings(index: BM25Index) -> dict[str, tuple[list[int], list[float], float]]:
    return {t: (pos.tolist(), tf.tolist(), index.idf(t)) for t, (pos, tf) in index.postings.items()}


def test_index_built_from_the_previous_states_counts_equals_a_fresh_build(monkeypatch) -> None:
    """Removed, added, reordered, alias-changed and empty passages: reusing counts changes nothing but the work."""
    from langchain_core.documents import Document

    def doc(i: str, text: str, aliases: str = "") -> Document:
        return Document(id=i, page_content=text, metadata={"source": f"{i}.md", "aliases": aliases})

    before = [doc("a", "Akash Network GPU market, GPU leases"), doc("b", "شبكة أكاش سوق الحوسبة"), doc("c", "Render moved to Solana"),
              doc("d", "zanzibarium only here"), doc("e", "", "Nosana")]
    old = keyword_cache.build_index(before)
    after = [doc("e", "", "Nosana"), doc("c", "Render moved to Solana", "RNDR"), doc("b", "شبكة أكاش سوق الحوسبة"),
             doc("f", "io.net clusters GPUs; أكاش"), doc("g", "")]
    tokenized: list[str] = []
    real = BM25Index.document_tokens
    monkeypatch.setattr(BM25Index, "document_tokens", staticmethod(lambda text, meta: tokenized.append(text) or real(text, meta)))
    reused = keyword_cache.build_index(after, (before, old.to_arrays().counts(len(before))))
    assert sorted(tokenized) == ["", "Render moved to Solana", "io.net clusters GPUs; أكاش"]  # new text, new aliases, new passage
    fresh = BM25Index([str(d.id) for d in after], [real(d.page_content, d.metadata) for d in after])
    assert _postings(reused) == _postings(fresh) and "zanzibarium" not in reused.postings
    assert reused.to_arrays().norm.tolist() == fresh.to_arrays().norm.tolist()
    for query in ["akash gpu", "render solana rndr", "أكاش الحوسبة", "nosana", "clusters"]:
        assert reused.search(terms(query), 5) == fresh.search(terms(query), 5)


def test_second_start_on_unchanged_store_loads_the_index(small_store, no_tokenizing) -> None:
    from assistant.retrieval import Retriever

    first = Retriever(small_store)
    fresh = _rankings(first)  # built from the passages, then saved
    assert _cache_file(small_store).is_file()
    loads = keyword_cache.loads
    no_tokenizing()
    second = Retriever(small_store)
    assert _rankings(second) == fresh
    assert keyword_cache.loads == loads + 1


def test_reingest_saves_the_new_states_index_and_split_for_the_next_start(small_store, monkeypatch) -> None:
    """The start after an ingest reads the keyword index and sentence split ingest saved for the new state,
    and the old state's index is never used."""
    from assistant import sentences
    from assistant.indexing import run_ingest
    from assistant.retrieval import Retriever

    Retriever(small_store).snapshot()
    old_state = json.loads(str(np.load(_cache_file(small_store))["key"]))["state"]
    path = Path(small_store.corpus_dir) / "akash-network.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nAkash runs a zanzibarium auction for spare GPUs.\n", encoding="utf-8")
    split: list[str] = []
    tokenized: list[str] = []
    # (the splitter's version probe is split once per process, whichever test comes first: not a passage)
    monkeypatch.setattr(sentences, "passage_units",
                        lambda text: (text != sentences.SPLIT_PROBE and split.append(text)) or evidence.passage_units(text))
    real = BM25Index.document_tokens
    monkeypatch.setattr(BM25Index, "document_tokens", staticmethod(lambda text, meta: tokenized.append(meta["source"]) or real(text, meta)))
    asked: list[str] = []
    real_by_id = store_mod.records_by_id
    monkeypatch.setattr(store_mod, "records_by_id", lambda c, ids, include: asked.extend(ids) or real_by_id(c, ids, include))
    run_ingest(small_store, progress=False, log=lambda m: None)
    assert split and all(t in path.read_text(encoding="utf-8") for t in split)  # ingest split only the changed file
    assert tokenized and {Path(s).name for s in tokenized} == {path.name}  # and tokenized only its passages
    assert asked and {i.split("#")[0] for i in asked} == {path.name}  # and asked Chroma for only their texts
    saved = keyword_cache.load(_cache_file(small_store), store_mod.store_state(small_store))
    paged = keyword_cache.read_passages(store_mod.get_collection(small_store))
    assert saved and [(d.id, d.page_content, d.metadata) for d in saved[0]] == [(d.id, d.page_content, d.metadata) for d in paged]

    split.clear()
    loads = keyword_cache.loads
    retriever = Retriever(small_store)
    hits = retriever.search("zanzibarium", k=3, mode="bm25").hits
    assert keyword_cache.loads == loads + 1  # the index ingest saved for the new state
    assert hits and "zanzibarium" in hits[0].text
    new_key = json.loads(str(np.load(_cache_file(small_store))["key"]))
    assert new_key["state"] == retriever.snapshot().state != old_state
    assert len(retriever.sentences(retriever.snapshot()).owners) and split == []  # the split ingest saved


@pytest.mark.parametrize("damage", ["garbage", "truncated", "inconsistent"])
def test_damaged_cache_is_ignored_and_rebuilt(small_store, damage: str) -> None:
    from assistant.retrieval import Retriever

    fresh = _rankings(Retriever(small_store))
    cache = _cache_file(small_store)
    raw = cache.read_bytes()
    if damage == "garbage":
        cache.write_bytes(b"not an npz at all" * 10)
    elif damage == "truncated":
        cache.write_bytes(raw[: len(raw) // 2])
    else:  # a well-formed file whose postings point past the passages
        with np.load(cache) as data:
            arrays = {name: data[name] for name in data.files}
        arrays["positions"] = arrays["positions"] + 10_000
        with cache.open("wb") as handle:
            np.savez(handle, **arrays)
    loads = keyword_cache.loads
    assert _rankings(Retriever(small_store)) == fresh
    assert keyword_cache.loads == loads  # rebuilt, not loaded
    Retriever(small_store).snapshot()
    assert keyword_cache.loads == loads + 1  # and saved again whole: the next start loads it


@pytest.fixture()
def no_paging(monkeypatch):
    """Makes reading passages out of Chroma fail: a start that passes under it took them from the cache file."""
    def refuse(*args, **kwargs):
        raise AssertionError("passages were paged out of Chroma again")

    return lambda: monkeypatch.setattr(store_mod, "iter_records", refuse)


def _passages(snapshot) -> list[tuple]:
    return [(d.id, d.page_content, d.metadata) for d in snapshot.docs]


def test_warm_start_takes_passages_from_the_cache_not_from_chroma(small_store, no_paging, no_tokenizing) -> None:
    from assistant.retrieval import Retriever

    first = Retriever(small_store)
    fresh, passages = _rankings(first), _passages(first.snapshot())
    no_paging()
    no_tokenizing()
    second = Retriever(small_store)
    assert _passages(second.snapshot()) == passages  # same texts, same metadata (types included), same order
    assert _rankings(second) == fresh
    assert second.snapshot().titles == first.snapshot().titles


def test_passage_arrays_round_trip_texts_and_metadata_types() -> None:
    from langchain_core.documents import Document

    docs = [Document(page_content="شبكة أكاش · Akash", metadata={"source": "a.md", "start_line": 3, "score": 0.5,
                                                               "bilingual": True, "aliases": "أكاش;Akash"}, id="x1"),
            Document(page_content="", metadata={}, id="x2"),
            Document(page_content="io.net 🚀 \n\n second line", metadata={"start_line": 1, "end_line": 2}, id="x3")]
    back = keyword_cache.passages_from_arrays(keyword_cache.passage_arrays(docs))
    assert [(d.id, d.page_content, d.metadata) for d in back] == [(d.id, d.page_content, d.metadata) for d in docs]
    assert isinstance(back[0].metadata["start_line"], int) and back[0].metadata["bilingual"] is True


def test_cache_of_an_older_format_is_ignored(small_store) -> None:
    from assistant.retrieval import Retriever

    fresh = _rankings(Retriever(small_store))
    cache = _cache_file(small_store)
    with np.load(cache) as data:
        arrays = {name: data[name] for name in data.files}
    key = json.loads(str(arrays["key"]))
    arrays["key"] = np.asarray(json.dumps({**key, "format": keyword_cache.FORMAT - 1}))
    with cache.open("wb") as handle:
        np.savez(handle, **arrays)
    loads = keyword_cache.loads
    assert _rankings(Retriever(small_store)) == fresh
    assert keyword_cache.loads == loads  # paged and rebuilt, then saved in the current format
    assert json.loads(str(np.load(cache)["key"]))["format"] == keyword_cache.FORMAT


def test_passages_added_by_another_program_are_paged_again(small_store) -> None:
    """A vector written without ingest (no new state token) still changes the count, so the cache is not used."""
    from assistant.retrieval import Retriever

    first = Retriever(small_store)
    first.snapshot()
    collection = store_mod.get_collection(small_store)
    one = collection.get(limit=1, include=["embeddings", "metadatas"])
    collection.add(ids=["foreign-1"], embeddings=[one["embeddings"][0]], documents=["zanzibarium written by another program"],
                   metadatas=[{**one["metadatas"][0], "source": "foreign.md"}])
    loads = keyword_cache.loads
    hits = Retriever(small_store).search("zanzibarium", k=3, mode="bm25").hits
    assert keyword_cache.loads == loads
    assert hits and hits[0].doc.id == "foreign-1" and "zanzibarium" in hits[0].text


def test_a_passage_another_program_rewrites_in_place_is_read_again_at_the_next_state(small_store) -> None:
    """Known passages are reused only when their id is ingest's digest of them: a foreign id's text is asked for again."""
    from assistant.retrieval import Retriever

    collection = store_mod.get_collection(small_store)
    one = collection.get(limit=1, include=["embeddings", "metadatas"])
    meta = {**one["metadatas"][0], "source": "foreign.md"}
    collection.add(ids=["foreign-1"], embeddings=[one["embeddings"][0]], documents=["zanzibarium written by another program"], metadatas=[meta])
    assert Retriever(small_store).search("zanzibarium", k=3, mode="bm25").hits  # saved with the foreign passage
    collection.update(ids=["foreign-1"], embeddings=[one["embeddings"][0]], documents=["quetzalcoatlium rewritten in place"])
    collection.add(ids=["foreign-2"], embeddings=[one["embeddings"][0]], documents=["another foreign passage"], metadatas=[meta])
    retriever = Retriever(small_store)  # a new state (the count changed): built from the saved one
    assert [h.doc.id for h in retriever.search("quetzalcoatlium", k=3, mode="bm25").hits][:1] == ["foreign-1"]
    assert not retriever.search("zanzibarium", k=3, mode="bm25").hits


def test_app_start_path_leaves_langchain_retriever_modules_unloaded() -> None:
    """What a start imports before its first answer: LangChain's retriever and tracing modules (and langchain-chroma,
    which needs them) only come with ingest or ``as_langchain``, never with ``import app``."""
    import subprocess
    import sys
    from pathlib import Path

    probe = ("import sys, app\n"
             "print(sorted(m for m in ('langchain_chroma', 'langchain_core.retrievers', 'langsmith') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1], check=True).stdout.strip()
    assert out == "[]"
