"""The lexical leg: BM25 over Arabic-normalized tokens, plus a cross-script alias table.

Dense vectors blur exact names; BM25 keeps them. But BM25 only helps Arabic if
both sides are normalized the same way (``assistant.text``) and if a name
written in Latin inside Arabic prose ("Akash Network") can be reached from its
Arabic spelling (أكاش). The alias table, read from the front matter of the
corpus files (``aliases`` and ``terms``), expands a query with every spelling
of each name it mentions, tolerating one-letter typos ("Akahs", "رندر").
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import distance, process

from assistant.text import normalize, terms, word_script, words

# One-letter Arabic proclitics (and, with, for, so, like), written joined to the next word.
_PROCLITICS = "وبلفك"
_JOINED_TO_LATIN = re.compile(r"(?<![^\W\d_])([وبلفك])(?=[A-Za-z])")
# Typo tolerance: a word of at least this many letters may be one edit (insertion,
# deletion, substitution or swap of neighbours) away from a known word.
TYPO_MIN_LETTERS = 4
# In an Arabic-script word this short, a replaced letter counts only at either end (see ``closest_word``).
ARABIC_ROOT_LETTERS = 5
# Letters Arabic spelling writes or leaves out within one word: the long vowels and the hamza and its seats.
_SPELLING_LETTERS = frozenset("اويىءأإآؤئ")


def closest_word(word: str, vocabulary: Sequence[str]) -> str | None:
    """The vocabulary word one edit away from ``word`` (rapidfuzz, in C), or None.

    Arabic writes no short vowels and builds words on three-letter roots, so
    replacing a letter inside a short Arabic word mostly makes another real
    word (أكثر "more" was read as the name إيثر, شركة "company" as شبكة
    "network"). What varies within one word family is at the edges, the
    affixes around the root: the person of a verb (يعتمد / تعتمد), a
    derivation (ينفع / منفع), an ending (توكنز / توكنا), and spelling adds
    or drops a long vowel or a hamza (كودس / كودوس), or a joined proclitic. So
    up to ``ARABIC_ROOT_LETTERS`` letters (a root and two added letters) a
    replaced letter counts only as the first or the last, and a letter added
    or dropped inside the word only when it is one of those spelling letters:
    dropping a consonant makes another word too (مقابل "in return" was read
    as مقال "article"). Longer words and Latin ones take any one edit.
    """
    if len(word) < TYPO_MIN_LETTERS or not vocabulary:
        return None
    if len(word) > ARABIC_ROOT_LETTERS or word_script(word) != "ar":
        match = process.extractOne(word, vocabulary, scorer=distance.OSA.distance, score_cutoff=1)
        return match[0] if match else None
    for candidate, _, _ in process.extract(word, vocabulary, scorer=distance.OSA.distance, score_cutoff=1, limit=None):
        if _affix_edit(word, candidate):
            return candidate
    return None


def _affix_edit(word: str, other: str) -> bool:
    """Whether ``other`` (one edit from ``word``) differs by a long vowel added or dropped, or a letter at either end."""
    if len(word) != len(other):
        longer, shorter = (word, other) if len(word) > len(other) else (other, word)
        at = next((i for i, (a, b) in enumerate(zip(longer, shorter, strict=False)) if a != b), len(shorter))
        return at in (0, len(longer) - 1) or longer[at] in _SPELLING_LETTERS
    differ = [i for i, (a, b) in enumerate(zip(word, other, strict=True)) if a != b]
    return len(differ) == 1 and differ[0] in (0, len(word) - 1)


@dataclass
class AliasGroup:
    """All spellings of one name; ``canonical`` is the form the corpus mostly uses."""

    canonical: str
    spellings: list[str]
    token_sets: list[frozenset[str]] = field(default_factory=list)
    subject: bool = False  # the name of a document (its title with ``aliases``), not a term it uses

    def __post_init__(self) -> None:
        self.token_sets = [frozenset(t) for t in (words(s) for s in self.spellings) if t]

    @property
    def terms(self) -> list[str]:
        """Index terms of every spelling (what BM25 matches)."""
        return [t for s in self.spellings for t in terms(s)]


class AliasTable:
    """Finds the names a text mentions, in any script, and returns their other spellings."""

    def __init__(self, groups: Iterable[AliasGroup]) -> None:
        self.groups = [g for g in groups if g.token_sets]
        vocabulary = {tok for g in self.groups for ts in g.token_sets for tok in ts}
        self.vocabulary = vocabulary
        self._long_words = sorted(w for w in vocabulary if len(w) >= TYPO_MIN_LETTERS)
        self._corrections: dict[str, str | None] = {}  # lives as long as this table (one store state)
        self._identifying: dict[tuple[str, ...], frozenset[str]] = {}
        self._holders: dict[str, list[AliasGroup]] = {}  # index term -> the groups that have it
        for group in self.groups:
            for term in dict.fromkeys(group.terms):
                self._holders.setdefault(term, []).append(group)
        self._subject_terms: frozenset[str] | None = None

    @classmethod
    def from_metadatas(cls, metadatas: Iterable[dict]) -> AliasTable:
        """Build from chunk metadata: each document's title with its ``aliases`` and ``terms`` entries."""
        merged: dict[str, set[str]] = {}
        subjects: set[str] = set()
        for meta in metadatas:
            aliases = [a.strip() for a in str(meta.get("aliases") or "").split(";") if a.strip()]
            if aliases:
                merged.setdefault(str(meta.get("title")), set()).update(aliases)
                subjects.add(str(meta.get("title")))
            for entry in str(meta.get("terms") or "").split("|"):
                names = [a.strip() for a in entry.split(";") if a.strip()]
                if len(names) > 1:
                    merged.setdefault(names[0], set()).update(names[1:])
        return cls(AliasGroup(name, [name, *sorted(spellings)], subject=name in subjects) for name, spellings in merged.items())

    def correct(self, tokens: Sequence[str]) -> list[str]:
        """Map words one edit away from a known name word onto it ("Akahs" -> "akash")."""
        return [tok if tok in self.vocabulary else (self._closest(tok) or tok) for tok in tokens]

    def _closest(self, word: str) -> str | None:
        if word not in self._corrections:
            self._corrections[word] = closest_word(word, self._long_words)
        return self._corrections[word]

    def tokens(self, text: str) -> list[str]:
        """The text's words as names are read: a one-letter proclitic joined to a name set apart, typos mapped onto names.

        Arabic writes و ب ل ف ك joined to the next word, a Latin name too
        ("وio.net", "بAkash"); before an Arabic name ("وأكاش") it is split off
        only when the rest is a name word, since so many words begin with these letters.
        """
        out: list[str] = []
        for word in words(_JOINED_TO_LATIN.sub(r"\1 ", text)):
            if len(word) > 3 and word[0] in _PROCLITICS and word[1:] in self.vocabulary:
                out += [word[0], word[1:]]
            else:
                out.append(word)
        return self.correct(out)

    def mentions(self, text: str) -> list[AliasGroup]:
        """Groups whose spellings (all words of at least one) appear in the text, typo-tolerant."""
        tokens = set(self.tokens(text))
        return [g for g in self.groups if any(ts <= tokens for ts in g.token_sets)]

    def identifying_terms(self, group: AliasGroup) -> frozenset[str]:
        """The group's index terms that no other name has: what makes a sentence about this name.

        Names share their generic words ("Akash Network", "Render Network",
        "شبكة أكاش"): a line about Ritual that says "شبكة" is not about Akash.
        A group that shares a whole spelling with this one ("Akash" beside "Akash
        Network", "Akash") is the same name, not another. A name all of whose
        terms another name has too keeps them all.
        """
        return self._own_terms(group) or frozenset(group.terms)

    def _own_terms(self, group: AliasGroup) -> frozenset[str]:
        """The group's terms that every group holding them shares a whole spelling with (may be none)."""
        key = (group.canonical, *group.spellings)
        if key not in self._identifying:
            spellings = set(group.token_sets)
            self._identifying[key] = frozenset(t for t in group.terms
                                               if all(spellings & set(other.token_sets) for other in self._holders.get(t, ())))
        return self._identifying[key]

    def subject_terms(self) -> frozenset[str]:
        """The words that make a sentence about one document's subject: each document name's
        (``AliasGroup.subject``) one-word spellings that no other name has.

        A word that is only part of a spelling may be an ordinary word ("cloud" of Nuco.cloud, "AI" of
        NetMind.AI, نيت of ايو نيت); a name with no word of its own gives none here, though
        ``identifying_terms`` falls back to all its words; a ``terms`` entry (Solana, Kubernetes) names
        something documents use, not one of their subjects.
        """
        if self._subject_terms is None:
            whole = {found[0] for g in self.groups if g.subject for s in g.spellings
                     if len(s.split()) == 1 and (found := terms(s))}
            self._subject_terms = frozenset(t for g in self.groups if g.subject for t in self._own_terms(g) if t in whole)
        return self._subject_terms

    def expand(self, text: str) -> list[str]:
        """Extra index terms for a query: every spelling of every name it mentions."""
        return [t for group in self.mentions(text) for t in group.terms]


@dataclass
class TermCounts:
    """Each passage's term frequencies as compressed rows over one vocabulary: what a BM25 index is built from.

    The terms of passage ``i`` are ``vocabulary[term_ids[offsets[i]:offsets[i + 1]]]``
    with their frequencies in ``tfs``. Rows can come from tokenizing a passage
    or from a saved index (``BM25Arrays.counts``), so an index over a
    store that changed by a few files tokenizes only the passages that are new.
    """

    vocabulary: list[str]
    offsets: np.ndarray  # int64, passages + 1
    term_ids: np.ndarray  # int32, into vocabulary
    tfs: np.ndarray  # int32

    @property
    def passages(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def of(cls, token_lists: Iterable[list[str]]) -> TermCounts:
        """Counts of tokenized passages."""
        return cls([], np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)).extended(token_lists)

    def extended(self, rows: Iterable[int | list[str]]) -> TermCounts:
        """New counts, one row per item: an int reuses that row of these counts (an unchanged passage),
        a token list is counted (a new passage). The vocabulary keeps these terms' ids and grows.

        Rows may come from a generator, so a large store's token lists need not all be held at once.
        """
        vocabulary = list(self.vocabulary)
        term_id = {t: i for i, t in enumerate(vocabulary)}
        id_parts: list[np.ndarray] = []
        tf_parts: list[np.ndarray] = []
        lengths: list[int] = []
        for row in rows:
            if isinstance(row, list):
                # An empty token list would break BM25's averages; it gets a placeholder term.
                counted = Counter(row or ["\u2205"])
                ids = np.asarray([term_id.setdefault(t, len(term_id)) for t in counted], dtype=np.int32)
                tf = np.asarray(list(counted.values()), dtype=np.int32)
            else:
                lo, hi = self.offsets[row], self.offsets[row + 1]
                ids, tf = self.term_ids[lo:hi], self.tfs[lo:hi]
            id_parts.append(ids)
            tf_parts.append(tf)
            lengths.append(len(ids))
        vocabulary.extend(list(term_id)[len(vocabulary):])
        empty = np.zeros(0, dtype=np.int32)
        return TermCounts(vocabulary, np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64),
                          np.concatenate(id_parts or [empty]).astype(np.int32), np.concatenate(tf_parts or [empty]).astype(np.int32))


@dataclass
class BM25Arrays:
    """A built BM25 index as flat arrays: what ``keyword_cache`` writes to disk and reads back.

    Postings are stored term by term (compressed sparse rows): the passages of
    ``terms[i]`` are ``positions[offsets[i]:offsets[i + 1]]`` with their term
    frequencies in ``tfs``. ``norm`` is each passage's length normalization
    and ``params`` holds k1, b and delta, so a loaded index scores exactly as
    the one that was built.
    """

    terms: np.ndarray  # uint8: the indexed terms as a UTF-8 JSON list (a fixed-width unicode array would pad
    # every term to the longest one, hundreds of MB for a vocabulary with one long URL in it)
    offsets: np.ndarray  # int64, len(terms) + 1
    positions: np.ndarray  # int32 passage positions
    tfs: np.ndarray  # int32 term frequencies
    idf: np.ndarray  # float64, one per term
    norm: np.ndarray  # float64, one per passage
    params: np.ndarray  # float64 [k1, b, delta]

    def checked_terms(self, passages: int) -> list[str]:
        """The indexed terms, once the arrays are known to fit together for ``passages`` passages; ValueError if not.

        Every passage has at least one term (the placeholder if nothing else:
        ``TermCounts.extended``) and every count is at least one.
        """
        terms_ = json.loads(np.asarray(self.terms, dtype=np.uint8).tobytes().decode("utf-8"))
        if not isinstance(terms_, list) or not all(isinstance(t, str) for t in terms_) or len(set(terms_)) != len(terms_):
            raise ValueError("BM25 terms are not a list of distinct strings")
        offsets, positions, tfs = np.asarray(self.offsets), np.asarray(self.positions), np.asarray(self.tfs)
        if (len(offsets) != len(terms_) + 1 or len(self.idf) != len(terms_) or len(self.norm) != passages
                or len(tfs) != len(positions) or len(self.params) != 3 or (len(offsets) and offsets[0] != 0)
                or offsets[-1] != len(positions) or np.any(np.diff(offsets) < 0)
                or (len(positions) and (positions.min() < 0 or positions.max() >= passages))
                or (len(tfs) and tfs.min() < 1) or not np.all(np.bincount(positions, minlength=passages))):
            raise ValueError("BM25 arrays do not fit together")
        return terms_

    def counts(self, passages: int) -> TermCounts:
        """Each passage's term counts, read straight from the postings (no tokenizing, no index built):
        what an ingest reuses for the passages of the previous state that are still there."""
        vocabulary = self.checked_terms(passages)
        offsets = np.asarray(self.offsets, dtype=np.int64)
        positions = np.asarray(self.positions, dtype=np.int32)
        term_ids = np.repeat(np.arange(len(vocabulary), dtype=np.int32), np.diff(offsets))
        order = np.argsort(positions, kind="stable")  # passage by passage; terms keep their order within one
        rows = np.concatenate([[0], np.cumsum(np.bincount(positions, minlength=passages))]).astype(np.int64)
        return TermCounts(vocabulary, rows, term_ids[order], np.asarray(self.tfs, dtype=np.int32)[order])


class BM25Index:
    """BM25+ (rank_bm25's formula) over normalized tokens of each passage (and its document's aliases).

    BM25+ rather than Okapi: Okapi's idf is zero or negative for a term found in
    half the passages or more, which on a small corpus silences exactly the
    names people ask about. BM25+ adds a constant to every passage, so only
    passages sharing at least one query term are returned.

    The statistics are rank_bm25's (a test scores against it), computed over
    arrays of term counts; scoring uses postings. The index can be turned into
    flat arrays and back (``to_arrays``/``from_arrays``) so a start on an
    unchanged store loads it instead of tokenizing every passage; the arrays
    give back each passage's counts (``BM25Arrays.counts``) so an ingest
    tokenizes only new passages.
    """

    def __init__(self, ids: Sequence[str], token_lists: Iterable[list[str]]) -> None:
        self._from_counts(ids, TermCounts.of(token_lists))

    @classmethod
    def from_counts(cls, ids: Sequence[str], counts: TermCounts) -> BM25Index:
        """The index of passages given by their term counts (``TermCounts``), one row per id."""
        index = cls.__new__(cls)
        index._from_counts(ids, counts)
        return index

    def _from_counts(self, ids: Sequence[str], counts: TermCounts, k1: float = 1.5, b: float = 0.75, delta: float = 1.0) -> None:
        """BM25Plus's statistics (rank_bm25's defaults and formula), computed over whole arrays.

        Postings (passage positions and term frequencies per term) let a query
        touch only the passages that contain its terms, instead of rank_bm25's
        loop over every passage per term; and built from counts, an ingest
        reuses the counts of unchanged passages instead of tokenizing them again.
        """
        n = len(ids)
        if counts.passages != n:
            raise ValueError(f"{counts.passages} rows of term counts for {n} passages")
        if n == 0:
            self._setup(ids, {}, {}, np.zeros(0), k1, b, delta)
            return
        rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(counts.offsets))
        tfs = counts.tfs.astype(np.float64)
        doc_len = np.bincount(rows, weights=tfs, minlength=n)
        avgdl = int(counts.tfs.sum(dtype=np.int64)) / n  # as rank_bm25: total tokens over passages
        order = np.lexsort((rows, counts.term_ids))  # term by term, passages ascending within a term
        term_ids, positions, tfs = counts.term_ids[order], rows[order], tfs[order]
        df = np.bincount(term_ids, minlength=len(counts.vocabulary))
        bounds = np.concatenate([[0], np.cumsum(df)])
        postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        idf: dict[str, float] = {}
        for term_id in np.flatnonzero(df).tolist():  # a term only removed passages held is gone
            term = counts.vocabulary[term_id]
            lo, hi = bounds[term_id], bounds[term_id + 1]
            postings[term] = (positions[lo:hi], tfs[lo:hi])
            idf[term] = math.log((n + 1) / int(df[term_id]))
        norm = k1 * (1 - b + b * doc_len / avgdl)
        self._setup(ids, postings, idf, norm, k1, b, delta)

    def _setup(self, ids: Sequence[str], postings: dict[str, tuple[np.ndarray, np.ndarray]], idf: dict[str, float],
               norm: np.ndarray, k1: float, b: float, delta: float) -> None:
        self.ids = list(ids)
        self.postings = postings
        self.vocabulary = self.postings.keys()
        self._idf = idf
        self._norm = norm
        self.k1, self.b, self.delta = float(k1), float(b), float(delta)
        self._sorted_vocabulary: list[str] | None = None
        self._corrections: dict[str, str | None] = {}  # lives as long as this index (one store state)
        self._language_shares: dict[str, float] | None = None

    def language_shares(self) -> dict[str, float]:
        """Share of the indexed tokens (term frequencies, aliases included) written in Arabic and in Latin script.

        What the corpus is mostly written in, by volume: a passage count would
        call a corpus bilingual when one long Arabic article sits beside many
        short bilingual notes.
        """
        if self._language_shares is None:
            counts = {"ar": 0.0, "en": 0.0}
            for term, (_, tfs) in self.postings.items():
                script = word_script(term)
                if script:
                    counts[script] += float(tfs.sum())
            total = sum(counts.values())
            self._language_shares = {lang: (n / total if total else 0.0) for lang, n in counts.items()}
        return self._language_shares

    def to_arrays(self) -> BM25Arrays:
        """The index as flat arrays (see ``BM25Arrays``), for saving."""
        terms_ = list(self.postings)
        lengths = [len(self.postings[t][0]) for t in terms_]
        empty_i, empty_f = np.zeros(0, dtype=np.int32), np.zeros(0)
        return BM25Arrays(
            terms=np.frombuffer(json.dumps(terms_, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
            offsets=np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64),
            positions=np.concatenate([self.postings[t][0] for t in terms_] or [empty_i]).astype(np.int32),
            tfs=np.concatenate([self.postings[t][1] for t in terms_] or [empty_f]).astype(np.int32),
            idf=np.asarray([self._idf[t] for t in terms_], dtype=np.float64),
            norm=np.asarray(self._norm, dtype=np.float64),
            params=np.asarray([self.k1, self.b, self.delta], dtype=np.float64),
        )

    @classmethod
    def from_arrays(cls, ids: Sequence[str], arrays: BM25Arrays) -> BM25Index:
        """The index ``to_arrays`` saved, for these passage ids; ValueError if the arrays do not fit together."""
        terms_ = arrays.checked_terms(len(ids))
        offsets, positions = np.asarray(arrays.offsets, dtype=np.int64), np.asarray(arrays.positions, dtype=np.int32)
        tfs = np.asarray(arrays.tfs).astype(np.float64)
        postings = {t: (positions[offsets[i]:offsets[i + 1]], tfs[offsets[i]:offsets[i + 1]]) for i, t in enumerate(terms_)}
        idf = dict(zip(terms_, arrays.idf.astype(np.float64).tolist(), strict=True))
        index = cls.__new__(cls)
        k1, b, delta = arrays.params.tolist()
        index._setup(ids, postings, idf, np.asarray(arrays.norm, dtype=np.float64), k1, b, delta)
        return index

    @staticmethod
    def document_tokens(page_content: str, metadata: dict) -> list[str]:
        """Tokens indexed for a passage: its text (title line included) plus its aliases."""
        return terms(page_content) + terms(str(metadata.get("aliases") or "").replace(";", " "))

    @staticmethod
    def document_key(page_content: str, metadata: dict) -> tuple[str, str]:
        """What ``document_tokens`` reads: passages with equal keys have equal tokens."""
        return page_content, str(metadata.get("aliases") or "")

    def search(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Top-k (position, score) with a positive score, best first; typos are matched to indexed terms."""
        if not self.ids or not query_tokens:
            return []
        query_tokens = [self.correct(t) for t in query_tokens]
        total = np.zeros(len(self.ids))
        touched = np.zeros(len(self.ids), dtype=bool)
        for term in query_tokens:
            posting = self.postings.get(term)
            if posting is None:
                continue
            positions, tf = posting
            idf = self._idf[term]
            total[positions] += idf * tf * (self.k1 + 1) / (self._norm[positions] + tf)
            touched[positions] = True
        candidates = np.flatnonzero(touched)
        if candidates.size == 0:
            return []
        scores = total[candidates]
        if candidates.size > k:
            # Keep every candidate scoring at least the k-th best (ties included), then order only those:
            # linear in the candidates, where a full sort of 100k passages cost most of a query.
            kth = np.partition(scores, candidates.size - k)[candidates.size - k]
            keep = scores >= kth
            candidates, scores = candidates[keep], scores[keep]
        order = np.argsort(-scores, kind="stable")[:k]  # stable: equal scores keep passage order
        # BM25+ adds idf * delta for every known query term to every passage: the same constant
        # for all, so it does not change the order; it is added so scores equal rank_bm25's.
        constant = sum(self._idf.get(t, 0.0) * self.delta for t in query_tokens)
        return [(int(candidates[i]), float(scores[i] + constant)) for i in order]

    def correct(self, term: str) -> str:
        """A query term absent from the index, mapped to an indexed term one edit away ("netwrok")."""
        if term in self.postings:
            return term
        return self._closest(term) or term

    def _closest(self, term: str) -> str | None:
        if term not in self._corrections:
            if self._sorted_vocabulary is None:
                self._sorted_vocabulary = sorted(t for t in self.postings if len(t) >= TYPO_MIN_LETTERS and not t.isdigit())
            self._corrections[term] = closest_word(term, self._sorted_vocabulary)
        return self._corrections[term]

    def idf(self, term: str) -> float:
        """Inverse document frequency of an indexed term (0 when absent)."""
        return float(self._idf.get(term, 0.0))


def normalized_contains(haystack: str, needle: str) -> bool:
    """Substring test after Arabic normalization on both sides."""
    return normalize(needle) in normalize(haystack)
