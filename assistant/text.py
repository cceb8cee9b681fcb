"""Script-aware text handling: one normalization, one tokenizer, one language rule.

Lexical search fails on Arabic when spelling variants are different words
(أكاش / اكاش, الشبكة / الشبكه, diacritics, tatweel) and when every inflection
is its own term (التسعير / تسعيرًا). Everything that compares words goes through
``normalize`` and ``terms`` here, so the index, the query, the coverage check
and the highlighting always agree. Stems come from Snowball (Arabic and
English), sentences from pysbd, function words from the files in ``data/``
(closed-class words only: see their headers for why not stopwords-iso).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from importlib import resources
from typing import Literal

import pysbd
import snowballstemmer

Language = Literal["ar", "en"]

# A text is Arabic when Arabic-script words are at least this share of its words: an Arabic
# sentence naming several Latin projects ("تعتمد شبكة Akash Network على Cosmos SDK") stays Arabic.
ARABIC_SHARE = 0.4

_ARABIC_LETTER = re.compile(r"[\u0621-\u064A\u0671-\u06D3\u06FA-\u06FF]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00C0-\u024F]")
_WORD = re.compile(r"\w+(?:[.\-]\w+)*")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00ad]")
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_DIACRITICS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")  # tashkeel, Quranic marks, tatweel
# Conjunctions fused to the definite article (والشبكة, فالسوق): Snowball strips the article
# and the prepositions fused to it, but leaves و/ف + ال in place.
_CONJ_ARTICLE = re.compile(r"^[وف](?=(?:ال|بال|كال|لل)\w{2,})")


def fold(text: str) -> str:
    """Unicode-compose, drop invisible characters and unify digits; safe for display too."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return text.translate(_DIGITS)


_MATCHING = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})


def normalize(text: str) -> str:
    """Normalize for matching: diacritics and tatweel removed, أ إ آ ٱ -> ا, ى -> ي, ة -> ه, ؤ -> و, ئ -> ي, lower case."""
    return _DIACRITICS.sub("", fold(text)).translate(_MATCHING).lower()


def raw_words(text: str) -> list[str]:
    """Words as written, without diacritics and in lower case; a dotted or hyphenated name (io.net, GPT-4) also yields its parts.

    Letters are kept as they are (ة, أ, ى): Snowball's Arabic stemmer needs them
    to find a word's ending, so anything stemmed starts from these.
    """
    out: list[str] = []
    for match in _WORD.finditer(_DIACRITICS.sub("", fold(text)).lower()):
        out.extend(_split_word(match.group(0)))
    return out


def words(text: str) -> list[str]:
    """Normalized words (see ``normalize``), for comparing spellings; dotted names also yield their parts."""
    return [normalize(w) for w in raw_words(text)]


@lru_cache(maxsize=65_536)
def _split_word(word: str) -> tuple[str, ...]:
    if "." in word or "-" in word:
        return (word, *(p for p in re.split(r"[.\-]", word) if p))
    return (word,)


@cache
def stopwords() -> frozenset[str]:
    """Function words of Arabic (MSA and dialects) and English, normalized."""
    listed: set[str] = set()
    for name in ("stopwords-ar.txt", "stopwords-dialects.txt", "stopwords-en.txt"):
        text = resources.files("assistant").joinpath("data", name).read_text(encoding="utf-8")
        listed.update(w for line in text.splitlines() if not line.startswith("#") for w in line.split())
    return frozenset(normalize(w) for w in listed)


@cache
def _stemmer(language: Language) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("arabic" if language == "ar" else "english")


@lru_cache(maxsize=262_144)
def stem(word: str) -> str:
    """Snowball stem of one word (Arabic or English by its script), normalized.

    Arabic is stemmed before our letter normalization (Snowball reads ة and
    hamza forms), after the conjunction fused to an article is removed.
    Digits and other scripts are returned as they are.
    """
    if _ARABIC_LETTER.match(word):
        bare = _CONJ_ARTICLE.sub("", _DIACRITICS.sub("", word).replace("ى", "ي"))  # final ى is written for ي
        stemmed = _stemmer("ar").stemWord(bare)
        return normalize(stemmed if len(stemmed) >= 2 else bare)
    if word.isascii() and word.isalpha():
        return _stemmer("en").stemWord(word.lower())
    return normalize(word)


@cache
def _isri():
    from nltk.stem.isri import ISRIStemmer  # the ISRI root stemmer needs no NLTK data download

    return ISRIStemmer()


@lru_cache(maxsize=262_144)
def root(word: str) -> str | None:
    """The consonant root of an Arabic word (ISRI), normalized; None for other scripts or short roots.

    Stems keep derivation apart (أسعار "prices" / تسعير "pricing"); the root
    (س ع ر) joins them. Used to judge whether a passage talks about a word,
    never as an index term, where it would be too broad.
    """
    if not _ARABIC_LETTER.match(word):
        return None
    found = normalize(_isri().stem(_DIACRITICS.sub("", word)))
    return found if len(found) >= 3 else None


def terms(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Index terms of a text: stems of its words, function words dropped unless asked."""
    stop = stopwords()
    out: list[str] = []
    for match in _WORD.finditer(fold(text)):
        for part in _split_word(match.group(0)):
            key = normalize(part)
            if not keep_stopwords and key in stop:
                continue
            term = stem(part)
            if len(term) >= 2 or term.isdigit():
                out.append(term)
    return out


def word_script(word: str) -> Literal["ar", "en", ""]:
    """"ar" for a word with Arabic letters, "en" for one with Latin letters, "" for neither (digits, symbols)."""
    return "ar" if _ARABIC_LETTER.search(word) else "en" if _LATIN_LETTER.search(word) else ""


def script_counts(text: str) -> tuple[int, int]:
    """Number of words written in Arabic script and in Latin script."""
    arabic = latin = 0
    for word in _WORD.findall(text):
        script = word_script(word)
        arabic += script == "ar"
        latin += script == "en"
    return arabic, latin


def detect_language(text: str) -> Language:
    """Arabic when Arabic-script words are at least ``ARABIC_SHARE`` of the words.

    The one rule for "is this Arabic": the answer language, a passage's tag and
    the reading direction in the UI all use it. Text with no letters at all
    counts as English (the interface default).
    """
    arabic, latin = script_counts(text)
    return "ar" if arabic and arabic >= ARABIC_SHARE * (arabic + latin) else "en"


def split_sentences(text: str) -> list[str]:
    """Sentences of prose in either script; each line is segmented by its own language's rules.

    English lines go to pysbd, which knows abbreviations ("U.S.", "e.g.") and
    decimals that a regex would cut. Arabic lines end sentences at . ! ? ؟
    followed by a space: pysbd's Arabic rules also cut at the Arabic comma and
    the colon, which would quote half a sentence.
    """
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        pieces = _ARABIC_SENTENCE_END.split(line) if detect_language(line) == "ar" else _english_segmenter().segment(line)
        out.extend(p.strip() for p in pieces if p and p.strip())
    return out


_ARABIC_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+")


@cache
def _english_segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def chunk_language(text: str) -> str:
    """Language tag for a passage: ``ar``, ``en``, or ``ar+en`` when it has sentences in both."""
    found = {detect_language(s) for s in split_sentences(text) if sum(script_counts(s)) >= 3}
    return "ar+en" if len(found) == 2 else (found.pop() if found else detect_language(text))
