"""Finding the passages that answer a question, in either language, or saying none do.

Pipeline: condense a follow-up into a standalone query (LLM if configured,
deterministic otherwise) -> dense search (e5 in Chroma) and BM25 (normalized
Arabic, alias-expanded) -> reciprocal-rank fusion -> refusal check. The BM25
index is derived from the store and cached per store state, so it is built
once after each ingest and never per query.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant import store as store_mod
from assistant.chunking import passage_text
from assistant.config import RetrievalMode, Settings
from assistant.embeddings import ProgressEmbeddings, get_embeddings
from assistant.glossary import english_stem, translations
from assistant.lexical import AliasTable, BM25Index
from assistant.text import Language, detect_language, normalize, tokenize

Turn = dict[str, str]


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

    def to_json(self) -> dict[str, Any]:
        meta = self.doc.metadata
        return {
            "id": self.id,
            "source": meta.get("source"),
            "section": meta.get("section"),
            "start_line": meta.get("start_line"),
            "end_line": meta.get("end_line"),
            "score": round(self.score, 6),
            "dense_score": None if self.dense is None else round(self.dense, 6),
            "bm25_score": None if self.lexical is None else round(self.lexical, 4),
            "language": meta.get("language"),
            "title": meta.get("title"),
            "text": self.text,
        }


@dataclass
class RetrievalResult:
    """Passages for one question; ``query`` is what was actually searched (after condensing)."""

    question: str
    query: str
    language: Language
    hits: list[Hit] = field(default_factory=list)
    refused: bool = False
    reason: str = ""
    signals: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "question": self.question,
            "language": self.language,
            "refused": self.refused,
            "reason": self.reason,
            "signals": self.signals,
            "results": [h.to_json() for h in self.hits],
        }


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = 60) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum over lists of 1 / (k + rank), rank from 1."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


# Words that make a question lean on what came before ("and its pricing?", "وما آلية التسعير فيها؟").
_REFERRING = {
    normalize(w)
    for w in """it its they them their this that these those there he she his her him
    فيها فيه منها منه لها له عنها عنه بها به هذا هذه ذلك تلك هذي هاد هادا هاي
    المشروع المنصه الشبكه same""".split()
}
_FOLLOW_UP_OPENERS = re.compile(
    r"^\s*(and|also|what about|how about|وماذا|وما|وهل|وكيف|ولماذا|وليش|وليه|وعلى|وفي|ومن|وعن|وكم|ومتى|واين|وأين|طيب|طب|وشو|وايش|وإيش|و)(\s|$)", re.I
)


def is_follow_up(question: str, aliases: AliasTable) -> bool:
    """Does the question need its history to be understood?"""
    if aliases.mentions(question):
        return False
    words = normalize(question).split()
    stripped = {re.sub(r"[^\w]", "", w) for w in words}
    if stripped & _REFERRING or any(w.endswith(("ها", "هم")) and len(w) > 4 for w in stripped):
        return True
    return bool(_FOLLOW_UP_OPENERS.match(question)) or len(tokenize(question)) <= 1


def condense_deterministic(question: str, history: Sequence[Turn], aliases: AliasTable) -> str:
    """Carry the names (else the whole text) of the latest earlier user turn into a follow-up."""
    user_turns = [t.get("content", "") for t in history if t.get("role") == "user" and t.get("content")]
    if not user_turns or not is_follow_up(question, aliases):
        return question
    for previous in reversed(user_turns):
        names = [g.canonical for g in aliases.mentions(previous)]
        if names:
            return f"{' '.join(names)} {question}"
    return f"{user_turns[-1]} {question}"


CONDENSE_PROMPT = (
    "Rewrite the user's last message as one standalone search question, in the same language as that "
    "message, resolving pronouns from the conversation. Keep names exactly as written. If it is already "
    "standalone, return it unchanged. Reply with the question only.\n"
    "أعد صياغة الرسالة الأخيرة كسؤال مستقل بنفس لغتها، مع الإبقاء على الأسماء كما هي. أجب بالسؤال فقط."
)


def condense_with_llm(question: str, history: Sequence[Turn], llm: BaseChatModel) -> str:
    """Ask the chat model for a standalone question; the conversation is passed as data."""
    transcript = "\n".join(f"{t.get('role', 'user')}: {t.get('content', '')}" for t in history[-6:])
    messages = [
        ("system", CONDENSE_PROMPT),
        ("human", f"Conversation:\n{transcript}\n\nLast message: {question}\n\nStandalone question:"),
    ]
    reply = llm.invoke(messages)
    text = str(getattr(reply, "content", reply)).strip().splitlines()
    candidate = text[0].strip().strip('"“”«»') if text else ""
    return candidate if 3 <= len(candidate) <= 4 * len(question) + 400 else question


def condense_question(question: str, history: Sequence[Turn] | None, aliases: AliasTable, llm: BaseChatModel | None = None) -> str:
    """Standalone query for retrieval; the LLM path falls back to the deterministic one on any error."""
    history = [t for t in (history or []) if isinstance(t, dict)]
    if not any(t.get("role") == "user" for t in history):
        return question
    if llm is not None and is_follow_up(question, aliases):
        try:
            rewritten = condense_with_llm(question, history, llm)
            # Keep the names the deterministic rewrite would carry: small models drop them.
            carried = condense_deterministic(question, history, aliases)
            if rewritten != question:
                missing = [w for w in carried.split() if w not in rewritten and w not in question]
                return rewritten + (" " + " ".join(missing) if missing and len(missing) <= 4 else "")
            return carried
        except Exception:
            pass
    return condense_deterministic(question, history, aliases)


_NUMBER_QUESTION = re.compile(r"\b(how many|how much|when|what year|which year)\b|(^|\s)(كم|متي|امتي|ايمتي|اي سنه|في اي عام)(\s|$)")
_AR_PREFIX = re.compile(r"^(و|ف|ب|ل|ك)(?=\w{3,})")
_AR_SUFFIX = re.compile(r"(ها|هم|هن|كم|نا|ات|ين|ون|يه|ه|ي)$")


def cross_lingual_tokens(tokens: Sequence[str]) -> list[str]:
    """Arabic tokens for the English words of a query (see assistant.glossary)."""
    out: list[str] = []
    for token in tokens:
        for phrase in translations(token):
            out.extend(tokenize(phrase))
    return out


# Words that frame a question rather than say what it asks (in both languages and
# common dialects); they are not expected to appear in an answering passage.
_FRAMING = {
    normalize(w)
    for w in """project projects platform platforms offer offers provide provides work works idea ideas thing things
    kind type exactly actually really wat wht whats know want mean meaning term called name named article mention mentions
    مشروع مشاريع منصه منصات شركه يعمل تعمل يعتمد تعتمد يقدم تقدم تقدمه يوفر توفر بالضبط ضبط صار وين ترى تري يا ماهي ماهو
    تسوي يسوي بتعمل بيعمل بتسوي review reviews discuss discusses cover covers
    شي شيء اشي حاجه فكره نوع يعني عبارة اسم المقال مقال يذكر تذكر ذكر قال يقول اعرف عايز ابغي بدي ودي""".split()
}


def focus_terms(query_tokens: Sequence[str], aliases: AliasTable, query: str) -> list[str]:
    """What the question asks about: its content words minus the names it mentions."""
    name_tokens = {tok for group in aliases.mentions(query) for spelling in group.spellings for tok in tokenize(spelling)}
    seen: list[str] = []
    for token in query_tokens:
        if token in name_tokens or token in _FRAMING or token.isdigit() or token in seen or len(token) < 3:
            continue
        seen.append(token)
    return seen


def _arabic_stems(token: str) -> list[str]:
    stem = _AR_PREFIX.sub("", token)
    forms = [token, stem]
    if len(stem) > 4:
        forms.append(_AR_SUFFIX.sub("", stem))
    return [f for f in forms if len(f) >= 3]


def term_covered(term: str, texts: Sequence[str]) -> bool:
    """Is the term (a light stem of it, or a glossary translation) in any of the normalized texts?"""
    if re.fullmatch(r"[a-z]+", term):
        candidates = [english_stem(term), *translations(term)]
    else:
        candidates = _arabic_stems(term)
    return any(c and c in text for c in candidates for text in texts)


@dataclass
class _Snapshot:
    state: str
    docs: list[Document]
    by_id: dict[str, int]
    bm25: BM25Index
    aliases: AliasTable


class Retriever:
    """Hybrid search over the store; one instance per process serves every request."""

    def __init__(self, settings: Settings, embeddings: ProgressEmbeddings | None = None) -> None:
        self.settings = settings
        self.embeddings = embeddings or get_embeddings(settings)
        self.store = store_mod.open_store(settings, self.embeddings)
        self._snapshot: _Snapshot | None = None
        self._checked: tuple[float, int] = (float("-inf"), -1)  # (monotonic time, local generation)
        self._lock = threading.Lock()

    # -- derived indexes -------------------------------------------------
    def snapshot(self) -> _Snapshot:
        """Passages, BM25 and alias table for the current store state (rebuilt only when it changes).

        Asking the store for its state costs a round trip (two in server mode),
        so it is asked at most every ``state_check_seconds``: an ingest in this
        process is seen at once (it bumps the local generation), one in another
        process within that interval.
        """
        snap = self._snapshot
        checked_at, checked_generation = self._checked
        if (snap is not None and checked_generation == store_mod.local_generation()
                and time.monotonic() - checked_at < self.settings.state_check_seconds):
            return snap
        generation = store_mod.local_generation()
        state = store_mod.store_state(self.settings) or ""
        if snap is None or snap.state != state:
            with self._lock:
                if self._snapshot is None or self._snapshot.state != state:
                    if self._snapshot is not None and generation == checked_generation:
                        # Changed by another process (e.g. `python ingest.py` beside the app):
                        # this process's Chroma client cannot see those writes until reopened.
                        store_mod.reopen_client(self.settings)
                        self.store = store_mod.open_store(self.settings, self.embeddings)
                        state = store_mod.store_state(self.settings) or ""
                    self._snapshot = self._build_snapshot(state)
                snap = self._snapshot
        self._checked = (time.monotonic(), generation)
        return snap

    def _build_snapshot(self, state: str) -> _Snapshot:
        collection = store_mod.get_collection(self.settings)
        if collection is None:
            raise store_mod.StoreMissingError(f"No store found at {store_mod.location(self.settings)}. Run `python ingest.py`.")
        docs: list[Document] = []
        page = 5000
        for offset in range(0, collection.count(), page):
            got = collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
            for doc_id, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                docs.append(Document(page_content=text or "", metadata=dict(meta or {}), id=doc_id))
        docs.sort(key=lambda d: (d.metadata.get("source", ""), d.metadata.get("start_line", 0), d.id or ""))
        tokens = [BM25Index.document_tokens(d.page_content, d.metadata) for d in docs]
        return _Snapshot(
            state=state,
            docs=docs,
            by_id={str(d.id): i for i, d in enumerate(docs)},
            bm25=BM25Index([str(d.id) for d in docs], tokens),
            aliases=AliasTable.from_metadatas(d.metadata for d in docs),
        )

    # -- search ----------------------------------------------------------
    def search(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        *,
        k: int | None = None,
        mode: RetrievalMode | None = None,
        llm: BaseChatModel | None = None,
    ) -> RetrievalResult:
        """Top-k passages for the question in its conversation, with the refusal decision."""
        k = k or self.settings.top_k
        mode = mode or self.settings.retrieval_mode
        snap = self.snapshot()
        query = condense_question(question, history, snap.aliases, llm)
        result = RetrievalResult(question=question, query=query, language=detect_language(question))
        if not snap.docs or not tokenize(query, drop_stopwords=False):
            result.refused, result.reason = True, "empty" if not snap.docs else "no words"
            return result

        names = [g.canonical for g in snap.aliases.mentions(query)]
        # The names go into the dense query too: "and its pricing?" alone embeds far from Akash.
        dense_query = query + ("\n" + " ".join(n for n in names if n not in query) if names else "")
        vector: list[float] | None = None
        pool = max(4 * k, 20)
        dense: dict[str, float] = {}
        if mode in ("hybrid", "dense"):
            vector = self.embeddings.embed_query(dense_query)
            # langchain-chroma returns the cosine *distance* here; similarity = 1 - distance.
            for doc, distance in self.store.similarity_search_by_vector_with_relevance_scores(vector, k=pool):
                dense[str(doc.id)] = 1.0 - float(distance)
        lexical: dict[str, float] = {}
        query_tokens = snap.aliases.correct(tokenize(query))
        if mode in ("hybrid", "bm25"):
            expanded = query_tokens + snap.aliases.expand(query) + cross_lingual_tokens(query_tokens)
            for pos, score in snap.bm25.search(expanded, pool):
                lexical[snap.bm25.ids[pos]] = score

        if mode == "dense":
            ranked = sorted(dense.items(), key=lambda x: -x[1])
        elif mode == "bm25":
            ranked = sorted(lexical.items(), key=lambda x: -x[1])
        else:
            ranked = reciprocal_rank_fusion(
                [sorted(dense, key=lambda i: -dense[i]), sorted(lexical, key=lambda i: -lexical[i])],
                self.settings.rrf_k,
            )
        for doc_id, score in ranked[:k]:
            if doc_id not in snap.by_id:
                continue  # store changed between the two legs; skip the stale id
            doc = snap.docs[snap.by_id[doc_id]]
            result.hits.append(Hit(doc=doc, score=score, dense=dense.get(doc_id), lexical=lexical.get(doc_id)))
        if any(h.dense is None for h in result.hits):
            self._fill_dense_scores(result, vector if vector is not None else self.embeddings.embed_query(dense_query))
        result.refused, result.reason = self.judge(result, query_tokens, snap)
        return result

    def _fill_dense_scores(self, result: RetrievalResult, vector: Sequence[float]) -> None:
        """Hits found only by BM25 have no cosine yet; score them against the same query vector."""
        import numpy as np

        missing = [h for h in result.hits if h.dense is None]
        query = np.asarray(vector)
        got = self.store.get(ids=[h.id for h in missing], include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        for hit in missing:
            if hit.id in by_id:
                hit.dense = float(np.dot(query, np.asarray(by_id[hit.id])))

    def judge(self, result: RetrievalResult, query_tokens: list[str], snap: _Snapshot) -> tuple[bool, str]:
        """Refuse when the passages found do not address what the question asks.

        Two signals, calibrated on tests/eval/qa.jsonl: the best cosine
        similarity (off-topic questions score low), and *focus coverage*: the
        share of the question's asked-about words (names removed) that occur in
        the top passages, in either language via the glossary. "Who founded
        Akash?" finds Akash passages with high similarity, but none says
        anything about founding, so it is refused. Questions asking for a
        quantity or a date also need a number in the passages.
        """
        if not result.hits:
            return True, "no passage matched"
        best = max((h.dense for h in result.hits if h.dense is not None), default=0.0)
        focus = focus_terms(query_tokens, snap.aliases, result.query)
        texts = [normalize(h.doc.page_content) for h in result.hits[:3]]
        covered = [t for t in focus if term_covered(t, texts)]
        coverage = len(covered) / len(focus) if focus else 1.0
        wants_number = bool(_NUMBER_QUESTION.search(normalize(result.question)))
        has_number = any(re.search(r"\d", t) for t in texts)
        result.signals = {"best_dense": round(best, 4), "focus": len(focus), "focus_coverage": round(coverage, 3)}
        if best < self.settings.refusal_floor:
            return True, f"best similarity {best:.3f} < {self.settings.refusal_floor}"
        if coverage < self.settings.refusal_coverage:
            return True, f"the passages do not mention {', '.join(t for t in focus if t not in covered)}"
        if wants_number and not has_number:
            return True, "asks for a number or date the passages do not give"
        return False, ""

    def as_langchain(self, k: int | None = None) -> PassageRetriever:
        """This retriever behind LangChain's Retriever/Runnable interface."""
        return PassageRetriever(engine=self, k=k or self.settings.top_k)


class PassageRetriever(BaseRetriever):
    """LangChain ``BaseRetriever`` adapter: ``invoke(question)`` -> passages with scores in metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    engine: Any
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = self.engine.search(query, k=self.k)
        out = []
        for hit in result.hits:
            meta = {**hit.doc.metadata, "score": hit.score, "dense_score": hit.dense, "bm25_score": hit.lexical}
            out.append(Document(page_content=hit.text, metadata=meta, id=hit.id))
        return out
