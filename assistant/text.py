"""Script-aware text utilities: Arabic normalization, tokenization, language detection.

Lexical search fails on Arabic when spelling variants are treated as different
words (أكاش / اكاش, الشبكة / الشبكه, diacritics, tatweel). Everything that
compares words goes through ``normalize`` and ``tokenize`` here, so the index
and the query always agree. Built on pyarabic's character tables.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal

import pyarabic.araby as araby

Language = Literal["ar", "en"]

_ARABIC_LETTER = re.compile(r"[\u0621-\u064A\u0671-\u06D3\u06FA-\u06FF]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00C0-\u024F]")
_WORD = re.compile(r"\w+(?:[.\-]\w+)*")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00ad]")
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# Definite article with the conjunctions/prepositions that attach to it, longest first.
_ARTICLE_PREFIXES = ("وبال", "وال", "فال", "بال", "كال", "لل", "ال")

STOPWORDS_AR = frozenset(
    normalize_word
    for normalize_word in """
    ما ماذا من هو هي هل كيف لماذا متى اين أين أي اي ايه إيه ايش إيش شو وش ليش ليه عن في على الى إلى من مع
    و او أو ثم لا لم لن ان أن إن كان كانت يكون تكون هذا هذه ذلك تلك الذي التي الذين بين كل بعض غير
    قد لقد ايضا أيضا فقط هناك هنا عند عندما حول كما مثل بها فيها فيه به له لها منها منه عليها عليه
    وما وهل وكيف ومن وماذا انا أنا نحن انت أنت هم يا بس طيب عايز عاوز ابغى أبغى ابي أبي اعرف أعرف
    ممكن تقول قل قولي لي ني الـ ال يعني شنو منو
    """.split()
)
STOPWORDS_EN = frozenset(
    """
    a an the is are was were be been being of to in on at for from by with about as into and or but not no
    what which who whom whose when where why how does do did can could would should will shall may might
    it its this that these those there here i me my we our you your he she they them their his her
    tell please explain describe give list some any much many more most also only just than then so such
    has have had use uses used using based according article say says said
    """.split()
)


def fold(text: str) -> str:
    """Unicode-compose, drop invisible characters and unify digits; safe for display too."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return text.translate(_DIGITS)


# One translate table does what strip_tashkeel, strip_tatweel and the letter unification did in
# five passes: normalizing every passage is most of the cost of building the keyword index.
_MATCHING = str.maketrans(
    {**{mark: None for mark in araby.TASHKEEL}, araby.TATWEEL: None,
     "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"}
)


def normalize(text: str) -> str:
    """Normalize for matching: tashkeel/tatweel removed, أ إ آ ٱ -> ا, ى -> ي, ة -> ه, ؤ -> و, ئ -> ي, Latin lower-cased."""
    return fold(text).translate(_MATCHING).lower()


def strip_clitics(token: str) -> str:
    """Remove the definite article and the particles fused to it (وال، بال، لل ...), keeping 2+ letters."""
    if not _ARABIC_LETTER.match(token):
        return token
    for prefix in _ARTICLE_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 2:
            return token[len(prefix):]
    return token


_STOP_NORMALIZED = frozenset(normalize(w) for w in STOPWORDS_AR | STOPWORDS_EN)


def tokenize(text: str, *, drop_stopwords: bool = True) -> list[str]:
    """Unicode word tokens of the normalized text; dotted names (io.net) also yield their parts."""
    tokens: list[str] = []
    for match in _WORD.finditer(normalize(text)):
        tokens.extend(_word_tokens(match.group(0), drop_stopwords))
    return tokens


@lru_cache(maxsize=262_144)
def _word_tokens(word: str, drop_stopwords: bool) -> tuple[str, ...]:
    """Tokens of one normalized word; cached, since a corpus repeats the same words endlessly."""
    out: list[str] = []
    parts = [word] + (re.split(r"[.\-]", word) if ("." in word or "-" in word) else [])
    for part in parts:
        if drop_stopwords and part in _STOP_NORMALIZED:
            continue
        part = strip_clitics(part)
        if len(part) < 2 and not part.isdigit():
            continue
        if drop_stopwords and part in _STOP_NORMALIZED:
            continue
        out.append(part)
    return tuple(out)


def script_counts(text: str) -> tuple[int, int]:
    """Number of words written in Arabic script and in Latin script."""
    arabic = latin = 0
    for word in _WORD.findall(text):
        if _ARABIC_LETTER.search(word):
            arabic += 1
        elif _LATIN_LETTER.search(word):
            latin += 1
    return arabic, latin


def detect_language(text: str) -> Language:
    """Arabic when Arabic-script words are at least as many as Latin ones.

    Ties go to Arabic because Arabic sentences routinely carry Latin project
    names ("شو هو Akash Network؟"), while English sentences rarely carry Arabic.
    Text with no letters at all counts as English (the interface default).
    """
    arabic, latin = script_counts(text)
    if arabic == 0:
        return "en"
    return "ar" if arabic >= latin else "en"


def chunk_language(text: str) -> str:
    """Language tag for a passage: ``ar``, ``en`` or ``ar+en`` when both carry real prose."""
    arabic, latin = script_counts(text)
    total = arabic + latin
    if total == 0:
        return "en"
    if arabic and latin and min(arabic, latin) / total >= 0.3:
        return "ar+en"
    return "ar" if arabic >= latin else "en"


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences on . ! ? ؟ ؛ and line breaks, in both scripts."""
    pieces = re.split(r"(?<=[.!?؟؛])\s+|\n+", text)
    return [p.strip() for p in pieces if p and p.strip()]
