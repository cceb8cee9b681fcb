"""The passages' sentences as a second dense index: finding a passage by the one sentence that answers.

A passage vector averages everything the passage says, so a question
answered by the third sentence of a long paragraph about something else
(our article: "tokenizing models can enable decentralized ownership", after
two sentences on training costs) meets that paragraph far down the dense
ranking, and across languages the keyword leg cannot lift it. Searching the
sentences themselves ("small-to-big" retrieval) finds it: each passage is
scored by its best sentence, and that ranking joins the fusion as a third
leg (``Retriever._legs``), weighted by what the keyword leg cannot read of
the question (``SENTENCE_WEIGHT``). The sentences are the quotable units of
``evidence.passage_units``, embedded passage-side once (ingest puts them in
the disk cache of ``assistant.text_vectors``), and held as one float32
matrix per store state: 1.5 kB per sentence with a 384-dim embedder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assistant.evidence import passage_units
from assistant.text_vectors import VectorCache


def sentences_of(texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """Every quotable unit of the passages, and the position of the passage each came from."""
    units: list[str] = []
    owners: list[int] = []
    for position, text in enumerate(texts):
        for unit in passage_units(text):
            units.append(unit)
            owners.append(position)
    return units, owners


@dataclass
class SentenceIndex:
    """Sentence vectors of one store state, each row tagged with its passage's id."""

    ids: list[str]  # passage ids, by position
    owners: np.ndarray  # int32: for each sentence, its passage's position in ``ids``
    vectors: np.ndarray  # float32 [sentences, dim], passage-side

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], cache: VectorCache) -> SentenceIndex:
        """Index the passages ``texts`` (with their ``ids``); vectors come from ``cache``, embedded if it lacks them."""
        return cls.of_sentences(ids, *sentences_of(texts), cache)

    @classmethod
    def of_sentences(cls, ids: Sequence[str], units: Sequence[str], owners: Sequence[int], cache: VectorCache) -> SentenceIndex:
        """Index sentences already split (``sentences_of``): ``owners`` are their passages' positions in ``ids``."""
        vectors = cache.many(units) if units else np.zeros((0, 0), dtype=np.float32)
        return cls(list(ids), np.asarray(owners, dtype=np.int32), vectors)

    def search(self, vector: np.ndarray, k: int) -> dict[str, float]:
        """The ``k`` passages whose best sentence is nearest to the query vector: id -> that sentence's cosine."""
        if not len(self.owners) or k <= 0:
            return {}
        sims = self.vectors @ np.asarray(vector, dtype=np.float32)
        best = np.full(len(self.ids), -np.inf, dtype=np.float32)
        np.maximum.at(best, self.owners, sims)
        order = np.argsort(-best, kind="stable")[:k]
        return {self.ids[i]: float(best[i]) for i in order if np.isfinite(best[i])}
