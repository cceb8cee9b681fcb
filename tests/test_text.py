"""Arabic normalization and tokenization: each rule on its own."""

import pytest

from assistant.text import chunk_language, detect_language, normalize, split_sentences, stem, stopwords, terms


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("تسعيرًا", "تسعيرا"),  # tanween (tashkeel) removed
        ("مُحَمَّد", "محمد"),  # harakat and shadda removed
        ("الـحـوسبة", "الحوسبه"),  # tatweel removed, ta marbuta -> ha
        ("أكاش", "اكاش"),  # hamza above alef
        ("إيثيريوم", "ايثيريوم"),  # hamza below alef
        ("آي أو نت", "اي او نت"),  # madda
        ("على", "علي"),  # alef maqsura -> ya
        ("Akash NETWORK", "akash network"),  # Latin case folded
        ("٢٠٢٣", "2023"),  # Arabic-Indic digits
        ("أكا\u200bش", "اكاش"),  # zero-width space dropped
    ],
)
def test_normalize_rules(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(("a", "b"), [
    ("التسعير", "تسعيرًا"),  # article and tanween
    ("والشبكات", "الشبكة"),  # conjunction + article, plural
    ("بالمزاد", "المزاد"),  # preposition fused to the article
    ("المستخدمين", "مستخدمون"),  # case endings
    ("pricing", "prices"),
    ("computing", "compute"),
])
def test_snowball_stems_meet_across_inflections(a: str, b: str) -> None:
    assert stem(a) == stem(b)


def test_terms_match_spelling_variants_and_dotted_names() -> None:
    assert set(terms("المزاد العكسي")) == set(terms("بالمزاد العكسى"))
    found = terms("ما هو io.net؟")
    assert "io.net" in found and "io" in found and "net" in found
    assert "ما" not in found and "هو" not in found  # function words


def test_function_words_are_closed_class_only() -> None:
    """Dialect question words are dropped; words people ask about are not (stopwords-iso drops these)."""
    stop = stopwords()
    assert {normalize(w) for w in ("شو", "ايش", "ليش", "عايز", "what", "which")} <= stop
    assert not {"ai", "computer", "billion", "year", "مليار", "عام", "سنه"} & stop


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("ما هي شبكة أكاش؟", "ar"),
        ("What is Akash Network?", "en"),
        ("شو هو Akash Network؟", "ar"),  # Latin names inside an Arabic question
        ("What does أكاش do?", "en"),
        ("12345 ???", "en"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_chunk_language_marks_bilingual_passages() -> None:
    assert chunk_language("شبكة حوسبة لامركزية تعتمد على Cosmos SDK") == "ar"
    assert chunk_language("سوق حوسبة سحابية لامركزية. A decentralized cloud compute market built on Cosmos.") == "ar+en"


def test_split_sentences_on_both_scripts() -> None:
    assert split_sentences("ما هي أكاش؟ إنها سوق حوسبة.\nIt moved to Solana! Then it grew.") == [
        "ما هي أكاش؟", "إنها سوق حوسبة.", "It moved to Solana!", "Then it grew."]


def test_arabic_sentences_are_not_cut_at_commas_or_colons() -> None:
    line = "Akash Network هي سوق حوسبة تعتمد على Cosmos SDK، تستخدم Kubernetes: وتقدم تسعيرًا. تركز على الحوسبة؟ نعم 3.5 مرة."
    assert split_sentences(line) == ["Akash Network هي سوق حوسبة تعتمد على Cosmos SDK، تستخدم Kubernetes: وتقدم تسعيرًا.",
                                     "تركز على الحوسبة؟", "نعم 3.5 مرة."]


def test_split_sentences_keeps_abbreviations_and_decimals() -> None:
    assert split_sentences("The U.S. market grew, e.g. Nvidia rose 3.5x in 2023. io.net runs on Solana.") == [
        "The U.S. market grew, e.g. Nvidia rose 3.5x in 2023.", "io.net runs on Solana."]
