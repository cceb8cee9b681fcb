"""Arabic normalization and tokenization: each rule on its own."""

import pytest

from assistant.text import chunk_language, detect_language, normalize, split_sentences, strip_clitics, tokenize


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


def test_clitics_and_article_are_stripped_but_short_words_survive() -> None:
    assert strip_clitics("والحوسبه") == "حوسبه"
    assert strip_clitics("بالمزاد") == "مزاد"
    assert strip_clitics("للذكاء") == "ذكاء"
    assert strip_clitics("الي") == "الي"  # would leave one letter: kept
    assert strip_clitics("akash") == "akash"


def test_tokenize_matches_spelling_variants_and_dotted_names() -> None:
    assert set(tokenize("المزاد العكسي")) == set(tokenize("بالمزاد العكسى"))
    tokens = tokenize("ما هو io.net؟")
    assert "io.net" in tokens and "io" in tokens and "net" in tokens
    assert "ما" not in tokens and "هو" not in tokens  # stopwords


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
    parts = split_sentences("ما هي أكاش؟ إنها سوق حوسبة. It moved to Solana! نعم؛ صحيح")
    assert parts == ["ما هي أكاش؟", "إنها سوق حوسبة.", "It moved to Solana!", "نعم؛", "صحيح"]
