"""The answer without a language model: the passages' own sentences, each with its marker.

Works anywhere, invents nothing. The sentences are the evidence chosen for the
question (``assistant.evidence``); a sentence that only says "it" gets its
passage's sentence naming the subject, and a quote in another language than
the question's says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.evidence import Evidence, Unit
from assistant.grounding import Citation
from assistant.messages import LANGUAGE_NAMES, message
from assistant.text import Language


def with_subject(units: Sequence[Unit], candidates: Sequence[Unit], name_stems: frozenset[str]) -> list[Unit]:
    """Add, before a quoted sentence that does not name what was asked, its passage's sentence that does."""
    if not name_stems:
        return list(units)
    out = list(units)
    for unit in units:
        if unit.position == 0 or unit.stems & name_stems:
            continue
        opener = next((c for c in candidates if c.rank == unit.rank and c.position < unit.position
                       and c.language == unit.language and c.stems & name_stems), None)
        if opener is not None and opener not in out:
            out.append(opener)
    return sorted(out, key=lambda u: (u.rank, u.position))


def other_language_note(units: Sequence[Unit], language: Language) -> list[str]:
    """A line saying which quotes are in another language than the question's, if any.

    It says only that: the sentence chosen may be the Arabic one of a passage
    that also says it in English, so "no English passage says this" would not
    be true.
    """
    others = [u.language for u in units if u.language != language]
    if not others:
        return []
    name = LANGUAGE_NAMES[others[0]][0 if language == "en" else 1]
    return [message("quote_other_language" if len(others) == len(units) else "quote_some_other_language", language, name=name)]


def extractive_answer(evidence: Evidence, hits: Sequence, language: Language, name_stems: frozenset[str] = frozenset()) -> tuple[str, list[Citation]]:
    """Quote the evidence, one line per sentence, markers numbered by first use."""
    units = with_subject(evidence.units, evidence.candidates, name_stems)
    if not units:
        return message("no_support", language), []
    lines: list[str] = []
    used: list[int] = []
    for unit in units:
        if unit.rank not in used:
            used.append(unit.rank)
        lines.append(f"- {unit.text} [{used.index(unit.rank) + 1}]")
    citations = [Citation.from_hit(i + 1, hits[rank]) for i, rank in enumerate(used)]
    lines += other_language_note(units, language)
    return message("quote", language) + "\n" + "\n".join(lines), citations
