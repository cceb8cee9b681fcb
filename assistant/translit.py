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
A word too short alone is matched inside its name ("Super Bowl" -> SBR+BL
against سوبر بول, "Lady Gaga"), as the consecutive words of both sides.

The hard g has no letter of its own in Arabic: it is written غ, ج or ك by
region (Manning / مانينغ, Gamal / جمال), so g, gh, غ and ج are one class; the
English "ch" is written تش (Kuechly / كوتشلي), one sound like ش.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from assistant.text import fold

MIN_CONSONANTS = 3  # two consonants (MN, LS, SS) match half the Arabic dictionary

_AR_CLASS = {
    "ب": "B", "پ": "B", "ت": "T", "ث": "T", "ط": "T", "ج": "J", "چ": "J", "ح": "H", "ه": "H", "خ": "K", "ق": "K",
    "ك": "K", "گ": "J", "د": "D", "ض": "D", "ذ": "Z", "ز": "Z", "ظ": "Z", "ر": "R", "س": "S", "ش": "S", "ص": "S",
    "غ": "J", "ف": "F", "ڤ": "F", "ل": "L", "م": "M", "ن": "N",
}
_AR_GLIDES = {"و": "W", "ي": "Y", "ى": "Y"}  # consonants at the start of a word, long vowels inside it
_AR_SILENT = set("اأإآٱءئؤعة")  # vowel carriers, hamza, ain, ta marbuta: romanizations drop or vary them
_AR_ARTICLE = re.compile(r"^(?:[وفبكل]?ال|لل)(?=\w{2,})")
_AR_DIACRITICS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")

_LATIN_DIGRAPHS = (("sch", "S"), ("kh", "K"), ("gh", "J"), ("sh", "S"), ("ch", "S"), ("th", "T"), ("dh", "Z"),
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
    word = _AR_ARTICLE.sub("", _AR_DIACRITICS.sub("", fold(word))).replace("تش", "ش")
    codes: list[str] = []
    for i, ch in enumerate(word):
        if ch in _AR_CLASS:
            codes.append(_AR_CLASS[ch])
        elif ch in _AR_GLIDES and i == 0:
            codes.append(_AR_GLIDES[ch])
    return _collapse(codes)


def _plain_latin(word: str) -> str:
    """A Latin word folded, lower-cased, without accents (Süleyman -> suleyman)."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", fold(word).lower()) if not unicodedata.combining(ch))


def latin_skeleton(word: str) -> str:
    """Consonant classes of a romanized word, article and vowels removed."""
    word = _LATIN_ARTICLE.sub("", _plain_latin(word))
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


_CAPITALIZED_RUN = re.compile(r"[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)+")
_ARABIC_LETTERS = re.compile(r"[\u0621-\u064a]")
LONGEST_NAME = 3  # words of a name matched together


def latin_article(token: str) -> str | None:
    """The Arabic article a romanized name is written with ("al" of al-Mutanabbi, "el" of El-Sisi), or None."""
    match = _LATIN_ARTICLE.match(_plain_latin(token))
    return match.group(0)[:-1] if match else None


def bare_name(token: str) -> str:
    """A name token without the punctuation it may end or start with ("Revolution?", "Jesus'")."""
    return token.strip(".,;:!?'’")


def name_runs(text: str) -> list[list[str]]:
    """Runs of capitalized words in a text ("Super Bowl", "Lady Gaga"), the words of each in order."""
    return [run.split() for run in (m.group(0) for m in _CAPITALIZED_RUN.finditer(text))]


def joint_skeleton(skeletons: Iterable[str]) -> str:
    """One skeleton for consecutive words, each of which must have a consonant."""
    parts = list(skeletons)
    return _collapse(list("".join(parts))) if parts and all(parts) else ""


def _joint_skeletons(name: str, runs: Iterable[list[str]]) -> set[tuple[int, str]]:
    """(words, joint skeleton) of every stretch of 2 to ``LONGEST_NAME`` words of a run that holds ``name``."""
    target = bare_name(name.lower())
    wanted: set[tuple[int, str]] = set()
    for run in runs:
        for i, word in enumerate(run):
            if bare_name(word.lower()) != target or not latin_skeleton(word):
                continue
            for size in range(2, LONGEST_NAME + 1):
                for start in range(max(0, i - size + 1), min(i, len(run) - size) + 1):
                    joint = joint_skeleton(latin_skeleton(w) for w in run[start:start + size])
                    if len(joint) >= MIN_CONSONANTS:
                        wanted.add((size, joint))
    return wanted


def written_in_arabic(name: str, runs: Iterable[list[str]], passages: Iterable[Sequence[str]]) -> bool:
    """Whether consecutive Arabic words of a passage write ``name`` together with its neighbours in one of ``runs``.

    ``passages`` are each passage's words in order; Latin words match nothing.
    A joint skeleton needs ``MIN_CONSONANTS`` too.
    """
    wanted = _joint_skeletons(name, runs)
    if not wanted:
        return False
    sizes = {size for size, _ in wanted}
    for words in passages:
        skeletons = [arabic_skeleton(w) if _ARABIC_LETTERS.search(w) else "" for w in words]
        for size in sizes:
            for start in range(len(skeletons) - size + 1):
                if (size, joint_skeleton(skeletons[start:start + size])) in wanted:
                    return True
    return False


def arabic_spellings(name: str, words: Iterable[str]) -> list[str]:
    """The Arabic words among ``words`` that write the romanized ``name`` (same skeleton, long enough)."""
    target = latin_skeleton(name)
    if len(target) < MIN_CONSONANTS:
        return []
    return sorted({w for w in words if _ARABIC_LETTERS.search(w) and arabic_skeleton(w) == target})


_FUSED_ARTICLE = re.compile(r"^[ae]l(?=[b-df-hj-np-tv-z])", re.IGNORECASE)  # "Alkhair", "Elkhair": the article written onto the name


def may_be_written(name: str, words: Iterable[str]) -> bool:
    """Whether ``words`` may write the romanized ``name``, by a laxer test than ``arabic_spellings``.

    Only for not telling a person that the documents never mention a name:
    a name of two consonants (Jeddah / جدة, Khair / خير) is too common a
    skeleton to put a question on topic, but when the passages found have a
    word with those consonants, "never mentioned" may well be false. The test
    also drops an article written onto the name (Alkhair / الخير) and takes
    a Latin word spelled with the same consonant letters (Tawilah / Taweelah:
    romanizations vary the vowels).
    """
    targets = {latin_skeleton(name)}
    if _FUSED_ARTICLE.match(name):
        targets.add(latin_skeleton(name[2:]))
    targets = {t for t in targets if len(t) >= 2}
    if not targets:
        return False
    letters = _consonant_letters(name)
    for word in words:
        if _ARABIC_LETTERS.search(word):
            if arabic_skeleton(word) in targets:
                return True
        elif len(letters) >= 2 and _consonant_letters(word) == letters:
            return True
    return False


def _consonant_letters(word: str) -> str:
    """A Latin word's letters without vowels, doubled letters once: "Taweelah" and "Tawilah" give "twlh"."""
    letters = "".join(ch for ch in _plain_latin(word) if ch.isalpha())
    return re.sub(r"(.)\1+", r"\1", re.sub(r"[aeiou]", "", letters))
