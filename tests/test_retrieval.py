"""Hybrid retrieval: both languages, aliases across scripts, weighted RRF, follow-ups, store changes."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.conversation import condense
from assistant.lexical import AliasGroup, AliasTable, BM25Index, closest_word
from assistant.retrieval import lexical_weight, reciprocal_rank_fusion
from assistant.text import terms


def _texts(result) -> list[str]:
    return [h.text for h in result.hits]


@pytest.mark.parametrize("question", ["What is Akash Network?", "ما هي شبكة أكاش؟", "شو هي اكاش؟"])
def test_akash_passage_in_top3(retriever, question: str) -> None:
    result = retriever.search(question, k=3)
    assert result.relevance is not None and result.relevance > 2
    assert any("المزاد العكسي" in t for t in _texts(result)), _texts(result)


def test_render_solana_cross_lingual(retriever) -> None:
    result = retriever.search("Which blockchain did Render Network move to?", k=3)
    assert any("سولانا" in t for t in _texts(result))


def test_retriever_is_a_langchain_runnable(retriever) -> None:
    docs = retriever.as_langchain(k=2).invoke("Which project uses Kubernetes?")
    assert len(docs) == 2 and "Kubernetes" in docs[0].page_content and "score" in docs[0].metadata


def test_bm25_finds_latin_name_from_arabic_spelling() -> None:
    docs = ["سوق حوسبة سحابية تعتمد على Cosmos SDK وتستخدم Kubernetes", "بنية تحتية سحابية تعتمد على Arbitrum"]
    index = BM25Index(["a", "b"], [terms(d) for d in docs])
    aliases = AliasTable([AliasGroup("Arbitrum", ["Arbitrum", "أربيتروم", "اربيتروم"]), AliasGroup("Cosmos SDK", ["Cosmos SDK", "كوزموس"])])
    plain = terms("أي مشروع يعتمد على أربيتروم؟")
    assert "arbitrum" not in plain  # the Arabic spelling alone never meets the Latin name
    expanded = plain + aliases.expand("أي مشروع يعتمد على أربيتروم؟")
    assert index.ids[index.search(expanded, 2)[0][0]] == "b"
    assert index.ids[index.search(terms("كوزموس") + aliases.expand("كوزموس"), 2)[0][0]] == "a"


def test_alias_table_tolerates_one_typo() -> None:
    aliases = AliasTable([AliasGroup("Akash Network", ["Akash Network", "Akash", "أكاش"])])
    assert [g.canonical for g in aliases.mentions("what is Akahs?")] == ["Akash Network"]
    assert [g.canonical for g in aliases.mentions("ما هي اكاش")] == ["Akash Network"]
    assert aliases.mentions("what is a cake?") == []


def test_a_short_arabic_word_is_not_read_as_a_name_one_letter_away() -> None:
    """A long vowel added or dropped is a spelling of the name; another letter changed inside a short Arabic word makes another word."""
    aliases = AliasTable([AliasGroup("Aethir", ["Aethir", "إيثر"]), AliasGroup("CUDOS", ["CUDOS", "كودوس"]),
                          AliasGroup("Solana", ["Solana", "سولانا"])])
    assert aliases.mentions("ما أكثر المشاريع نموا؟") == []  # أكثر is one replaced letter from إيثر
    assert [g.canonical for g in aliases.mentions("شو هي كودس؟")] == ["CUDOS"]  # a long vowel left out
    assert [g.canonical for g in aliases.mentions("هل تعمل على سولانه؟")] == ["Solana"]  # longer words: any one edit
    assert closest_word("شركه", ["شبكه"]) is None and closest_word("akahs", ["akash"]) == "akash"
    assert closest_word("يعتمد", ["تعتمد"]) == "تعتمد"  # a replaced first or last letter is an affix: one word family
    assert closest_word("مقابل", ["مقال"]) is None  # a consonant dropped inside: another word ("in return" / "article")
    assert closest_word("وشبكه", ["شبكه"]) == "شبكه"  # a joined proclitic, added at the edge


def test_aliases_from_corpus_front_matter(retriever) -> None:
    table = retriever.snapshot().aliases
    names = {g.canonical for g in table.groups}
    assert {"Akash Network", "Render Network", "io.net", "Nosana"} <= names
    assert "Akash Network" in {g.canonical for g in table.mentions("أكاش")}


def test_rrf_ordering() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "c", "d"]], k=60)
    ids = [i for i, _ in fused]
    assert ids[0] == "b"  # 1/62 + 1/61 beats a's 1/61
    assert ids[1] == "c" and set(ids) == {"a", "b", "c", "d"}
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


HISTORY = [{"role": "user", "content": "What is Akash Network?"}, {"role": "assistant", "content": "A decentralized cloud compute market [1]."}]


def test_follow_up_without_llm_carries_the_entity(retriever) -> None:
    result = retriever.search("وما هي آلية التسعير فيها؟", HISTORY, k=3)
    assert "Akash Network" in result.query
    assert "المزاد العكسي" in result.hits[0].text


def _rewrite(model):
    return lambda chat: str(model.invoke(chat).content)


def test_follow_up_with_llm_uses_the_rewrite_when_it_matches_better() -> None:
    aliases = AliasTable([AliasGroup("Akash Network", ["Akash Network", "أكاش"])])
    rewritten = "ما هي آلية التسعير في Akash Network؟"
    score = {rewritten: 3.0, "Akash Network وما هي آلية التسعير فيها؟": 2.0}.get
    llm = FakeListChatModel(responses=[rewritten])
    assert condense("وما هي آلية التسعير فيها؟", HISTORY, aliases, lambda q: score(q, 0.0), _rewrite(llm)) == rewritten
    broken = FakeListChatModel(responses=[""])  # unusable reply: the deterministic reading is used
    assert condense("وما هي آلية التسعير فيها؟", HISTORY, aliases, lambda q: score(q, 0.0), _rewrite(broken)).startswith("Akash Network")


def test_follow_up_keeps_the_question_when_it_matches_better_alone() -> None:
    aliases = AliasTable([AliasGroup("Akash Network", ["Akash Network", "أكاش"])])
    score = {"What is decentralized AI?": 5.0}.get
    assert condense("What is decentralized AI?", HISTORY, aliases, lambda q: score(q, 1.0)) == "What is decentralized AI?"


def test_standalone_question_is_not_rewritten(retriever) -> None:
    result = retriever.search("Which blockchain did Render Network move to?", HISTORY, k=3)
    assert result.query == "Which blockchain did Render Network move to?"


def test_english_question_reaches_arabic_only_passage(retriever) -> None:
    result = retriever.search("Is decentralized data easy to tokenize?", k=5)
    assert any("البيانات اللامركزية صعبة" in h.text for h in result.hits)


def test_keyword_leg_weighs_what_the_index_can_read() -> None:
    index = BM25Index(["a", "b"], [terms("سوق حوسبة سحابية لامركزية تعتمد على Cosmos"), terms("بنية تحتية على Arbitrum")])
    assert lexical_weight(terms("سوق حوسبة سحابية"), index) == pytest.approx(1.0)
    assert lexical_weight(terms("decentralized cloud market"), index) == 0.0  # English words on Arabic text
    assert 0 < lexical_weight(terms("cloud market on Cosmos"), index) < 1  # only the name is readable


def test_keyword_leg_abstains_on_passages_it_cannot_read(built_settings) -> None:
    """A passage with no text in the question's language keeps its dense vote for both legs."""
    from assistant.retrieval import Retriever

    engine = Retriever(built_settings)
    dense, keyword = ["arabic-only", "x", "bilingual"], ["bilingual"]  # (dense, sentence, keyword) triples
    plain = dict(engine._rrf([dense, [], keyword], [1.0, 0.0, 1.0], "hybrid", None))
    abstaining = dict(engine._rrf([dense, [], keyword], [1.0, 0.0, 1.0], "hybrid", {"bilingual", "x"}))
    assert plain["bilingual"] > plain["arabic-only"]  # agreement of two legs beats the dense leg's first place
    assert abstaining["arabic-only"] > abstaining["bilingual"]  # the keyword leg could not have seen it
    voted = dict(engine._rrf([dense, ["x"], keyword], [1.0, 0.5, 1.0], "hybrid", {"bilingual", "x"}))
    assert voted["x"] == abstaining["x"] + 0.5 / (engine.settings.rrf_k + 1)  # the sentence leg votes as it ranks


def test_passages_with_english_text_are_hubs_for_english_questions(retriever) -> None:
    """The bias CSLS removes, measured: passages with an English paragraph sit nearer English questions in general."""
    import numpy as np

    snap = retriever.snapshot()
    got = retriever.store.get(include=["embeddings"])
    vectors, english = np.asarray(got["embeddings"]), np.asarray([i in snap.readable["en"] for i in got["ids"]])
    assert english.any() and (~english).any()
    gap = {lang: (h := retriever.probes().hubness(lang, vectors))[english].mean() - h[~english].mean() for lang in ("en", "ar")}
    assert gap["en"] > 0 and gap["en"] > gap["ar"]


def test_dense_order_subtracts_half_the_hubness_and_keeps_the_cosines(built_settings) -> None:
    import numpy as np

    from assistant.retrieval import Retriever

    engine = Retriever(built_settings)
    snap, vector = engine.snapshot(), engine.embeddings.embed_query("Does crypto make AI training cheaper?")
    found = engine._nearest(np.asarray(vector), 10)
    order = engine._dense_order(found, "en", snap)
    got = engine.store.get(ids=list(found), include=["embeddings"])
    hub = dict(zip(got["ids"], engine.probes().hubness("en", np.asarray(got["embeddings"])), strict=True))
    assert order == pytest.approx({i: found[i] - 0.5 * hub[i] for i in found}, abs=1e-6)
    assert sorted(order, key=order.get) != sorted(found, key=found.get)  # the correction changes this order
    plain = Retriever(built_settings.model_copy(update={"hub_correction": 0.0}))
    assert plain._dense_order(found, "en", plain.snapshot()) == found


def test_bm25_postings_scores_equal_rank_bm25() -> None:
    import random

    from rank_bm25 import BM25Plus

    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(60)] + ["اكاش", "سولانا", "حوسبه"]
    docs = [[rng.choice(vocab) for _ in range(rng.randint(5, 40))] for _ in range(300)]
    index = BM25Index([str(i) for i in range(300)], docs)
    rank_bm25 = BM25Plus(docs)
    for _ in range(10):
        query = [rng.choice(vocab) for _ in range(4)] + ["unknown-term"]
        reference = rank_bm25.get_scores(query)
        got = index.search(query, 15)
        assert got and all(abs(reference[i] - score) < 1e-9 for i, score in got)
        assert got[0][1] == pytest.approx(max(reference))
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        # the top k of all candidates, ties in passage order (what a full stable sort gives)
        assert [i for i, _ in got] == sorted(range(300), key=lambda i: (-reference[i], i))[:15]


def test_new_standalone_arabic_question_is_not_treated_as_follow_up(retriever) -> None:
    result = retriever.search("ما هي أسواق موارد الحوسبة اللامركزية؟", HISTORY, k=3)
    assert result.query == "ما هي أسواق موارد الحوسبة اللامركزية؟"


def test_unrelated_new_question_does_not_inherit_history(retriever) -> None:
    history = [{"role": "user", "content": "من أسس شبكة أكاش على سطح المريخ؟"}, {"role": "assistant", "content": "لا تغطي المصادر ذلك."}]
    result = retriever.search("ما هي أسواق موارد الحوسبة اللامركزية؟", history)
    assert result.query == "ما هي أسواق موارد الحوسبة اللامركزية؟"


def test_store_state_is_asked_once_per_interval(built_settings, monkeypatch) -> None:
    from assistant import store as store_mod
    from assistant.retrieval import Retriever

    engine = Retriever(built_settings.model_copy(update={"state_check_seconds": 3600}))
    engine.search("What is Akash Network?")
    calls = []
    real = store_mod.store_state
    monkeypatch.setattr(store_mod, "store_state", lambda s: calls.append(1) or real(s))
    for _ in range(5):
        engine.search("ما هي شبكة أكاش؟")
    assert calls == []  # within the interval: no round trip to the store
    store_mod._bump()  # what an ingest in this process does
    engine.search("ما هي شبكة أكاش؟")
    assert len(calls) == 1


def test_ingest_by_another_process_is_seen_by_a_running_retriever(tmp_path) -> None:
    """`python ingest.py` beside a running app: the app's Chroma client must not serve stale or broken results."""
    import os
    import shutil
    import subprocess
    import sys

    from assistant.indexing import run_ingest
    from assistant.retrieval import Retriever
    from conftest import CORPUS, ROOT, make_settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("akash-network.md", "render-network.md"):
        shutil.copy(CORPUS / "projects" / name, corpus)
    settings = make_settings(tmp_path, corpus, state_check_seconds=0)
    run_ingest(settings, progress=False, log=lambda m: None)
    engine = Retriever(settings)
    question = "What is Zanzibarite crystal mining?"
    assert engine.search(question).hits[0].doc.metadata["source"] != "zanzibarite.md"

    (corpus / "zanzibarite.md").write_text(
        "# Zanzibarite\n\nZanzibarite crystal mining is a hobby of decentralized compute fans.\n", encoding="utf-8")
    env = {**os.environ, "CORPUS_DIR": str(corpus), "STORE_DIR": str(settings.store_dir)}
    subprocess.run([sys.executable, str(ROOT / "ingest.py"), "--quiet"], env=env, cwd=tmp_path, check=True, timeout=300)
    result = engine.search(question)
    top = result.hits[0]
    assert top.doc.metadata["source"] == "zanzibarite.md"
    assert top.dense is not None and top.dense > 0.8 and top.lexical is not None  # both legs see it


def test_a_named_question_pointing_back_before_its_name_is_a_follow_up() -> None:
    """After "and", "it" before "io.net" cannot mean io.net; "it" as filler, or after the name, points at nothing earlier."""
    from assistant.conversation import is_follow_up

    aliases = AliasTable([AliasGroup("Akash Network", ["Akash Network", "Akash", "أكاش"]), AliasGroup("io.net", ["io.net"]),
                          AliasGroup("Nosana", ["Nosana", "نوسانا"])])
    assert is_follow_up("And how does it compare to io.net?", aliases)
    assert is_follow_up("وما علاقتها بـ io.net؟", aliases)
    assert not is_follow_up("What is Akash and what does it offer?", aliases)
    assert not is_follow_up("How much does it cost to use Akash?", aliases)  # "it" is filler
    assert not is_follow_up("Which of these is cheaper, Akash or io.net?", aliases)  # "these" points ahead
    assert not is_follow_up("ما الوضع الراهن لأكاش؟", aliases)  # الراهن ends like a pronoun but has the article
    assert not is_follow_up("How does Nosana compare to io.net?", aliases)
    history = [{"role": "user", "content": "What is Nosana?"}, {"role": "assistant", "content": "A compute market."}]
    with_context = condense("And how does it compare to io.net?", history, aliases, lambda q: 2.0 if "Nosana" in q else 1.0)
    assert with_context.startswith("Nosana")
    standalone = condense("How much does it cost to use Akash?", history, aliases, lambda q: 2.0 if "Nosana" in q else 1.0)
    assert standalone == "How much does it cost to use Akash?"  # not offered the context, however well it would match


def test_a_follow_up_asks_its_own_question_with_the_context_it_carries() -> None:
    """The earlier turn is context, not a second question: "Akash Network And which chain ...?" is one part, a
    follow-up asks for a date only if it does itself, and one that names a new subject carries what was asked."""
    from assistant.conversation import with_context
    from assistant.query import analyze

    aliases = AliasTable([AliasGroup("Akash Network", ["Akash Network", "Akash", "أكاش"])])
    follow_up = "And which blockchain does it run on now?"
    carried = analyze(follow_up, f"Akash Network {follow_up}", aliases)
    assert carried.parts == () and carried.names == ("Akash Network",) and carried.asked == follow_up
    assert analyze(f"Akash Network {follow_up}", f"Akash Network {follow_up}", aliases).parts  # read as typed: two clauses
    two = "And which blockchain is it on, and what does it offer?"
    assert analyze(two, f"Akash Network {two}", aliases).parts == (
        "Akash Network And which blockchain is it on", "Akash Network what does it offer?")

    none = AliasTable([])
    asked = "كم بلغت تكلفة محطة رأس الخير؟"
    arabic = analyze("ومتى بدأ تشغيلها؟", with_context("ومتى بدأ تشغيلها؟", [{"role": "user", "content": asked}], none), none)
    assert arabic.query == f"{asked} ومتى بدأ تشغيلها؟" and arabic.parts == () and arabic.wants == "date"
    history = [{"role": "user", "content": "How much did the Taweelah plant cost?"}]
    assert with_context("What about Ras Al Khair?", history, none) == "How much did the plant cost? What about Ras Al Khair?"
    fragment = analyze("What about Ras Al Khair?", with_context("What about Ras Al Khair?", history, none), none)
    assert fragment.wants == "number" and fragment.asked == fragment.query  # nothing asked of its own: what was asked before
    assert with_context("And when did it open?", history, none) == "How much did the Taweelah plant cost? And when did it open?"


def test_the_language_shift_moves_a_question_toward_its_translation(retriever) -> None:
    """The probes' language difference carries language, not topic: questions outside the bank move toward their
    translations, and an Arabic sentence on the question's subject stays nearer than one on another subject."""
    import numpy as np

    pairs = [("How does Akash set the price of computing?", "كيف تحدد أكاش سعر الحوسبة؟"),
             ("Why are graphics cards scarce?", "لماذا بطاقات الرسومات نادرة؟"),
             ("Which blockchain did the project move to?", "إلى أي بلوك تشين انتقل المشروع؟")]
    shift = retriever.probes().shift("en", "ar")
    english = np.asarray(retriever.embeddings.embed_queries([en for en, _ in pairs]))
    arabic = np.asarray(retriever.embeddings.embed_queries([ar for _, ar in pairs]))
    moved = english + shift
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    before, after = english @ arabic.T, moved @ arabic.T
    assert (np.diag(after) > np.diag(before)).all()  # nearer its own translation
    assert (after.argmax(axis=1) == np.arange(len(pairs))).all()  # and still nearest its own, not another's


def test_a_question_across_languages_is_ranked_moved_but_scored_as_asked(built_settings) -> None:
    """Only an English question over this mostly Arabic corpus is moved; its relevance stays the calibrated one."""
    from assistant.retrieval import Retriever

    moved, plain = Retriever(built_settings), Retriever(built_settings.model_copy(update={"language_shift": 0.0}))
    snap = moved.snapshot()
    assert moved._corpus_language("en", snap) == "ar" and moved._corpus_language("ar", snap) is None
    assert plain._corpus_language("en", snap) is None
    question = "Which sectors do AI applications in crypto improve?"
    a, b = moved.search(question), plain.search(question)
    assert a.relevance == pytest.approx(b.relevance) and a.across_languages == b.across_languages
    assert [h.id for h in a.hits] != [h.id for h in b.hits]  # the ranking is what moves
    arabic = "ما القطاعات التي يعززها الذكاء الاصطناعي في التشفير؟"
    assert [h.id for h in moved.search(arabic).hits] == [h.id for h in plain.search(arabic).hits]


def test_retrieve_says_when_the_order_is_not_the_scores(monkeypatch, capsys) -> None:
    """After the sentence re-ranking the printed fused scores are out of order; the command says why."""
    import argparse
    from types import SimpleNamespace

    from langchain_core.documents import Document

    import assistant.retrieval as retrieval
    from assistant.cli import cmd_retrieve

    def hits(*scores: float) -> list:
        return [retrieval.Hit(Document(page_content=f"passage {i}", metadata={"source": f"{i}.md", "id": f"{i}"}), score)
                for i, score in enumerate(scores)]

    for scores, expected in (((0.03, 0.05), True), ((0.05, 0.03), False)):
        found = SimpleNamespace(query="q", relevance=None, hits=hits(*scores))
        monkeypatch.setattr(retrieval, "Retriever", lambda settings, found=found: SimpleNamespace(search=lambda q, h: found))
        args = argparse.Namespace(store_dir=None, k=2, mode=None, history=None, question="q", json=False)
        assert cmd_retrieve(args) == 0
        assert ("re-ranked" in capsys.readouterr().out) is expected
