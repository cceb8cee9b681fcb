"""Whether the corpus can answer a question: answered, unsure, or refused.

A cosine similarity means nothing on its own: e5-small puts every text at
0.7-0.9 from every other, an English question sits lower against Arabic
passages than an Arabic one, and a bigger corpus raises the best score of
any question. So the question is never compared with a fixed number. At
ingest, a bank of everyday questions that no particular corpus is about
(``data/probes.jsonl``, the same questions in Arabic and English) is run
against the store; their best similarities, per language, are what "off
topic for this corpus, with this embedder" looks like. A question's
*relevance* is how far its own best score stands above that, in robust
standard deviations (median and MAD, so a few probes that happen to be on
topic for some corpus do not move the scale). The score is CSLS, as in the
dense ranking (``query_score``): a passage that sits near every question (a
bilingual note, for any English question) raises the probes' best cosine as
much as a real question's, which squeezed the z of an English question over
Arabic passages; discounting that pull on both sides of the comparison gives
the on-topic question its distance back. (Earlier versions also scored the
question embedded as a passage and averaged the two z-scores; with CSLS that
second view no longer helped on the dev sets and cost an embedding and a
search per question.)

Relevance alone lets through an off-topic question that happens to share
words with some passage, and an English question over Arabic passages scores
low whatever it asks. So the probes serve a second way, within one language
and without the corpus: a question that reads like them (its nearest probe is
at least as close as a typical probe's nearest other probe: ``likeness`` >= 0
in robust z) is everyday talk, refused unless the corpus matches it strongly.
For this test the bank also holds everyday questions in dialects (Egyptian,
Levantine, Gulf, Maghrebi, Iraqi) and chat style: a recipe asked in Levantine
Arabic reads like no Modern Standard Arabic probe.

Relevance tells on-topic from off-topic; it cannot tell whether the passages
hold the specific fact asked for ("Who founded Akash?" finds Akash passages
that never name a founder). That is judged from the evidence found in the
passages (``assistant.evidence``): how much of what the question asks about
they mention, and, for a question that asks for a number or a date, whether
the quoted sentences give one. Weak evidence answers with a visible notice
and the closest passages ("unsure"); only off-topic questions are refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from assistant.cachefile import embedder_file, write_npz
from assistant.config import Settings
from assistant.text import Language

log = logging.getLogger(__name__)

Status = Literal["answered", "unsure", "refused"]
SAME_VECTOR = 0.999  # cosine above which a re-embedded probe counts as the saved one (float noise across batches)
HUB_NEIGHBOURS = 10  # neighbourhood size of CSLS (Conneau et al. 2018, "Word translation without parallel data")
RELEVANCE_POOL = 20  # relevance takes the best CSLS score among this many nearest passages by cosine (= MIN_POOL)


@cache
def _probe_rows() -> tuple[dict[str, str], ...]:
    text = resources.files("assistant").joinpath("data", "probes.jsonl").read_text(encoding="utf-8")
    return tuple(json.loads(line) for line in text.splitlines() if line.strip())


def probe_questions(*, registers: bool = True) -> dict[str, tuple[str, ...]]:
    """The bank of everyday questions, per language.

    Rows with a ``register`` (dialects, chat style) stay out of the relevance
    scale: they serve the likeness test (``ProbeSpace``) and the ceiling of
    everyday talk in dialect (``measure``); ``registers=False`` gives the
    standard rows the scale is calibrated on. That scale is a median and a spread, which assume one
    population; dialect questions matched against Modern Standard Arabic text
    form a second one (on the ARCD articles they widen the Arabic passage-side
    spread by a third), which would move every Arabic question's relevance.
    The likeness test compares a question with its *nearest* probe, so there
    a register only has to be present.
    """
    rows = [row for row in _probe_rows() if registers or "register" not in row]
    return {lang: tuple(row[lang] for row in rows if lang in row) for lang in ("en", "ar")}


@cache
def probe_bank_id() -> str:
    """Fingerprint of the probe bank: vectors or a calibration measured with other probes are made again."""
    return hashlib.sha256(json.dumps(probe_questions(), ensure_ascii=False).encode("utf-8")).hexdigest()[:12]


def probe_cache_path(settings: Settings) -> Path:
    """Where this machine keeps the probe vectors (one file per embedder; see ``ProbeSpace.load_or_embed``)."""
    return embedder_file(settings, "probe-vectors", ".npz")


@dataclass(frozen=True)
class Scale:
    """Robust location and spread of the probes' best similarities."""

    median: float
    spread: float  # MAD scaled to a standard deviation (x 1.4826)

    @classmethod
    def of(cls, values: np.ndarray) -> Scale:
        median = float(np.median(values))
        mad = float(np.median(np.abs(values - median))) * 1.4826
        return cls(median, max(mad, 1e-3))  # a degenerate store (one passage) must not divide by zero

    def z(self, value: float) -> float:
        return (value - self.median) / self.spread


@dataclass(frozen=True)
class Calibration:
    """Off-topic reference scores of one store state, per language."""

    state: str
    embedder: str
    scales: dict[str, Scale] = field(default_factory=dict)  # language -> the probes' best scores
    probes: int = 0
    bank: str = ""  # probe_bank_id() of the bank it was measured with
    query_score: str = "cosine"  # query_score() of the hub correction it was measured with
    registers: dict[str, float] = field(default_factory=dict)  # language -> best relevance of an everyday question in dialect

    def relevance(self, language: Language, best: float) -> float:
        """Robust z-score of a question's best score against the off-topic probes of its language."""
        return (self.scales.get(language) or self.scales["en"]).z(best)

    def register_ceiling(self, language: Language) -> float | None:
        """The best relevance any everyday probe in dialect or chat style reaches in this corpus (``registers``)."""
        return self.registers.get(language)

    def to_json(self) -> str:
        return json.dumps({"state": self.state, "embedder": self.embedder, "probes": self.probes, "bank": self.bank,
                           "query_score": self.query_score, "scales": {lang: asdict(s) for lang, s in self.scales.items()},
                           "registers": self.registers})

    @classmethod
    def from_json(cls, raw: str | None) -> Calibration | None:
        if not raw:
            return None
        try:
            data = json.loads(raw)
            scales = {lang: Scale(**s) for lang, s in data["scales"].items()}
            registers = {lang: float(v) for lang, v in data.get("registers", {}).items()}
            return cls(state=data["state"], embedder=data["embedder"], scales=scales, probes=int(data.get("probes", 0)),
                       bank=str(data.get("bank", "")), query_score=str(data.get("query_score", "cosine")), registers=registers)
        except (ValueError, KeyError, TypeError):
            return None  # written by another version: recalibrate


def embedder_id(embeddings: Any) -> str:
    """The model a calibration belongs to: backend and model, not where it is served from."""
    signature = embeddings.signature()
    return f"{signature['embedder_backend']}:{signature['embedder_model']}"


def query_score(hub_correction: float) -> str:
    """Names how relevance scores a question, so a calibration measured another way is measured again."""
    return f"csls:{hub_correction:g}:{HUB_NEIGHBOURS}:{RELEVANCE_POOL}" if hub_correction > 0 else f"cosine:{RELEVANCE_POOL}"


def best_csls(cosines: np.ndarray, hubs: np.ndarray, hub_correction: float) -> float:
    """The best CSLS score (cosine minus ``hub_correction`` x hubness) among a question's nearest passages."""
    return float((np.asarray(cosines, dtype=float) - hub_correction * np.asarray(hubs, dtype=float)).max())


def recorded(raw: str | None, state: str, embedder: str, hub_correction: float = 0.0) -> Calibration | None:
    """The recorded calibration if it was measured on this store state, with this embedder, this probe bank
    and this query score."""
    calibration = Calibration.from_json(raw)
    expected = (state, embedder, probe_bank_id(), query_score(hub_correction))
    if calibration is None or (calibration.state, calibration.embedder, calibration.bank, calibration.query_score) != expected:
        return None
    return calibration


def calibrate(best_scores: dict[str, list[float]], state: str, embedder: str, hub_correction: float = 0.0,
              register_scores: dict[str, list[float]] | None = None) -> Calibration:
    """Scales from the probes' best scores, ``{language: [...]}``; with ``register_scores`` (the best scores
    of the probes in dialect or chat style), the highest relevance among them per language."""
    scales = {lang: Scale.of(np.asarray(values, dtype=float)) for lang, values in best_scores.items()}
    probes = max((len(v) for v in best_scores.values()), default=0)
    registers = {lang: max(scales[lang].z(v) for v in values)
                 for lang, values in (register_scores or {}).items() if values and lang in scales}
    return Calibration(state=state, embedder=embedder, scales=scales, probes=probes, bank=probe_bank_id(),
                       query_score=query_score(hub_correction), registers=registers)


class ProbeSpace:
    """The probe questions embedded as queries, per language: how much a question reads like them.

    Depends on the embedder only, not on the corpus: computed once per
    embedder and probe bank, and saved (``load_or_embed``), so a start loads
    240 vectors instead of embedding 240 questions (12 s on two cores). Ingest
    saves it for the app; the app also starts it in the background at launch.
    """

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        """``vectors``: per language, the query vectors of ``probe_questions()`` in that order."""
        self.vectors: dict[str, np.ndarray] = {}
        self.standard: dict[str, np.ndarray] = {}  # the rows without a register: one parallel set per language
        self.registers: dict[str, np.ndarray] = {}  # the rows in dialect or chat style
        self.scales: dict[str, Scale] = {}
        standard = probe_questions(registers=False)
        for language, questions in probe_questions().items():
            own = np.asarray(vectors[language], dtype=np.float32)
            if own.shape[0] != len(questions):
                raise ValueError(f"{len(questions)} {language} probe questions, {own.shape[0]} vectors")
            sims = own @ own.T
            np.fill_diagonal(sims, -np.inf)  # a probe's nearest *other* probe
            self.vectors[language] = own
            plain_questions = set(standard[language])
            plain = np.array([q in plain_questions for q in questions], dtype=bool)
            self.standard[language] = own[plain]
            self.registers[language] = own[~plain]
            self.scales[language] = Scale.of(sims.max(axis=1))

    @classmethod
    def embed(cls, embeddings: Any) -> ProbeSpace:
        """Embed the bank (one batch per language)."""
        return cls({lang: np.asarray(embeddings.embed_queries(list(qs)), dtype=np.float32)
                    for lang, qs in probe_questions().items()})

    @classmethod
    def load_or_embed(cls, embeddings: Any, path: Path | None) -> ProbeSpace:
        """The bank's vectors from ``path`` if saved for this embedder and bank, else embedded and saved there.

        The file names the embedder and the bank; as settings beyond the model
        (an instruction prefix, a server's input type) also change vectors,
        one probe is embedded again and must match its saved vector.
        """
        key = json.dumps({"embedder": embedder_id(embeddings), "bank": probe_bank_id()})
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as data:
                    if str(data["key"]) == key:
                        space = cls({lang: data[f"vectors_{lang}"] for lang in probe_questions()})
                        lang, first = next((lang, qs[0]) for lang, qs in probe_questions().items() if qs)
                        again = np.asarray(embeddings.embed_query(first), dtype=np.float32)
                        if float(again @ space.vectors[lang][0]) >= SAME_VECTOR:
                            return space
            except Exception as exc:  # noqa: BLE001 - a damaged cache means "embed again", never a failed start
                log.warning("Ignoring the unreadable probe vectors %s (%s: %s).", path, type(exc).__name__, exc)
        space = cls.embed(embeddings)
        if path is not None:
            write_npz(path, {"key": np.asarray(key), **{f"vectors_{lang}": v for lang, v in space.vectors.items()}})
        return space

    def shift(self, source: Language, target: Language) -> np.ndarray:
        """The vector from the ``source`` probes' mean to the ``target`` probes' mean: what changing language alone does.

        The standard probes are the same questions in both languages, so the
        difference of their means carries the language and cancels the topics
        (removing a language's mean vector makes multilingual encoders more
        language-neutral: Libovicky et al. 2020, "On the Language Neutrality
        of Pre-trained Multilingual Representations").
        """
        return self.standard[target].mean(axis=0) - self.standard[source].mean(axis=0)

    def likeness(self, language: Language, query_vector: np.ndarray) -> float:
        """Robust z of the question's nearest probe similarity against the probes' own nearest-neighbour ones."""
        lang = language if language in self.vectors else "en"
        return self.scales[lang].z(float((self.vectors[lang] @ np.asarray(query_vector, dtype=np.float32)).max()))

    def hubness(self, language: Language, passage_vectors: np.ndarray, neighbours: int = HUB_NEIGHBOURS,
                exclude: int | None = None) -> np.ndarray:
        """Each passage's mean similarity to its nearest probe questions in ``language``: how close it sits to
        questions in general (the r_T of CSLS, with the probes standing in for a sample of questions).

        ``exclude`` leaves out one probe (a row of ``standard``): scoring a
        probe against hubness it helped measure would lower its own score.
        """
        lang = language if language in self.standard else "en"
        sims = np.asarray(passage_vectors, dtype=np.float32) @ self.standard[lang].T
        if exclude is not None:
            sims = np.delete(sims, exclude, axis=1)
        count = min(neighbours, sims.shape[1])
        return np.sort(sims, axis=1)[:, -count:].mean(axis=1) if count else np.zeros(len(sims), dtype=np.float32)


@dataclass
class Decision:
    """The outcome for one question, with the reason a person can read and the numbers behind it."""

    status: Status
    reason: str = ""
    signals: dict[str, Any] = field(default_factory=dict)


def decide(relevance: float | None, *, has_hits: bool, coverage: float, uncovered: list[str], wants: str | None,
           gives_wanted: bool, settings: Settings, unknown_names: list[str] | None = None, unquoted_names: list[str] | None = None,
           anchors: list[str] | None = None, likeness: float | None = None, vocabulary: float | None = None,
           across_languages: bool = False, written: float | None = None, covered_all: bool = False,
           register_ceiling: float | None = None) -> Decision:
    """Three outcomes from the relevance and the evidence; each threshold is a Settings field.

    ``relevance`` is in probe standard deviations (see the module docstring),
    ``coverage`` the share of the asked-about words the quoted passages
    mention, ``wants`` "number" or "date" when the question asks for one and
    ``gives_wanted`` whether the quoted sentences contain one;
    ``unknown_names`` are names the question uses that the corpus never writes;
    ``unquoted_names`` those that only passages other than the quoted ones may write (in a sentence or the
    heading, by ``translit.may_be_written``): the quote may be about something else;
    ``anchors`` the names it uses that the passages found do write (in either
    script). A question about something the corpus names is not off-topic,
    however weakly its wording matches: an English question over Arabic
    passages often scores low, and at most gets the "unsure" notice.
    ``likeness`` is how much the question reads like the everyday probes
    (``ProbeSpace``); such a question is off-topic unless its relevance
    reaches ``sure_above``. ``vocabulary`` is the idf-weighted share of the
    question's words the corpus uses, given only when the corpus is mostly
    written in the question's language: a weakly matched question asked with
    words the corpus never uses (a recipe in dialect, to a corpus about GPUs)
    is off-topic. A strong match alone is not: a question paraphrasing the
    documents in its own words uses few of theirs too. Spoken Arabic defeats
    the relevance scale (e5 puts it near any Arabic text: a couscous recipe in
    Maghrebi Arabic matches a corpus about GPUs at relevance 2), so when a
    question both reads like the everyday probes and uses few of the
    documents' words, it is off-topic unless the corpus matches it better
    than it matches any of the everyday probes in dialect
    (``register_ceiling``, measured at ingest; our corpus: 3.5, ARCD: 2.9).
    A question in dialect paraphrasing the documents reads like those probes
    too, and they refused it at any strength: dev, 3 of 10 questions written
    in five dialects about the article, at relevance 3.6 to 5.6, where the
    dialect off-topic questions of the dev set reach 2.5. And a question
    none of whose words the documents use at all (``vocabulary`` 0) is never
    simply answered: a quote found for it by meaning alone gets the notice
    (dev: a question in Egyptian Arabic about shopping-mall sales, relevance
    1.8 against a corpus about GPUs, was answered from a passage on prices).
    Refusing it instead was tried: an ARCD question with no context ("What
    resulted from that?") has vocabulary 0 too.

    ``across_languages``: the passages its relevance was scored on (its own
    nearest, before any language shift of the ranking) have no text in the
    question's language. Then a low relevance alone does not refuse: e5-small aligns
    languages weakly, so a question asked across them scores like the probes
    whatever it asks (XQuAD dev, with the right passage first for most of them:
    14% of English questions over the Arabic articles and 16.5% of Arabic ones
    over the English articles fell under ``refuse_below``, while reading nothing
    like everyday talk). Such a question is refused when a second sign agrees (it
    reads like the everyday probes, or uses few of the documents' words);
    otherwise it is answered "unsure", with the closest passages shown. The
    same holds for a question whose every word the documents write
    (``vocabulary`` 1.0): on XQuAD dev, Arabic questions over the Arabic
    articles refused for relevance alone had the right passage first, all their
    words in the documents, and read nothing like everyday talk. And for a
    question at least half of whose asked-about words (``written``: share, at
    least ``min_coverage``) the top passages write as the question does (same
    stem or root: not a near word, not a typo fix): "Which project uses proof
    of useful work?" scores 0.4 with e5-small against a passage saying "uses
    proof of useful work", since the passage is mostly Arabic and the
    question's language is a small part of the corpus, so ``vocabulary``
    cannot speak for it.

    The same weakness makes an answer asked across languages "unsure" far
    more often than one asked in the passages' language, right passage or
    not (XQuAD dev, English questions over the Arabic articles: 54% unsure,
    with the right passage first for 70% of those). So a question
    asked across languages that the corpus matches at least as well as the
    off-topic line (``refuse_below``) and whose every asked-about word the
    passages match (``covered_all``: matched by the embedder word by word,
    the words' translations standing out) is answered without the notice.
    On the dev sets the questions this answers quote the fact as often as
    those answered before (XQuAD English over Arabic: 46 more answered, 72%
    quote the fact against 71%; ARCD English: 8 more, 63% against 61%), and no
    unanswerable dev question changes (a diabetes question matched to a cancer
    passage word by word has relevance 0.02).
    """
    signals = {"relevance": None if relevance is None else round(relevance, 3), "coverage": round(coverage, 3),
               "likeness": None if likeness is None else round(likeness, 3),
               "vocabulary": None if vocabulary is None else round(vocabulary, 3), "across_languages": across_languages}
    if register_ceiling is not None:
        signals["register_ceiling"] = round(register_ceiling, 3)
    if not has_hits:
        return Decision("refused", "no passage matched", signals)
    off_topic = ""
    weak = relevance is None or relevance < settings.sure_above
    everyday = likeness is not None and likeness >= settings.everyday_above
    foreign = vocabulary is not None and vocabulary < settings.min_vocabulary
    in_its_words = ((vocabulary is not None and vocabulary >= 1.0)  # the documents write every word it asks with
                    or (written is not None and written >= settings.min_coverage))  # the top passages write its words
    if relevance is not None and relevance < settings.refuse_below and not across_languages and not in_its_words:
        off_topic = f"off-topic: relevance {relevance:.2f} < {settings.refuse_below}"
    elif everyday and foreign and (register_ceiling is None or relevance is None or relevance < register_ceiling):
        # two independent signs agree: the match itself is not trusted, unless it beats everyday talk in dialect
        off_topic = (f"off-topic: reads like everyday questions (likeness {likeness:.2f}) and the documents use few of the "
                     f"question's words ({vocabulary:.2f})")
    elif everyday and weak:
        off_topic = f"off-topic: reads like everyday questions (likeness {likeness:.2f}) and matches weakly"
    elif foreign and weak:
        off_topic = f"off-topic: the documents use few of the question's words ({vocabulary:.2f} < {settings.min_vocabulary:.2f})"
    if off_topic and anchors:
        return Decision("unsure", f"weak match ({off_topic}), but the passages name " + ", ".join(anchors), signals)
    if off_topic:
        return Decision("refused", off_topic, signals)
    if unknown_names:
        return Decision("unsure", "the documents never mention: " + ", ".join(unknown_names), signals)
    if unquoted_names:
        return Decision("unsure", "the quoted passages do not name: " + ", ".join(unquoted_names), signals)
    if wants and not gives_wanted:
        return Decision("unsure", f"asks for a {wants} that the quoted passages do not give", signals)
    if coverage < settings.min_coverage:
        return Decision("unsure", "the passages do not mention: " + ", ".join(uncovered), signals)
    if vocabulary is not None and vocabulary <= 0.0:
        return Decision("unsure", "the documents use none of the question's words", signals)
    matched_across = across_languages and covered_all and relevance is not None and relevance >= settings.refuse_below
    if relevance is not None and relevance < settings.sure_above and not matched_across:
        return Decision("unsure", f"weak match: relevance {relevance:.2f} < {settings.sure_above}", signals)
    return Decision("answered", "", signals)


def measure(collection: Any, embeddings: Any, state: str, embedder: str, probes: ProbeSpace | None = None,
            hub_correction: float = 0.0) -> Calibration:
    """Run the probe bank against a Chroma collection: each probe's best score, as ``Retriever`` scores a question.

    One batched query per language, with the probes' query vectors (from
    ``probes`` when given, the same as the embedder gives): the best CSLS
    score among a probe's ``RELEVANCE_POOL`` nearest passages, each passage's
    hubness measured without that probe (a question is not in the bank either).
    The probes in dialect or chat style are scored the same way (a second
    query), not to set the scale but to know how high everyday talk in those
    registers reaches on it in this corpus (``Calibration.registers``).
    """
    probes = probes if probes is not None else ProbeSpace.embed(embeddings)
    best: dict[str, list[float]] = {}
    registers: dict[str, list[float]] = {}
    for language in probe_questions(registers=False):
        best[language] = _best_scores(collection, probes, language, probes.standard[language], hub_correction, own=True)
        if len(probes.registers.get(language, ())):
            registers[language] = _best_scores(collection, probes, language, probes.registers[language], hub_correction)
    return calibrate(best, state, embedder, hub_correction, registers)


def _best_scores(collection: Any, probes: ProbeSpace, language: Language, vectors: np.ndarray, hub_correction: float,
                 own: bool = False) -> list[float]:
    """Each query vector's best CSLS score among its ``RELEVANCE_POOL`` nearest passages; ``own``: the vectors are
    the standard probes, each left out of the hubness its score is corrected by."""
    found = collection.query(query_embeddings=vectors.tolist(), n_results=RELEVANCE_POOL, include=["distances", "embeddings"])
    scores = []
    for row, (distances, passages) in enumerate(zip(found["distances"], found["embeddings"], strict=True)):
        if len(distances):
            hubs = probes.hubness(language, np.asarray(passages, dtype=np.float32), exclude=row if own else None) \
                if hub_correction > 0 else np.zeros(len(distances))
            scores.append(best_csls(1.0 - np.asarray(distances, dtype=float), hubs, hub_correction))
    return scores
