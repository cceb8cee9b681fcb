"""Citations that point at real passages, and sentences the passages do not support.

The LLM never decides what a marker means: markers that name no retrieved
passage are removed, the rest are renumbered by first use so [1] is always
the first source listed. Each sentence of a generated answer is then checked
against the passages it cites: its numbers and names must be there, and most
of its content words must be covered by theirs (same stem, or a word the
embedder finds standing out, see ``assistant.evidence``), in whatever
language each side is written. A generated answer that cites no passage, or
none of whose sentences its passages support, is not shown as the answer at
all (``ungrounded``): the passages' own words are, with a notice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.evidence import candidate_units, content_words, word_matches
from assistant.lexical import AliasTable
from assistant.text import fold, split_sentences, words
from assistant.text_vectors import VectorCache

# [1], [1, 2], [1،2]: the one marker syntax, for parsing answers and for rendering them.
MARKER = re.compile(r"\[\s*(\d+(?:\s*[,،]\s*\d+)*)\s*\]")
SHORTEST_CHECKED = 3  # content words; "Yes [1]." is too short to judge
_NUMBER = re.compile(r"\d+(?:[.,٫٬]\d+)*")
_LATIN_NAME = re.compile(r"(?<![\w.])[A-Z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)*")


@dataclass
class Citation:
    """A marker in the answer and the passage it points at."""

    marker: int
    id: str
    source: str
    section: str
    start_line: int
    end_line: int
    text: str
    title: str = ""
    kind: str = "text"  # "text": the lines are the file's; "pdf", "docx", "html": converted, so cite pages or nothing
    page_start: int = 0  # a PDF passage's pages; 0 when not a PDF
    page_end: int = 0

    def locator(self, arabic: bool = False) -> str:
        """Where in the file the passage is, as a reader finds it: pages of a PDF, lines of a text file, nothing
        for Word or HTML (their lines are the converted text's)."""
        if self.page_start:
            pages = str(self.page_start) if self.page_end <= self.page_start else f"{self.page_start}–{self.page_end}"
            return f"ص {pages}" if arabic else f"p. {pages}" if "–" not in pages else f"pp. {pages}"
        if self.kind == "text":
            return f"السطور {self.start_line}–{self.end_line}" if arabic else f"lines {self.start_line}–{self.end_line}"
        return ""

    @classmethod
    def from_hit(cls, marker: int, hit) -> Citation:  # hit: assistant.retrieval.Hit
        meta = hit.doc.metadata
        return cls(
            marker=marker,
            id=hit.id,
            source=str(meta.get("source", "")),
            section=str(meta.get("section", "")),
            start_line=int(meta.get("start_line", 0)),
            end_line=int(meta.get("end_line", 0)),
            text=hit.text,
            title=str(meta.get("title", "")),
            kind=str(meta.get("kind", "text")),
            page_start=int(meta.get("page_start", 0)),
            page_end=int(meta.get("page_end", 0)),
        )


def parse_citations(answer: str, hits: Sequence) -> tuple[str, list[Citation]]:
    """Keep markers that name a retrieved passage, renumbered by first use; drop the rest."""
    mapping: dict[int, int] = {}
    citations: list[Citation] = []

    def replace(match: re.Match[str]) -> str:
        kept = []
        for raw in re.split(r"\s*[,،]\s*", match.group(1)):
            number = int(raw)
            if not 1 <= number <= len(hits):
                continue
            if number not in mapping:
                mapping[number] = len(mapping) + 1
                citations.append(Citation.from_hit(mapping[number], hits[number - 1]))
            if mapping[number] not in kept:
                kept.append(mapping[number])
        return "".join(f"[{n}]" for n in kept)

    cleaned = MARKER.sub(replace, fold(answer))
    cleaned = re.sub(r"[ \t]+([.,،؛!?؟])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    return cleaned, citations


def sentence_markers(sentence: str) -> list[int]:
    return [int(n) for group in MARKER.findall(sentence) for n in re.split(r"\s*[,،]\s*", group)]


def _numbers(text: str) -> set[str]:
    """Numbers as digits only: "1,000", "١٠٠٠" and "1000" are the same number."""
    return {re.sub(r"[.,٫٬]", "", n) for n in _NUMBER.findall(fold(text))}


def missing_specifics(sentence: str, cited: Sequence[str], cache: VectorCache | None, min_z: float,
                      aliases: AliasTable | None = None, cross_offset: float = 0.0) -> list[str]:
    """Numbers and capitalized Latin names in a sentence that its cited passages do not contain.

    Word overlap and embedding similarity both pass "Akash was founded on Mars
    in 1850": most of its words are about Akash. Specifics are what an invented
    fact changes, so each must be in the cited text: numbers in any digit
    script; names as written, in a spelling the alias table knows, or as a word
    the embedder matches (an English answer may name "Genghis Khan" from a
    passage that writes جنكيز خان).
    """
    claim = MARKER.sub(" ", sentence)
    joined = " ".join(cited)
    missing = sorted(_numbers(claim) - _numbers(joined))
    vocab = set(words(joined))
    if aliases is not None:
        for group in aliases.mentions(joined):
            vocab.update(w for spelling in group.spellings for w in words(spelling))
    first = claim.strip().split(" ", 1)[0]
    names = [n for n in dict.fromkeys(_LATIN_NAME.findall(claim)) if n != first and not (n.isupper() and len(n) <= 4)]
    unknown = [n for n in names if not all(w in vocab for w in words(n))]
    if unknown and cache is not None:
        units = candidate_units(cited)
        matched = word_matches([words(n)[0] for n in unknown], units, cache, min_z, cross_offset)
        unknown = [n for n, row in zip(unknown, matched, strict=True) if not row.any()]
    return missing + unknown


def find_unsupported(answer: str, citations: Sequence[Citation], fallback: Sequence[str], cache: VectorCache | None,
                     *, min_z: float, min_coverage: float, cross_offset: float = 0.0, aliases: AliasTable | None = None) -> list[str]:
    """Sentences whose specifics or content words are not in the passages they cite.

    A sentence that cites nothing is checked against all retrieved passages
    (``fallback``). Short sentences ("Yes [1].") are not judged.
    """
    by_marker = {c.marker: c for c in citations}
    unsupported = []
    for sentence in split_sentences(answer):
        cited = [by_marker[m].text for m in sentence_markers(sentence) if m in by_marker] or list(fallback)
        plain = MARKER.sub(" ", sentence).strip()
        if missing_specifics(sentence, cited, cache, min_z, aliases, cross_offset):
            unsupported.append(plain)
            continue
        claim_words = list(content_words(plain))
        if len(claim_words) < SHORTEST_CHECKED or cache is None:
            continue
        matched = word_matches(claim_words, candidate_units(cited), cache, min_z, cross_offset).any(axis=1)
        if matched.mean() < min_coverage:
            unsupported.append(plain)
    return unsupported


def ungrounded(answer: str, citations: Sequence[Citation], unsupported: Sequence[str]) -> str | None:
    """Why a generated answer cannot be shown as the answer: "uncited" or "unsupported"; None when it can.

    A flag under some sentences leaves the rest usable. An answer that names no
    retrieved passage, or whose every sentence its passages fail to support,
    leaves nothing to trust: small models write fluent inventions without a
    marker ("founded by Dr. ..."), and a model that finds no answer in the
    passages says so without citing one. Either way the reader is better served
    by the passages' own words and an "unsure" status than by that text.
    """
    if not citations:
        return "uncited"
    flagged = set(unsupported)
    sentences = [MARKER.sub(" ", s).strip() for s in split_sentences(answer)]
    sentences = [s for s in sentences if words(s)]
    if sentences and all(s in flagged for s in sentences):
        return "unsupported"
    return None
