"""Finding the passages that answer a question, in either language.

Pipeline: resolve a follow-up (``assistant.conversation``) -> read the
question once (``assistant.query``) -> dense search (e5 in Chroma, its
candidates ordered by CSLS, see ``Retriever._dense_order``), the same over
the passages' sentences (``assistant.sentences``) and BM25 (stemmed,
alias-expanded, typo-tolerant) -> weighted reciprocal-rank fusion,
part by part for a comparison -> the top passages re-ordered by their best
sentence (``evidence.rank_passages``) -> relevance against the off-topic calibration
(``assistant.answerability``). The BM25 index, the alias table and the
calibration are derived from the store and cached per store state, so they
are built once after each ingest and never per query; the BM25 index is also
saved to disk for that state (``assistant.keyword_cache``), so the next start
loads it instead of tokenizing every passage again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document

from assistant import answerability, keyword_cache
from assistant import store as store_mod
from assistant.chunking import passage_text
from assistant.config import RetrievalMode, Settings
from assistant.conversation import Rewrite, Turn, condense
from assistant.embeddings import ProgressEmbeddings, get_embeddings
from assistant.evidence import Part, rank_passages
from assistant.lexical import AliasTable, BM25Index
from assistant.query import QueryAnalysis, analyze
from assistant.sentences import SentenceIndex, split_of, split_path
from assistant.text import detect_language, root
from assistant.text_vectors import DiskVectors, VectorCache, disk_path

log = logging.getLogger(__name__)
POOL_FACTOR = 4  # each leg returns this many times k candidates, so fusion can promote a passage one leg ranks low
MIN_POOL = 20  # = answerability.RELEVANCE_POOL: relevance looks at the nearest 20 whatever k


def has_text_in(doc: Document, language: str) -> bool:
    """Whether a passage has sentences in ``language`` (its ``language`` tag from ingest: ar, en or ar+en)."""
    return language in str(doc.metadata.get("language", ""))


@dataclass
class Hit:
    """One retrieved passage with the evidence behind its rank."""

    doc: Document
    score: float  # fused (RRF) score, or the single leg's score in dense/bm25 mode
    dense: float | None = None  # cosine similarity
    lexical: float | None = None  # BM25 score

    @property
    def id(self) -> str:
        return str(self.doc.metadata.get("id") or self.doc.id)

    @property
    def text(self) -> str:
        return passage_text(self.doc)

    @property
    def source(self) -> str:
        """The file the passage comes from."""
        return str(self.doc.metadata.get("source") or self.id)

    @property
    def heading(self) -> str:
        return str(self.doc.metadata.get("heading") or self.doc.metadata.get("title") or "")

    def to_json(self) -> dict[str, Any]:
        meta = self.doc.metadata
        return {
            "id": self.id,
            "source": meta.get("source"),
            "section": meta.get("section"),
            "start_line": meta.get("start_line"),
            "end_line": meta.get("end_line"),
            "kind": meta.get("kind", "text"),
            "page_start": meta.get("page_start"),
            "page_end": meta.get("page_end"),
            "score": round(self.score, 6),
            "dense_score": None if self.dense is None else round(self.dense, 6),
            "bm25_score": None if self.lexical is None else round(self.lexical, 4),
            "language": meta.get("language"),
            "title": meta.get("title"),
            "text": self.text,
        }


@dataclass
class RetrievalResult:
    """Passages for one question, the reading of the question, and how relevant the corpus is to it."""

    analysis: QueryAnalysis
    hits: list[Hit] = field(default_factory=list)
    relevance: float | None = None  # robust z against the off-topic probes (None: not computed, e.g. bm25 mode)
    vocabulary: float | None = None  # idf share of the question's words the corpus uses; None: not its main language
    query_vector: np.ndarray | None = None
    # Whether none of the passages the question's relevance was scored on (its own nearest, before any language
    # shift) has text in its language: its relevance is then weak by nature. None: no dense leg ran.
    across_languages: bool | None = None
    part_vectors: list[np.ndarray] = field(default_factory=list)

    @property
    def question(self) -> str:
        return self.analysis.question

    @property
    def query(self) -> str:
        return self.analysis.query

    @property
    def language(self) -> str:
        return self.analysis.language

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            **self.analysis.to_json(),
            "relevance": None if self.relevance is None else round(self.relevance, 3),
            "results": [h.to_json() for h in self.hits],
        }


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = 60, weights: Sequence[float] | None = None) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum over lists of weight / (k + rank), rank from 1."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def lexical_weight(terms: Sequence[str], index: BM25Index) -> float:
    """How much the keyword leg can know about this query: the idf share of its terms the index has.

    An English question over Arabic passages shares only names (if any) with
    them; letting BM25 vote with full weight on those few terms would drown
    the dense ranking. Terms the index lacks count as if rare.
    """
    if not terms:
        return 0.0
    idfs = [index.idf(t) for t in terms]
    ceiling = max([*idfs, 1.0])
    known = sum(i for t, i in zip(terms, idfs, strict=True) if t in index.vocabulary)
    total = sum(i if t in index.vocabulary else ceiling for t, i in zip(terms, idfs, strict=True))
    return known / total if total > 0 else 0.0


@dataclass
class _Legs:
    """The rankings of one search, with their weights and each passage's best score per leg."""

    rankings: list[list[str]] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    dense: dict[str, float] = field(default_factory=dict)  # cosine similarity
    lexical: dict[str, float] = field(default_factory=dict)  # BM25 score
    query_scores: list[float] = field(default_factory=list)  # per dense leg, its best CSLS score (what relevance scores)

    def add(self, scores: dict[str, float], weight: float, best: dict[str, float], order: dict[str, float] | None = None) -> None:
        """One ranking, by ``order`` when given (else by ``scores``); ``best`` keeps each passage's top score."""
        order = order if order is not None else scores
        self.rankings.append(sorted(scores, key=lambda i: -order[i]))  # stable: ties keep the leg's own order
        self.weights.append(weight)
        for doc_id, score in scores.items():
            best[doc_id] = max(best.get(doc_id, float("-inf")), score)


@dataclass
class Snapshot:
    """What retrieval derives from one store state."""

    state: str
    docs: list[Document]
    by_id: dict[str, int]
    bm25: BM25Index
    aliases: AliasTable
    calibration: answerability.Calibration | None = None
    readable: dict[str, set[str]] = field(default_factory=dict)  # language -> ids of passages with text in it
    hubness: dict[str, dict[str, float]] = field(default_factory=dict)  # language -> id -> ProbeSpace.hubness, filled as met
    sentences: SentenceIndex | None = None  # built on first use (``Retriever.sentences``)

    @property
    def titles(self) -> list[str]:
        """Document titles, most passages first: what the corpus is about, in its own words."""
        counts: dict[str, int] = {}
        for doc in self.docs:
            title = str(doc.metadata.get("title") or "").strip()
            if title:
                counts[title] = counts.get(title, 0) + 1
        return sorted(counts, key=lambda t: (-counts[t], t))


class Retriever:
    """Hybrid search over the store; one instance per process serves every request."""

    def __init__(self, settings: Settings, embeddings: ProgressEmbeddings | None = None) -> None:
        self.settings = settings
        self.embeddings = embeddings or get_embeddings(settings)
        self.view = store_mod.StoreView(settings, self.embeddings, self._build_snapshot)
        self.vectors = VectorCache(self.embeddings, disk=DiskVectors(disk_path(settings)))  # words and sentences, for reranking and quoting
        self._probes: answerability.ProbeSpace | None = None
        self._probes_lock = threading.Lock()
        self._sentences_lock = threading.Lock()
        self._sentences_pending: set[str] = set()  # store states whose sentence index a background thread builds

    def probes(self) -> answerability.ProbeSpace:
        """The everyday probe questions in this embedder's space (computed on first use, once per process)."""
        with self._probes_lock:
            if self._probes is None:
                self._probes = answerability.ProbeSpace.load_or_embed(self.embeddings, answerability.probe_cache_path(self.settings))
            return self._probes

    def warm_up(self) -> None:
        """Load what the first question needs: probe vectors, the store's snapshot (keyword index,
        calibration), the embedder's weights, the Arabic root stemmer (importing NLTK takes a second),
        then the sentence index, which a question does not wait for (``sentences``, ``wait=False``).
        Errors are left for that question to report."""
        try:
            self.probes()
            snap = self.snapshot()
            self.embeddings.embed_query("warm-up")
            root("تجربة")
            if self.settings.sentence_weight > 0 and self.settings.retrieval_mode == "hybrid":
                self.sentences(snap)
        except Exception as exc:  # noqa: BLE001 - a warm-up never stops a start
            log.info("Warm-up stopped (%s: %s); the first question will load what is missing.", type(exc).__name__, exc)

    @property
    def store(self) -> Any:  # chromadb.Collection
        """The collection of the current client (replaced when another process re-ingests; see ``store.StoreView``)."""
        return self.view.collection

    def snapshot(self) -> Snapshot:
        """Passages, BM25, alias table and calibration for the current store state (see ``store.StoreView``)."""
        return self.view.current()

    def _build_snapshot(self, state: str) -> Snapshot:
        collection = store_mod.require_collection(self.settings)
        docs, bm25 = keyword_cache.passages_and_index(self.settings, collection, state)  # no paging on a saved state
        return Snapshot(
            state=state,
            docs=docs,
            by_id={str(d.id): i for i, d in enumerate(docs)},
            bm25=bm25,
            aliases=AliasTable.from_metadatas(d.metadata for d in docs),
            calibration=self._calibration(collection, state) if docs else None,
            readable={lang: {str(d.id) for d in docs if has_text_in(d, lang)} for lang in ("ar", "en")},
        )

    def sentences(self, snap: Snapshot, wait: bool = True) -> SentenceIndex | None:
        """The sentence index of this store state, built on first use from the vector cache (ingest fills it).

        When the cache lacks sentences (a store ingested by an older version,
        or elsewhere), embedding them can take minutes: a question
        (``wait=False``) then does not wait but is searched without the
        sentence leg while a background thread builds the index, as it does
        while the app's warm-up is building it.
        """
        if not self._sentences_lock.acquire(blocking=wait):
            return None  # being built (the warm-up): this question goes without
        try:
            if snap.sentences is None:
                if not wait and snap.state in self._sentences_pending:
                    return None
                units, owners = split_of(self._split_path(), [passage_text(d) for d in snap.docs])
                if not wait and self.vectors.absent(units):
                    self._sentences_pending.add(snap.state)
                    threading.Thread(target=self.sentences, args=(snap,), name="sentence-index", daemon=True).start()
                    log.info("Embedding the passages' sentences in the background; until then questions go without them.")
                    return None
                snap.sentences = SentenceIndex.of_sentences([str(d.id) for d in snap.docs], units, owners, self.vectors)
                self._sentences_pending.discard(snap.state)
            return snap.sentences
        finally:
            self._sentences_lock.release()

    def _split_path(self) -> Path | None:
        """Where this store's sentence split is saved (``sentences.split_of``); None when the store cannot say."""
        try:
            return split_path(self.settings, str(self.store.id))
        except Exception:  # noqa: BLE001 - no saved split: the passages are split in memory
            return None

    def _calibration(self, collection: Any, state: str) -> answerability.Calibration:
        """The calibration ingest recorded for this state, else measured now (a store from an older version)."""
        embedder = answerability.embedder_id(self.embeddings)
        hub = self.settings.hub_correction
        recorded = answerability.recorded(store_mod.read_calibration(self.settings), state, embedder, hub)
        return recorded or answerability.measure(collection, self.embeddings, state, embedder, self.probes(), hub)

    # -- search ----------------------------------------------------------
    def relevance(self, query: str, language: str, snap: Snapshot | None = None) -> float:
        """How far the corpus's best match for ``query`` stands above off-topic questions (probe z-score)."""
        snap = snap or self.snapshot()
        found = self._nearest(np.asarray(self.embeddings.embed_query(query)), answerability.RELEVANCE_POOL)
        best = self._best_query_score(found, self._dense_order(found, language, snap))
        return best if snap.calibration is None else snap.calibration.relevance(language, best)  # type: ignore[arg-type]

    def _nearest(self, vector: np.ndarray, k: int) -> dict[str, float]:
        """The ``k`` nearest passages' cosine similarities, nearest first."""
        found = self.store.query(query_embeddings=[vector.tolist()], n_results=k, include=["distances"])
        return {str(i): 1.0 - float(d) for i, d in zip(found["ids"][0], found["distances"][0], strict=True)}  # cosine distance

    @staticmethod
    def _best_query_score(found: dict[str, float], order: dict[str, float]) -> float:
        """What relevance scores: the best CSLS score (``order``) among the nearest passages by cosine,
        as the calibration scored the probes (``answerability.measure``)."""
        nearest = sorted(found, key=lambda i: -found[i])[:answerability.RELEVANCE_POOL]
        return max((order[i] for i in nearest), default=0.0)

    def search(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        *,
        k: int | None = None,
        mode: RetrievalMode | None = None,
        rewrite: Rewrite | None = None,
    ) -> RetrievalResult:
        """Top-k passages for the question in its conversation, with its relevance to the corpus."""
        k = k or self.settings.top_k
        mode = mode or self.settings.retrieval_mode
        snap = self.snapshot()
        language = detect_language(question)
        query = question
        if snap.docs:
            query = condense(question, history, snap.aliases, lambda q: self.relevance(q, language, snap), rewrite)
        analysis = analyze(question, query, snap.aliases, snap.bm25)
        result = RetrievalResult(analysis=analysis)
        if not snap.docs or not analysis.terms and not query.strip():
            return result

        if analysis.terms and snap.bm25.language_shares().get(analysis.language, 0.0) >= 0.5:
            result.vocabulary = lexical_weight(list(analysis.terms), snap.bm25)
        legs = self._legs(analysis, snap, mode, max(POOL_FACTOR * k, MIN_POOL), result)
        readable = snap.readable.get(analysis.language, set())
        ranked = self._fuse(legs.rankings, legs.weights, legs.dense, legs.lexical, mode, parts=len(analysis.parts), readable=readable)
        reranks = mode == "hybrid" and not analysis.parts and self.settings.rerank_passages > 1
        result.hits = self._hits(ranked, snap, legs, max(k, self.settings.rerank_passages) if reranks else k)
        if result.query_vector is None:
            result.query_vector = np.asarray(self.embeddings.embed_query(query))
        if reranks:
            result.hits = self._rerank(result)[:k]
        if any(h.dense is None for h in result.hits):
            self._fill_dense_scores(result.hits, result.query_vector)
        if mode != "bm25" and snap.calibration is not None:
            result.relevance = snap.calibration.relevance(analysis.language, max(legs.query_scores, default=0.0))
        return result

    def _legs(self, analysis: QueryAnalysis, snap: Snapshot, mode: RetrievalMode, pool: int, result: RetrievalResult) -> _Legs:
        """Dense, sentence and keyword rankings for the query and for each part of it; the query vectors go on ``result``."""
        legs = _Legs()
        target = self._corpus_language(analysis.language, snap)  # the same for every part: one question, one language
        for position, text in enumerate([analysis.query, *analysis.parts]):
            sub = analysis if position == 0 else analyze(text, text, snap.aliases, snap.bm25)
            keyword_weight = lexical_weight(sub.terms, snap.bm25)
            vector = None
            if mode in ("hybrid", "dense"):
                # The names go into the dense query too: "and its pricing?" alone embeds far from Akash.
                dense_text = text + ("\n" + " ".join(n for n in sub.names if n not in text) if sub.names else "")
                vector = np.asarray(self.embeddings.embed_query(dense_text))
                found = self._nearest(vector, pool)
                order = self._dense_order(found, analysis.language, snap)
                legs.query_scores.append(self._best_query_score(found, order))  # relevance: as calibrated, unmoved
                if position == 0:
                    own = sorted(found, key=lambda i: -order[i])[:self.settings.evidence_passages]
                    readable = snap.readable.get(analysis.language, set())
                    result.across_languages = bool(own) and not any(i in readable for i in own)
                searched = vector
                if target is not None:
                    searched = self._moved(vector, analysis.language, target)
                    found = self._nearest(searched, pool)
                    order = self._dense_order(found, target, snap)
                legs.add(found, 1.0, legs.dense, order=order)
                if mode == "hybrid":  # (dense, sentence, keyword) triples: see ``_rrf``
                    # Across languages only: in the corpus's language the keyword leg reads the sentences' own words.
                    weight = self.settings.sentence_weight * (1.0 - keyword_weight) if target is not None else 0.0
                    index = self.sentences(snap, wait=False) if weight > 0 else None
                    legs.add(index.search(searched, pool) if index is not None else {}, weight, {})
            if position == 0:
                result.query_vector = vector
            elif vector is not None:
                result.part_vectors.append(vector)
            if mode in ("hybrid", "bm25"):
                scores = {snap.bm25.ids[pos]: score for pos, score in snap.bm25.search(list(sub.terms), pool)}
                legs.add(scores, 1.0 if mode == "bm25" else keyword_weight, legs.lexical)
        return legs

    def _corpus_language(self, language: str, snap: Snapshot) -> str | None:
        """The corpus's main language when the question is in the other one and ``language_shift`` is on, else None."""
        if self.settings.language_shift <= 0:
            return None
        shares = snap.bm25.language_shares()
        main = max(shares, key=lambda lang: shares[lang]) if any(shares.values()) else language
        return main if main != language else None

    def moved_toward(self, vector: np.ndarray, language: str) -> dict[str, np.ndarray]:
        """The query vector moved toward each other language (``_moved``); empty when ``language_shift`` is off."""
        if self.settings.language_shift <= 0:
            return {}
        return {other: self._moved(vector, language, other) for other in ("ar", "en") if other != language}

    def _moved(self, vector: np.ndarray, source: str, target: str) -> np.ndarray:
        """The query vector moved toward ``target`` by ``language_shift`` times the probes' language difference.

        e5-small ranks passages in the question's own language above equally
        good ones in another, and an English question over a mostly Arabic
        corpus meets the few English passages first. Moving the vector by the
        difference between the languages' mean probe vectors (the same
        everyday questions in both languages: a language direction, no topic)
        puts the question where its translation would embed. The dense ranking
        uses the moved vector (the dense scores shown are cosines with it);
        relevance, and whether it was scored across languages, keep the
        question's own vector, as calibrated. Dev sets, whole pipeline, MRR:
        qa English 0.866 -> 0.900, ARCD English 0.776 -> 0.789, XQuAD Arabic
        over English 0.771 -> 0.789, XQuAD English over Arabic 0.848 -> 0.844
        (a shift of 0.5 gained less on each). A question in the corpus's main
        language is not moved.
        """
        moved = vector + self.settings.language_shift * self.probes().shift(source, target)  # type: ignore[arg-type]
        return moved / max(float(np.linalg.norm(moved)), 1e-12)

    def _dense_order(self, found: dict[str, float], language: str, snap: Snapshot) -> dict[str, float]:
        """The dense candidates' cosines corrected for hubness (CSLS): cosine minus ``hub_correction`` x the
        passage's mean similarity to its nearest probe questions in the question's language.

        Some passages sit close to every question: a bilingual passage with an
        English paragraph outranks an Arabic-only one for any English question
        (e5 prefers its own language), a generic overview outranks the specific
        paragraph. Cross-lingual embedding work calls these hubs and removes
        them with CSLS (Conneau et al. 2018), which subtracts how near a
        candidate is to queries in general; the probe bank is that sample of
        queries, one per language, so the correction needs no corpus-specific
        data. 0.5 is CSLS's own weight: 2 cos - r_T ranks as cos - r_T / 2
        (the query's own term is the same for every passage). Only the order
        changes here: the cosines stay for fusion and display; relevance is the best
        of these scores (``_best_query_score``), calibrated the same way.
        """
        weight = self.settings.hub_correction
        if weight <= 0 or not found:
            return found
        known = snap.hubness.setdefault(language, {})
        missing = [doc_id for doc_id in found if doc_id not in known]
        if missing:
            got = self.store.get(ids=missing, include=["embeddings"])
            if got["ids"]:
                values = self.probes().hubness(language, np.asarray(got["embeddings"], dtype=np.float32))  # type: ignore[arg-type]
                known.update(zip(got["ids"], (float(v) for v in values), strict=True))
        unseen = max((known[i] for i in found if i in known), default=0.0)  # a passage gone meanwhile gains nothing
        return {doc_id: cos - weight * known.get(doc_id, unseen) for doc_id, cos in found.items()}

    def _rerank(self, result: RetrievalResult) -> list[Hit]:
        """The fused top passages re-ordered by their best sentence for the question.

        Not for a comparison: its order already puts each part's best passage
        first, and one part's sentences would crowd out the other's.
        """
        analysis, hits = result.analysis, result.hits
        assert result.query_vector is not None
        part = Part.of(analysis, result.query_vector, self.moved_toward(result.query_vector, analysis.language))
        order = rank_passages(part, [h.text for h in hits], analysis.language, self.vectors, min_z=self.settings.word_match_z,
                              cross_offset=self.settings.cross_script_offset, headings=[h.heading for h in hits],
                              documents=[h.source for h in hits])
        return [hits[i] for i in order]

    @staticmethod
    def _hits(ranked: list[tuple[str, float]], snap: Snapshot, legs: _Legs, k: int) -> list[Hit]:
        """The top k passages of the fused ranking, each once."""
        hits: list[Hit] = []
        shown: set[tuple[str, str]] = set()
        for doc_id, score in ranked:
            if len(hits) >= k:
                break
            if doc_id not in snap.by_id:
                continue  # store changed between the two legs; skip the stale id
            doc = snap.docs[snap.by_id[doc_id]]
            key = (str(doc.metadata.get("source", "")), doc.page_content)
            if key in shown:
                continue  # the same passage stored twice (two writers, see indexing.stamp): show it once
            shown.add(key)
            hits.append(Hit(doc=doc, score=score, dense=legs.dense.get(doc_id), lexical=legs.lexical.get(doc_id)))
        return hits

    def _fuse(self, rankings: list[list[str]], weights: list[float], dense: dict[str, float], lexical: dict[str, float],
              mode: RetrievalMode, parts: int, readable: set[str] | None = None) -> list[tuple[str, float]]:
        """One ranking from the legs; with parts, each part's best passage is guaranteed a place near the top."""
        if mode == "dense" and not parts:
            return sorted(dense.items(), key=lambda x: -x[1])
        if mode == "bm25" and not parts:
            return sorted(lexical.items(), key=lambda x: -x[1])
        fused = self._rrf(rankings, weights, mode, readable)
        if not parts:
            return fused
        legs = len(rankings) // (parts + 1)  # rankings per query (1, or 3 in hybrid mode)
        firsts: list[str] = []
        for p in range(1, parts + 1):
            best = self._rrf(rankings[p * legs:(p + 1) * legs], weights[p * legs:(p + 1) * legs], mode, readable)
            if best and best[0][0] not in firsts:
                firsts.append(best[0][0])
        score = dict(fused)
        top = max(score.values(), default=0.0)
        return [(i, top + (len(firsts) - n) * 1e-6) for n, i in enumerate(firsts)] + [(i, s) for i, s in fused if i not in firsts]

    def _rrf(self, rankings: list[list[str]], weights: list[float], mode: RetrievalMode, readable: set[str] | None) -> list[tuple[str, float]]:
        """Weighted reciprocal-rank fusion in which the keyword leg abstains on passages it cannot read.

        Rankings come in (dense, sentence, keyword) triples in hybrid mode. A
        passage with no text in the question's language can only be matched by
        the keyword leg on a stray name or number, so its absence from the
        keyword ranking says nothing: for such a passage the dense vote counts
        for both legs. The sentence leg votes as it ranks.
        """
        if mode != "hybrid" or readable is None:
            return reciprocal_rank_fusion(rankings, self.settings.rrf_k, weights)
        scores: dict[str, float] = {}
        k = self.settings.rrf_k
        for first in range(0, len(rankings), 3):
            dense_rank, sentence_rank, lexical_rank = rankings[first:first + 3]
            weight = weights[first + 2]
            for rank, doc_id in enumerate(sentence_rank, start=1):
                scores[doc_id] = scores.get(doc_id, 0.0) + weights[first + 1] / (k + rank)
            lexical_pos = {doc_id: rank for rank, doc_id in enumerate(lexical_rank, start=1)}
            for rank, doc_id in enumerate(dense_rank, start=1):
                share = 1.0 if doc_id in readable else 1.0 + weight
                scores[doc_id] = scores.get(doc_id, 0.0) + share / (k + rank)
            for doc_id, rank in lexical_pos.items():
                if doc_id in readable:
                    scores[doc_id] = scores.get(doc_id, 0.0) + weight / (k + rank)
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

    def _fill_dense_scores(self, hits: list[Hit], vector: np.ndarray) -> None:
        """Hits found only by BM25 have no cosine yet; score them against the same query vector."""
        missing = [h for h in hits if h.dense is None]
        got = self.store.get(ids=[h.id for h in missing], include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        for hit in missing:
            if hit.id in by_id:
                hit.dense = float(np.dot(vector, np.asarray(by_id[hit.id])))

    def as_langchain(self, k: int | None = None) -> Any:  # assistant.langchain_retriever.PassageRetriever
        """This retriever behind LangChain's Retriever/Runnable interface (imported on use: see that module)."""
        from assistant.langchain_retriever import PassageRetriever

        return PassageRetriever(engine=self, k=k or self.settings.top_k)
