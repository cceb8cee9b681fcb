"""The lexical leg: BM25 over Arabic-normalized tokens, plus a cross-script alias table.

Dense vectors blur exact names; BM25 keeps them. But BM25 only helps Arabic if
both sides are normalized the same way (``assistant.text``) and if a name
written in Latin inside Arabic prose ("Akash Network") can be reached from its
Arabic spelling (أكاش). The alias table, read from the front matter of the
corpus files (``aliases`` and ``terms``), expands a query with every spelling
of each name it mentions, tolerating one-letter typos ("Akahs", "رندر").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rank_bm25 import BM25Plus

from assistant.text import normalize, tokenize


@dataclass
class AliasGroup:
    """All spellings of one name; ``canonical`` is the form the corpus mostly uses."""

    canonical: str
    spellings: list[str]
    token_sets: list[frozenset[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.token_sets = [frozenset(t) for t in (tokenize(s, drop_stopwords=False) for s in self.spellings) if t]


def _within_one_edit(a: str, b: str) -> bool:
    """Damerau distance <= 1 (one insertion, deletion, substitution or swap)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if la < lb else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


class AliasTable:
    """Finds the names a text mentions, in any script, and returns their other spellings."""

    def __init__(self, groups: Iterable[AliasGroup]) -> None:
        self.groups = [g for g in groups if g.token_sets]
        self.vocabulary = {tok for g in self.groups for ts in g.token_sets for tok in ts}

    @classmethod
    def from_metadatas(cls, metadatas: Iterable[dict]) -> AliasTable:
        """Build from chunk metadata: each document's title with its ``aliases`` and ``terms`` entries."""
        merged: dict[str, set[str]] = {}
        for meta in metadatas:
            aliases = [a.strip() for a in str(meta.get("aliases") or "").split(";") if a.strip()]
            if aliases:
                merged.setdefault(str(meta.get("title")), set()).update(aliases)
            for entry in str(meta.get("terms") or "").split("|"):
                names = [a.strip() for a in entry.split(";") if a.strip()]
                if len(names) > 1:
                    merged.setdefault(names[0], set()).update(names[1:])
        return cls(AliasGroup(name, [name, *sorted(spellings)]) for name, spellings in merged.items())

    def correct(self, tokens: Sequence[str]) -> list[str]:
        """Map query tokens that are one edit away from a known name token onto it (typo tolerance)."""
        out = []
        for tok in tokens:
            if tok in self.vocabulary or len(tok) < 4:
                out.append(tok)
                continue
            match = next((v for v in self.vocabulary if len(v) >= 4 and _within_one_edit(tok, v)), None)
            out.append(match or tok)
        return out

    def mentions(self, text: str) -> list[AliasGroup]:
        """Groups whose spellings (all tokens of at least one) appear in the text, typo-tolerant."""
        tokens = set(self.correct(tokenize(text, drop_stopwords=False)))
        return [g for g in self.groups if any(ts <= tokens for ts in g.token_sets)]

    def expand(self, text: str) -> list[str]:
        """Extra tokens for a query: every spelling of every name it mentions."""
        extra: list[str] = []
        for group in self.mentions(text):
            for spelling in group.spellings:
                extra.extend(tokenize(spelling))
        return extra


class BM25Index:
    """rank_bm25 over normalized tokens of each passage (and its document's aliases).

    BM25+ rather than Okapi: Okapi's idf is zero or negative for a term found in
    half the passages or more, which on a small corpus silences exactly the
    names people ask about. BM25+ adds a constant to every passage, so only
    passages sharing at least one query term are returned.
    """

    def __init__(self, ids: Sequence[str], token_lists: Sequence[list[str]]) -> None:
        self.ids = list(ids)
        # An empty token list would break BM25's averages; give it a placeholder.
        corpus = [toks or ["\u2205"] for toks in token_lists]
        self._bm25 = BM25Plus(corpus) if corpus else None
        # Postings (passage positions and term frequencies per term) let a query touch only the
        # passages that contain its terms, instead of rank_bm25's loop over every passage per term.
        positions: dict[str, list[int]] = {}
        freqs: dict[str, list[int]] = {}
        if self._bm25 is not None:
            for position, counts in enumerate(self._bm25.doc_freqs):
                for term, tf in counts.items():
                    positions.setdefault(term, []).append(position)
                    freqs.setdefault(term, []).append(tf)
        self.postings = {t: (np.asarray(p, dtype=np.int32), np.asarray(freqs[t], dtype=np.float64)) for t, p in positions.items()}
        self.vocabulary = self.postings.keys()
        self._norm = None
        if self._bm25 is not None:
            b, k1 = self._bm25.b, self._bm25.k1
            self._norm = k1 * (1 - b + b * np.asarray(self._bm25.doc_len, dtype=np.float64) / self._bm25.avgdl)
            # The postings hold the same counts: rank_bm25's per-passage dicts would double the
            # memory of a large store (hundreds of MB at 100k passages). Its idf table is kept.
            self._bm25.doc_freqs = []

    @staticmethod
    def document_tokens(page_content: str, metadata: dict) -> list[str]:
        """Tokens indexed for a passage: its text (title line included) plus its aliases."""
        return tokenize(page_content) + tokenize(str(metadata.get("aliases") or "").replace(";", " "))

    def search(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Top-k (position, score) with a positive score, best first."""
        if self._bm25 is None or not query_tokens:
            return []
        bm25 = self._bm25
        total = np.zeros(len(self.ids))
        touched = np.zeros(len(self.ids), dtype=bool)
        for term in query_tokens:
            posting = self.postings.get(term)
            if posting is None:
                continue
            positions, tf = posting
            idf = bm25.idf[term]
            total[positions] += idf * tf * (bm25.k1 + 1) / (self._norm[positions] + tf)
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
        constant = sum(bm25.idf.get(t, 0.0) * bm25.delta for t in query_tokens)
        return [(int(candidates[i]), float(scores[i] + constant)) for i in order]


def normalized_contains(haystack: str, needle: str) -> bool:
    """Substring test after Arabic normalization on both sides."""
    return normalize(needle) in normalize(haystack)
