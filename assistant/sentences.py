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
index: it is saved beside the keyword index, per passage text
(``split_of``), so a start reads it instead and an ingest splits only
the passages it wrote.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.cachefile import local_dir, text_arrays, texts_from_arrays, write_npz
from assistant.config import Settings
from assistant.evidence import passage_units
from assistant.text_vectors import VectorCache

log = logging.getLogger(__name__)

SPLIT_FORMAT = 2  # bump when the saved arrays change
DIGEST_BYTES = 16  # a passage text's blake2b digest: the saved split's key for that passage
# Split into the key: a change to the sentence splitter or the unit rules changes this sample's units,
# so a split saved by an older version is not reused.
SPLIT_PROBE = ("Akash uses reverse auctions. It runs on the Cosmos SDK! Its main projects:\n- **Render**: a GPU network.\n"
               "تستخدم أكاش مزادات عكسية لتسعير الحوسبة. وهي تعمل على Cosmos SDK؟")


def sentences_of(texts: Sequence[str], units_of: Callable[[str], Sequence[str]] | None = None) -> tuple[list[str], list[int]]:
    """Every quotable unit of the passages, and the position of the passage each came from.

    ``units_of`` splits one passage (default ``passage_units``; ``split_of`` passes its memo)."""
    units: list[str] = []
    owners: list[int] = []
    for position, text in enumerate(texts):
        for unit in (units_of or passage_units)(text):
            units.append(unit)
            owners.append(position)
    return units, owners


def split_path(settings: Settings, collection_id: str) -> Path:
    """Where the sentence split of this collection is kept on this machine (as ``keyword_cache.cache_path``)."""
    if settings.server_mode:
        return local_dir(settings) / f"sentence-split-{settings.collection}-{collection_id}.npz"
    return local_dir(settings) / f"sentence-split-{settings.collection}.npz"


@functools.cache
def _key() -> str:
    probe = hashlib.sha256(json.dumps(passage_units(SPLIT_PROBE), ensure_ascii=False).encode("utf-8")).hexdigest()
    # pysbd's version too: its rules change more than this probe shows, and a saved split outlives store states
    return json.dumps({"format": SPLIT_FORMAT, "splitter": probe, "pysbd": importlib.metadata.version("pysbd")})


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=DIGEST_BYTES).digest()


def read_split(path: Path) -> dict[bytes, list[str]]:
    """The split saved at ``path``: passage text digest -> its units; empty if missing, damaged or from
    another splitter (a damaged cache means "split again", never a failed search)."""
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != _key():
                return {}
            digests = np.asarray(data["digests"], dtype=np.uint8)
            counts = np.asarray(data["counts"], dtype=np.int64)
            if digests.ndim != 2 or digests.shape != (len(counts), DIGEST_BYTES) or np.any(counts < 0):
                raise ValueError("sentence arrays do not fit together")
            units = texts_from_arrays(data["units"], data["unit_offsets"], int(counts.sum()))
    except Exception as exc:  # noqa: BLE001
        log.warning("Ignoring the unreadable sentence split %s (%s: %s).", path, type(exc).__name__, exc)
        return {}
    ends = np.cumsum(counts).tolist()
    return {bytes(d): units[end - n:end] for d, n, end in zip(digests, counts.tolist(), ends, strict=True)}


def split_of(path: Path | None, texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """``sentences_of(texts)``, reusing the split saved at ``path`` for every passage whose text it holds.

    The file is a memo from a passage's text (its digest) to its units, so
    it is right for any store state: a start on an unchanged store splits
    nothing, and an ingest that added a file splits only that file's
    passages (``indexing.prepare_start``). It is rewritten, holding exactly
    these passages, when any had to be split or any it held are gone.
    """
    saved = read_split(path) if path is not None else {}
    split: dict[bytes, Sequence[str]] = {}

    def units_of(text: str) -> Sequence[str]:
        digest = _digest(text)
        if digest not in split:
            split[digest] = saved[digest] if digest in saved else passage_units(text)
        return split[digest]

    units, owners = sentences_of(texts, units_of)
    if path is not None and split.keys() != saved.keys():
        buffer, offsets = text_arrays([u for parts in split.values() for u in parts])
        write_npz(path, {"key": np.asarray(_key()), "units": buffer, "unit_offsets": offsets,
                         "digests": np.frombuffer(b"".join(split), dtype=np.uint8).reshape(len(split), DIGEST_BYTES),
                         "counts": np.asarray([len(p) for p in split.values()], dtype=np.int32)})
    return units, owners


@dataclass
class SentenceIndex:
    """Sentence vectors of one store state, each row tagged with its passage's id."""

    ids: list[str]  # passage ids, by position
    owners: np.ndarray  # int32: for each sentence, its passage's position in ``ids``
    vectors: np.ndarray  # float32 [sentences, dim], passage-side

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
