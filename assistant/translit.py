"""Names across scripts by their consonants: "Antarah" and عنترة, "Naguib Mahfouz" and نجيب محفوظ.

An English question about an Arabic text names people and places the way
English writes them; the passages write them in Arabic. The embedder matches
common names across scripts (Egypt / مصر) but not rare ones: on the ARCD
English dev split, a correct name and an unrelated one score alike
(robust z 3.6-5.3 against 3.4-4.2). Arabic script writes consonants and
long vowels; romanizations keep the consonants and vary the vowels
(Yousra / Yusra / Yosra). So both sides are reduced to a *consonant skeleton*
over coarse sound classes (س ص ش -> S; ت ط ث -> T; ق ك خ -> K; English
"sh", "ch", "s", "c" before e/i -> S, ...), the article (al-/el-, ال) and the
vowels dropped, and two words are the same name when their skeletons are equal
and at least ``MIN_CONSONANTS`` long. These are the letters of the two
alphabets and the usual romanization of each, not a list of names: any name
of any corpus goes through the same table.

Short skeletons are too common to mean anything (Sisi -> S, Mona -> MN), so
they never match; a three-consonant match can still be a common Arabic word
that happens to share them, which is why callers only use a match to keep a
question from being called off-topic or its name "unknown", never to answer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from assistant.text import fold

MIN_CONSONANTS = 3  # two consonants (MN, LS, SS) match half the Arabic dictionary

_AR_CLASS = {
    "ب": "B", "پ": "B", "ت": "T", "ث": "T", "ط": "T", "ج": "J", "چ": "J", "ح": "H", "ه": "H", "خ": "K", "ق": "K",
    "ك": "K", "گ": "J", "د": "D", "ض": "D", "ذ": "Z", "ز": "Z", "ظ": "Z", "ر": "R", "س": "S", "ش": "S", "ص": "S",
    "غ": "G", "ف": "F", "ڤ": "F", "ل": "L", "م": "M", "ن": "N",
}
_AR_GLIDES = {"و": "W", "ي": "Y", "ى": "Y"}  # consonants at the start of a word, long vowels inside it
_AR_SILENT = set("اأإآٱءئؤعة")  # vowel carriers, hamza, ain, ta marbuta: romanizations drop or vary them
_AR_ARTICLE = re.compile(r"^(?:[وفبكل]?ال|لل)(?=\w{2,})")
_AR_DIACRITICS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")

_LATIN_DIGRAPHS = (("sch", "S"), ("kh", "K"), ("gh", "G"), ("sh", "S"), ("ch", "S"), ("th", "T"), ("dh", "Z"),
                   ("ph", "F"), ("ck", "K"), ("ou", "u"), ("ee", "i"), ("oo", "u"))
_LATIN_CLASS = {"b": "B", "p": "B", "t": "T", "d": "D", "j": "J", "g": "J", "h": "H", "k": "K", "q": "K", "x": "KS",
                "s": "S", "z": "Z", "f": "F", "v": "F", "l": "L", "m": "M", "n": "N", "r": "R"}
_LATIN_ARTICLE = re.compile(r"^(?:a|e|u)l[-'’ ]")
_LATIN_VOWELS = set("aeiouyw")


def _collapse(codes: list[str]) -> str:
    """Doubled consonants written once (Hassan / حسان), a final H dropped (Antarah / عنترة, Taha / طه)."""
    out: list[str] = []
    for code in codes:
        if not out or out[-1] != code:
            out.append(code)
    text = "".join(out)
    return text[:-1] if text.endswith("H") else text


def arabic_skeleton(word: str) -> str:
    """Consonant classes of an Arabic word, article and long vowels removed."""
    word = _AR_ARTICLE.sub("", _AR_DIACRITICS.sub("", fold(word)))
    codes: list[str] = []
    for i, ch in enumerate(word):
        if ch in _AR_CLASS:
            codes.append(_AR_CLASS[ch])
        elif ch in _AR_GLIDES and i == 0:
            codes.append(_AR_GLIDES[ch])
    return _collapse(codes)


def latin_skeleton(word: str) -> str:
    """Consonant classes of a romanized word, article and vowels removed."""
    word = unicodedata.normalize("NFKD", fold(word).lower())
    word = "".join(ch for ch in word if not unicodedata.combining(ch))
    word = _LATIN_ARTICLE.sub("", word)
    word = re.sub(r"['’]s$", "", word)
    word = re.sub(r"c(?=[eiy])", "s", word)
    for pair, code in _LATIN_DIGRAPHS:
        word = word.replace(pair, code)
    codes: list[str] = []
    for i, ch in enumerate(word):
        if ch.isupper():  # a digraph's code
            codes.append(ch)
        elif ch in _LATIN_CLASS:
            codes.append(_LATIN_CLASS[ch])
        elif ch == "c":
            codes.append("K")
        elif ch in "yw" and i == 0:
            codes.append(ch.upper())
    return _collapse(codes)


def arabic_spellings(name: str, words: Iterable[str]) -> list[str]:
    """The Arabic words among ``words`` that write the romanized ``name`` (same skeleton, long enough)."""
    target = latin_skeleton(name)
    if len(target) < MIN_CONSONANTS:
        return []
    return sorted({w for w in words if re.search(r"[\u0621-\u064a]", w) and arabic_skeleton(w) == target})
