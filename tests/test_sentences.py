"""The sentence leg: passages found by the one sentence that answers, across languages."""

from __future__ import annotations

import numpy as np

from assistant.config import Settings
from assistant.evidence import passage_units
from assistant.sentences import SentenceIndex, sentences_of


class _TableEmbedder:
    """Passage vectors from a table (unknown texts get a zero vector); counts what it embeds."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table, self.embedded = table, 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return [self.table.get(t, [0.0, 0.0, 0.0]) for t in texts]


def test_a_passage_is_scored_by_its_best_sentence() -> None:
    from assistant.text_vectors import VectorCache

    texts = ["Prices fell. Costs rose sharply.", "Nothing here at all. Still nothing."]
    table = {"Prices fell.": [1.0, 0.0, 0.0], "Costs rose sharply.": [0.0, 1.0, 0.0],
             "Nothing here at all.": [0.0, 0.0, 1.0], "Still nothing.": [0.6, 0.0, 0.8]}
    assert sentences_of(texts) == (list(table), [0, 0, 1, 1])
    embedder = _TableEmbedder(table)
    index = SentenceIndex.of_sentences(["a", "b"], *sentences_of(texts), VectorCache(embedder))  # type: ignore[arg-type]
    found = index.search(np.array([0.0, 1.0, 0.0]), k=2)
    assert list(found) == ["a", "b"] and found["a"] == 1.0  # "Costs rose sharply." wins for its passage
    assert list(index.search(np.array([0.8, 0.0, 0.6]), k=1)) == ["b"]  # "Still nothing." (0.96) beats "Prices fell." (0.8)
    assert embedder.embedded == 4
    assert SentenceIndex.of_sentences([], [], [], VectorCache(embedder)).search(np.ones(3), k=3) == {}  # type: ignore[arg-type]


def test_ingest_embeds_the_sentences_so_no_question_waits_for_them(built_settings: Settings) -> None:
    from assistant.retrieval import Retriever

    retriever = Retriever(built_settings)
    before = retriever.embeddings.embedded
    index = retriever.sentences(retriever.snapshot())
    assert len(index.owners) > len(index.ids) > 0  # more sentences than passages
    assert retriever.embeddings.embedded == before  # every sentence came from the cache ingest filled


def test_an_english_question_finds_the_arabic_paragraph_by_its_third_sentence(built_settings: Settings) -> None:
    """"Tokenizing models can enable decentralized ownership" is the third sentence of a paragraph about
    training costs: the paragraph's own vector is far from the question, its sentence is not."""
    from assistant.retrieval import Retriever

    question = "What can tokenizing AI models enable?"
    with_leg = Retriever(built_settings).search(question, k=5)
    without = Retriever(built_settings.model_copy(update={"sentence_weight": 0.0})).search(question, k=5)
    assert any("الملكية اللامركزية" in h.text for h in with_leg.hits)
    assert not any("الملكية اللامركزية" in h.text for h in without.hits)
    arabic = Retriever(built_settings).search("ما الذي يمكن أن يتيحه تحويل النماذج إلى توكنات؟", k=5)
    assert any("الملكية اللامركزية" in h.text for h in arabic.hits)  # in the corpus's language the keyword leg finds it


def test_a_question_does_not_wait_for_sentences_the_cache_lost(built_settings: Settings, tmp_path) -> None:
    """A store whose sentence vectors are not cached (ingested by an older version, or elsewhere): the index is
    built in the background and questions meanwhile are searched without it."""
    import shutil
    import time

    from assistant.retrieval import Retriever

    store = tmp_path / "store"
    shutil.copytree(built_settings.store_dir, store, ignore=shutil.ignore_patterns("text-vectors-*"))
    retriever = Retriever(built_settings.model_copy(update={"store_dir": store}))
    snap = retriever.snapshot()
    assert retriever.sentences(snap, wait=False) is None  # not built: a thread embeds the sentences
    assert retriever.search("What can tokenizing AI models enable?", k=5).hits  # served meanwhile
    deadline = time.monotonic() + 300
    while snap.sentences is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert snap.sentences is not None and retriever.sentences(snap, wait=False) is snap.sentences
    assert len(snap.sentences.owners) > len(snap.docs)


def test_the_split_is_saved_and_only_new_passages_are_split_again(tmp_path, monkeypatch) -> None:
    """A start on an unchanged store reads the sentence split; after an ingest only new passages are split."""
    from assistant import sentences

    path, split = tmp_path / "sentence-split.npz", []

    def counting(text: str) -> list[str]:
        split.append(text)
        return passage_units(text)

    texts = ["Prices fell. Costs rose sharply.", "- **Render**: انتقلت إلى سولانا. لتحسين الأداء.", "one"]
    changed = [texts[2], "New file. Two sentences.", texts[0]]  # one passage gone, one new, order changed
    expected, expected_changed = sentences_of(texts), sentences_of(changed)
    monkeypatch.setattr(sentences, "passage_units", counting)
    first = sentences.split_of(path, texts)
    assert first == expected and path.is_file() and split == texts
    split.clear()
    assert sentences.split_of(path, texts) == first and split == []  # read back, nothing split
    assert sentences.split_of(path, changed) == expected_changed and split == ["New file. Two sentences."]
    split.clear()
    assert sentences.split_of(path, changed) == expected_changed and split == []  # the rewrite holds the new one
    assert sentences.read_split(path).keys() == {sentences._digest(t) for t in changed}  # and not the one gone
    path.write_bytes(b"not an npz")
    assert sentences.split_of(path, texts) == first and split == texts  # damage: split again
    split.clear()
    assert sentences.split_of(None, texts) == first and split == texts  # nowhere to save
