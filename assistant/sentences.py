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
Splitting the passages (pysbd) takes about 6 s per 10k passages on two
cores, a minute at 100k, and every start needs the split to build the
index: it is saved per store state beside the keyword index
(``split_of``), so a start on an unchanged store reads it instead.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.cachefile import local_dir, write_npz
from assistant.config import Settings
from assistant.evidence import passage_units
from assistant.text_vectors import VectorCache

log = logging.getLogger(__name__)

SPLIT_FORMAT = 1  # bump when the saved arrays change
# Split into the key: a change to the sentence splitter or the unit rules changes this sample's units,
# so a split saved by an older version is not reused.
SPLIT_PROBE = ("Akash uses reverse auctions. It runs on the Cosmos SDK!\n- **Render**: a GPU network.\n"
               "تستخدم أكاش مزادات عكسية لتسعير الحوسبة. وهي تعمل على Cosmos SDK؟")


def sentences_of(texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """Every quotable unit of the passages, and the position of the passage each came from."""
    units: list[str] = []
    owners: list[int] = []
    for position, text in enumerate(texts):
        for unit in passage_units(text):
            units.append(unit)
            owners.append(position)
    return units, owners


def split_path(settings: Settings, collection_id: str) -> Path:
    """Where the sentence split of this collection is kept on this machine (as ``keyword_cache.cache_path``)."""
    if settings.server_mode:
        return local_dir(settings) / f"sentence-split-{settings.collection}-{collection_id}.npz"
    return local_dir(settings) / f"sentence-split-{settings.collection}.npz"


@functools.cache
def _split_key_digest() -> str:
    return hashlib.sha256(json.dumps(passage_units(SPLIT_PROBE), ensure_ascii=False).encode("utf-8")).hexdigest()


def _key(state: str, passages: int) -> str:
    return json.dumps({"format": SPLIT_FORMAT, "state": state, "passages": passages, "splitter": _split_key_digest()})


def split_of(path: Path | None, state: str, texts: Callable[[], Sequence[str]], passages: int) -> tuple[list[str], list[int]]:
    """``sentences_of`` the passages of this store state: read from ``path`` when saved there for this state
    (and splitter), else split from ``texts()`` and saved. ``passages``: how many passages the state has."""
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["key"]) == _key(state, passages):
                    offsets = np.asarray(data["offsets"], dtype=np.int64)
                    raw = np.asarray(data["texts"], dtype=np.uint8).tobytes()
                    owners = np.asarray(data["owners"], dtype=np.int64)
                    if (len(offsets) != len(owners) + 1 or (len(offsets) and offsets[-1] != len(raw))
                            or np.any(np.diff(offsets) < 0) or (len(owners) and (owners.min() < 0 or owners.max() >= passages))):
                        raise ValueError("sentence arrays do not fit together")
                    bounds = offsets.tolist()
                    return [raw[bounds[n]:bounds[n + 1]].decode("utf-8") for n in range(len(owners))], owners.tolist()
        except Exception as exc:  # noqa: BLE001 - a damaged cache means "split again", never a failed search
            log.warning("Ignoring the unreadable sentence split %s (%s: %s).", path, type(exc).__name__, exc)
    units, owners = sentences_of(texts())
    if path is not None:
        encoded = [u.encode("utf-8") for u in units]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        write_npz(path, {"key": np.asarray(_key(state, passages)), "texts": np.frombuffer(b"".join(encoded), dtype=np.uint8),
                         "offsets": offsets, "owners": np.asarray(owners, dtype=np.int32)})
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
