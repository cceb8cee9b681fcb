"""The sentences of the retrieved passages that answer the question, and what they leave out.

Both the extractive answer (what is quoted) and the answerability decision
(is what the question asks about in the passages at all) need to match the
question's words against the passages' words, in either language. A glossary
cannot know the user's corpus, and exact words miss paraphrases (أسعار /
تسعير, "price" / تسعير). So words are compared by the embedder itself: each
word the question asks about is embedded, and so is every word of the
candidate sentences; a question word is *covered* by a passage word that
stands out from all the others (a robust z-score over that question word's
similarities, so each word is judged against its own background and no
cosine constant is involved). Same-stem words count without asking the model.
Sentences are then ranked by their embedding similarity to the question, the
share of asked-about words they cover, whether they name what the question
names, and their passage's rank.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from assistant.query import QueryAnalysis, capitalized_runs
from assistant.text import Language, detect_language, normalize, raw_words, root, split_sentences, stem, stopwords, words
from assistant.text_vectors import VectorCache

# Sentence score = similarity z (within the candidates) + these weighted terms. Tuned on the dev
# sets (tests/eval/qa.jsonl, tests/eval/arcd/*-dev.jsonl) by the share of quotes holding the answer.
COVERAGE_WEIGHT = 1.5  # share of the asked-about words the sentence covers, 0..1
NAME_WEIGHT = 0.75  # the sentence (or its passage) names what the question names
RANK_WEIGHT = 0.5  # 1 / (passage rank): the retriever's opinion still counts
LANGUAGE_WEIGHT = 0.2  # a sentence in the question's language wins a tie (bilingual passages)
QUANTITY_WEIGHT = 1.0  # the question asks "when" / "how many" and the sentence gives a date or a number
RERANK_RANK_WEIGHT = 1.0  # passages re-ordered by best sentence: 1 / (1 + retriever rank) joins that score (ARCD and qa dev)
UNIT_CACHE = 8192  # passages whose sentence split (and content words) stay cached: a few MB
PARALLEL_LENGTHS = (0.5, 2.0)  # a passage whose two languages' text lengths differ more is no translation of itself
KEEP_WITHIN = 3.0  # further sentences (covering an asked-about word not yet covered) are quoted within this of the best
_NUMBER = re.compile(r"\d")
# Closed-class words that state a quantity or a time when written out (a "how many" or "when"
# answer need not use digits): numerals, ordinals, months, units of time, calendar eras. Not
# "one", "first" or "second" (واحد، الأول، الثاني): "one of the markets" gives no quantity, and
# "the second century" is caught by "century".
_NUMBER_WORDS = frozenset(normalize(w) for w in """
    two three four five six seven eight nine ten eleven twelve twenty hundred hundreds thousand thousands
    million millions billion billions trillion dozen half double twice triple percent
    third fourth fifth sixth seventh eighth ninth tenth
    century centuries decade decades year years month months week weeks day days era age ago bc ad bce
    january february march april may june july august september october november december
    اثنان اثنين ثلاثة ثلاث أربعة أربع خمسة خمس ستة ست سبعة سبع ثمانية ثماني ثمان تسعة تسع عشرة عشر
    عشرون عشرين مئة مائة مئات ألف آلاف الف الاف مليون ملايين الملايين مليار مليارات نصف ضعف أضعاف ضعفين بالمئة بالمائة
    الثالث الثالثة الرابع الرابعة الخامس الخامسة السادس السادسة السابع السابعة الثامن
    الثامنة التاسع التاسعة العاشر العاشرة
    قرن القرن قرون عقد العقد عصر العصر عام العام أعوام سنة السنة سنوات شهر الشهر أشهر يوم اليوم أيام أسبوع هجري الهجري
    هجرية ميلادي الميلادي ميلادية الميلاد للميلاد
    يناير فبراير مارس أبريل ابريل مايو يونيو يوليو أغسطس اغسطس سبتمبر أكتوبر اكتوبر نوفمبر ديسمبر
    كانون شباط آذار نيسان أيار حزيران تموز آب أيلول تشرين محرم صفر ربيع جمادى رجب شعبان رمضان شوال القعدة الحجة""".split())


@dataclass
class Unit:
    """A quotable piece of a passage: a bullet line, or a sentence."""

    text: str
    rank: int  # index of its passage among the hits
    position: int  # index within its passage
    language: Language
    words: tuple[str, ...]  # content words as written (see ``content_words``)
    stems: frozenset[str]
    roots: frozenset[str] = frozenset()  # Arabic roots of the words (see ``text.root``)

    @property
    def gives_quantity(self) -> bool:
        """Does the sentence state a number or a date (digits, number words, month names)?"""
        return bool(_NUMBER.search(self.text)) or any(w in _NUMBER_WORDS for w in words(self.text))


@lru_cache(maxsize=UNIT_CACHE)
def passage_units(text: str) -> tuple[str, ...]:
    """Quotable units: a bullet line stays whole; other lines split into sentences.

    A sentence ending with a colon says nothing by itself ("المشاريع الرئيسية:",
    "... Tesla stated:"): it leads into the lines after it, which are units of
    their own. A bullet ending with one stays: it names what its sub-list is about.

    Cached: the same passages come back question after question, and sentence
    splitting (pysbd) was half the time of re-ranking them.
    """
    units: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or line.startswith("!["):
            continue
        line = re.sub(r"^\*\*[^*]{1,30}:\*\*\s*", "", line)  # "**English:**" labels in bilingual files
        if line.startswith(("- ", "* ")):
            units.append(line[2:].strip())
        else:
            units.extend(u for u in split_sentences(line) if not u.rstrip().endswith((":", "\uff1a")))
    return tuple(u for u in units if len(words(u)) >= 2)


@lru_cache(maxsize=UNIT_CACHE)
def content_words(text: str) -> tuple[str, ...]:
    """Words that carry content (no function words, no bare digits), as written, in order, once each."""
    stop = stopwords()
    return tuple(dict.fromkeys(w for w in raw_words(text) if normalize(w) not in stop and not w.isdigit() and len(w) >= 2))


@dataclass
class Part:
    """What one part of a question asks: its own vector, focus words and names."""

    vector: np.ndarray  # query-side embedding of the part
    focus: tuple[str, ...]  # words the part asks about, as written (names removed)
    name_stems: frozenset[str]  # stems of the names it mentions that no other name shares (``AliasTable.identifying_terms``)
    other_stems: frozenset[str] = frozenset()  # other documents' names it does not mention (``AliasTable.subject_terms``)
    wants: str | None = None  # "number" | "date" when the part asks for one
    spellings: Mapping[str, str] = field(default_factory=dict)  # focus word -> indexed term one edit away
    # language -> the vector moved toward it (``Retriever.moved_toward``): how sentences in it are lifted
    moved: Mapping[str, np.ndarray] = field(default_factory=dict)
    proper_runs: tuple[frozenset[str], ...] = ()  # stems of each capitalized Latin name (``query.capitalized_runs``)
    names_language: Language | None = None  # "en" when ``name_stems`` are capitalized names (``named_in``)
    naming: frozenset[str] = frozenset()  # then, the documents whose candidates write one whole

    @classmethod
    def of(cls, analysis: QueryAnalysis, vector: np.ndarray, moved: Mapping[str, np.ndarray] | None = None) -> Part:
        """The part a question (or one part of it) asks, from its analysis and its query vector."""
        stop = stopwords()
        runs = (frozenset(stem(w) for w in run if w not in stop) for run in capitalized_runs(analysis.query))
        return cls(vector, analysis.focus, analysis.name_stems, analysis.other_stems, analysis.wants, dict(analysis.spellings),
                   dict(moved or {}), tuple(run for run in runs if run))

    def named_in(self, units: Sequence[Unit], reads: Sequence[frozenset[str]], documents: Sequence[str] = ()) -> Part:
        """This part, naming what its question capitalizes when no alias-table name does and the candidates write it.

        A corpus without front matter has no alias table, so a question naming
        one of its subjects ("the Khafji plant") named nothing: the best quote
        could be another plant's sentence with more of the asked-about words, and
        a further quote from another document joined for covering one. A
        capitalized name names something, and a document one of whose English
        candidates writes all its words (a unit with its heading, the same stems;
        "north-east" does not write "Az-Zour North") is about it, every sentence
        of it: "They then beat the Patriots" in the article about the Broncos.
        So the alias table's rules (``NAME_WEIGHT``, ``_about``) apply between
        documents only (``naming``); held to the sentences that write the name,
        the XQuAD English dev split lost 25 quotes of the fact. A unit in another
        script cannot be judged by a Latin spelling and counts as naming it: an
        Arabic article writes "Zinédine Zidane" once, in brackets, and زيدان
        everywhere else. Also when the question names nothing the alias table
        knows (a corpus with one may still be asked about "Ethereum").
        """
        if self.name_stems or not self.proper_runs:
            return self
        owners: set[str] = set()
        written: set[str] = set()
        for unit, read in zip(units, reads, strict=True):
            if unit.language != "en":
                continue
            whole = [run for run in self.proper_runs if run <= read]
            if whole:
                owners.add(_document(unit, documents))
                written.update(*whole)
        if not owners:
            return self
        return replace(self, name_stems=frozenset(written), names_language="en", naming=frozenset(owners))

    def names_document_of(self, unit: Unit, documents: Sequence[str]) -> bool:
        """Whether the unit's document writes the part's capitalized names (always, for alias-table names)."""
        return self.names_language is None or _document(unit, documents) in self.naming


def _document(unit: Unit, documents: Sequence[str]) -> str:
    """The document a unit comes from (its passage, when the documents are not given)."""
    return documents[unit.rank] if unit.rank < len(documents) else f"#{unit.rank}"


def _reads(part: Part, units: Sequence[Unit], reads: Sequence[frozenset[str]], documents: Sequence[str]) -> list[frozenset[str]]:
    """What each unit names for this part: with capitalized names (``Part.named_in``), every unit of a document that
    writes one whole names them, and so does a unit in a script they are not written in; a unit of another
    document does not, whatever word of a name it shares ("north" of "Az-Zour North")."""
    if part.names_language is None:
        return list(reads)
    return [read | part.name_stems if u.language != part.names_language or part.names_document_of(u, documents)
            else read - part.name_stems for u, read in zip(units, reads, strict=True)]


@dataclass
class Evidence:
    """What was found for a question: the quoted units, and which asked-about words the passages cover."""

    units: list[Unit] = field(default_factory=list)
    candidates: list[Unit] = field(default_factory=list)
    covered: list[str] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)
    strengths: dict[str, float] = field(default_factory=dict)  # best match strength of each asked-about word

    @property
    def coverage(self) -> float:
        asked = len(self.covered) + len(self.uncovered)
        return len(self.covered) / asked if asked else 1.0

    @property
    def gives_quantity(self) -> bool:
        return any(u.gives_quantity for u in self.units)

    @property
    def written(self) -> float | None:
        """Share of the asked-about words the passages write as written (same stem or root, not a typo fix), None when none is asked."""
        return sum(s == EXACT for s in self.strengths.values()) / len(self.strengths) if self.strengths else None


def candidate_units(texts: Sequence[str]) -> list[Unit]:
    """Units of the top passages, in passage order."""
    out: list[Unit] = []
    for rank, text in enumerate(texts):
        for position, unit in enumerate(passage_units(text)):
            found = content_words(unit)
            roots = frozenset(r for r in (root(w) for w in found) if r)
            out.append(Unit(unit, rank, position, detect_language(unit), found, frozenset(stem(w) for w in found), roots))
    return out


def unit_words(units: Sequence[Unit]) -> list[str]:
    """The distinct content words of the units, in order: what ``word_strengths`` embeds besides the focus words."""
    return list(dict.fromkeys(w for u in units for w in u.words))


def warm(cache: VectorCache, texts: Sequence[str], idle: Callable[[], object] = lambda: None, batch: int = 1) -> int:
    """Embed what re-ranking and quoting will ask of these passages and ``cache`` lacks; how many texts that was.

    The same units and words ``rank_passages`` and ``find_evidence`` embed,
    ``batch`` passages at a time; ``idle`` is called before each batch and
    returns when no question is being answered. A question that arrives
    meanwhile waits at most for the embedder batch in progress (the model's
    lock is taken batch by batch) and the warming then waits for it.
    """
    done = 0
    for start in range(0, len(texts), batch):
        units = candidate_units(texts[start:start + batch])
        wanted = [u.text for u in units] + unit_words(units)
        idle()
        done += cache.prepare(wanted)
    return done

EXACT = float("inf")  # match strength of a same-stem word
SPELLED = 50.0  # match strength through a word's typo fix: a match, but not the word as written (see ``Evidence.written``)


def word_strengths(focus: Sequence[str], units: Sequence[Unit], cache: VectorCache, cross_offset: float = 0.0,
                   spellings: Mapping[str, str] | None = None) -> np.ndarray:
    """Matrix [focus word, unit]: how strongly the unit's best word matches the focus word.

    Same stem, or for Arabic the same root, is an exact match (``EXACT``).
    Otherwise the focus word's similarities to the candidate words of each
    script form that script's background, and a word's strength is its robust
    z-score against it (median and MAD): a synonym or translation stands out,
    a merely related word does not. A match across scripts (an English
    question word, an Arabic passage word) stands out less with any
    multilingual embedder, so ``cross_offset`` is added to its strength.
    A word's typo fix (``spellings``, from the keyword index) written in the
    unit is a match too (``SPELLED``); the word itself is what gets embedded.
    """
    spellings = spellings or {}
    matrix = np.full((len(focus), len(units)), -EXACT)
    vocabulary = unit_words(units)
    if not focus or not units or not vocabulary:
        return matrix
    sims = cache.passages(list(focus)) @ cache.passages(vocabulary).T  # [focus, vocabulary]
    index = {w: i for i, w in enumerate(vocabulary)}
    arabic = np.array([detect_language(w) == "ar" for w in vocabulary])
    for f, word in enumerate(focus):
        row = sims[f]
        z = np.empty_like(row)
        for group in (arabic, ~arabic):
            if group.any():
                values = row[group]
                median = float(np.median(values))
                spread = max(float(np.median(np.abs(values - median))) * 1.4826, 1e-4)
                z[group] = (values - median) / spread
        z[arabic != (detect_language(word) == "ar")] += cross_offset
        target, target_root, fixed = stem(word), root(word), spellings.get(word)
        for u, unit in enumerate(units):
            if target in unit.stems or (target_root is not None and target_root in unit.roots):
                matrix[f, u] = EXACT
            elif fixed is not None and fixed in unit.stems:
                matrix[f, u] = SPELLED
            elif unit.words:
                matrix[f, u] = max(float(z[index[w]]) for w in unit.words)
    return matrix


def word_matches(focus: Sequence[str], units: Sequence[Unit], cache: VectorCache, min_z: float, cross_offset: float = 0.0) -> np.ndarray:
    """Boolean matrix [focus word, unit]: does the unit contain a word matching the focus word (``min_z``)?"""
    return word_strengths(focus, units, cache, cross_offset) >= min_z


def _semantic(part: Part, units: Sequence[Unit], unit_vectors: np.ndarray) -> np.ndarray:
    """Similarity of each unit to the question, standardized among the candidates.

    e5 scores a sentence in the question's own language above an equally
    good one in the other, so among an English question's candidates the
    English paragraphs of bilingual passages won the rerank over the Arabic
    sentence that answers it. Sentences in another language are lifted by
    what moving the question toward that language (``part.moved``, the
    shift dense retrieval uses) gains them on average: the languages meet on
    equal footing, and within a language the order stays the question's own
    (ordering Arabic sentences by the moved vector itself lost on the XQuAD
    dev split, English over Arabic, recall@1 0.766 -> 0.748). With one
    language among the candidates the lift is the same for all: no change.
    """
    sims = unit_vectors @ part.vector
    for language, moved in part.moved.items():
        mask = np.array([u.language == language for u in units])
        if mask.any():
            sims[mask] += float((unit_vectors[mask] @ moved - sims[mask]).mean())
    spread = float(sims.std())
    return (sims - sims.mean()) / spread if spread > 1e-6 else np.zeros_like(sims)


@dataclass
class _Scored:
    """One part of a question scored against every candidate unit."""

    scores: np.ndarray  # per unit, without the passage-rank term
    strengths: np.ndarray  # [focus word, unit], see ``word_strengths``
    matches: np.ndarray  # strengths >= min_z


def _score_units(part: Part, units: Sequence[Unit], unit_vectors: np.ndarray, heading_stems: Sequence[frozenset[str]],
                 language: Language, cache: VectorCache, min_z: float, cross_offset: float,
                 language_weight: float = LANGUAGE_WEIGHT, named: Sequence[frozenset[str]] | None = None) -> _Scored:
    """How well each unit answers the part: similarity z + covered words + names (``named``: see ``_reads``)
    + language + quantity."""
    strengths = word_strengths(part.focus, units, cache, cross_offset, part.spellings)
    strengths[_under_heading(part.focus, units, heading_stems)] = EXACT
    matches = strengths >= min_z
    share = matches.sum(axis=0) / len(part.focus) if part.focus else np.zeros(len(units))
    if named is not None and part.names_language is not None:
        names = np.array([1.0 if part.name_stems & read else 0.0 for read in named])
    else:
        names = np.array([1.0 if part.name_stems & u.stems else 0.5 if part.name_stems & heading_stems[u.rank] else 0.0 for u in units])
    quantities = np.array([u.gives_quantity for u in units], dtype=float)
    scores = (_semantic(part, units, unit_vectors) + COVERAGE_WEIGHT * share + NAME_WEIGHT * names
              + language_weight * np.array([u.language == language for u in units], dtype=float)
              + (QUANTITY_WEIGHT * quantities if part.wants else 0.0))
    return _Scored(scores, strengths, matches)


def _under_heading(focus: Sequence[str], units: Sequence[Unit], heading_stems: Sequence[frozenset[str]]) -> np.ndarray:
    """Boolean matrix [focus word, unit]: the unit's passage heading (title and section) writes the word's stem.

    A section says what its sentences are about without repeating it: under
    "Capacity", "The plant produces 909,200 cubic metres a day" answers "What is
    its capacity?", and the passages do mention capacity. Without this, the
    answer was "unsure" with the notice "the passages do not mention: capacity",
    and the plant's opening line (no figure) was quoted instead. A word only the
    heading writes counts as fully as one the sentence writes (see the README,
    session 39, for what that cost on the held-out set).
    """
    matrix = np.zeros((len(focus), len(units)), dtype=bool)
    for f, word in enumerate(focus):
        target = stem(word)
        for u, unit in enumerate(units):
            matrix[f, u] = target in heading_stems[unit.rank]
    return matrix


def _heading_stems(headings: Sequence[str], passages: int) -> list[frozenset[str]]:
    return [frozenset(stem(w) for w in words(h)) for h in headings][:passages] + [frozenset()] * max(0, passages - len(headings))


def _with_headings(units: Sequence[Unit], heading_stems: Sequence[frozenset[str]]) -> list[frozenset[str]]:
    """Each unit's stems with its passage's heading's: what a unit is about when it only says "it" (``_about``)."""
    return [u.stems | heading_stems[u.rank] for u in units]


def rank_passages(part: Part, texts: Sequence[str], language: Language, cache: VectorCache, *, min_z: float,
                  cross_offset: float = 0.0, headings: Sequence[str] = (), documents: Sequence[str] = ()) -> list[int]:
    """Passage indices, best first, by their best sentence plus the retriever's rank (a sentence about another
    document's subject does not count: ``_elsewhere``).

    A passage embedding averages everything the passage says; the question is
    usually answered by one sentence of it. Scoring sentences the way the
    quotes are chosen (similarity, covered words, names) finds that sentence
    even across languages, where the keyword leg cannot help: on the ARCD dev
    split it lifts recall@1 of English questions over Arabic articles from
    0.58 to 0.62. ``RERANK_RANK_WEIGHT`` keeps the retriever's opinion.
    The question's language earns a sentence nothing here: that bonus only
    chooses which of a bilingual passage's two versions to quote, and in
    ranking it lifted every passage with text in the question's language
    above an equally good one written in the other (English questions over
    the Arabic article and its bilingual project notes).
    """
    units = candidate_units(texts)
    if not units:
        return list(range(len(texts)))
    heading_stems = _heading_stems(headings, len(texts))
    reads = _with_headings(units, heading_stems)
    part = part.named_in(units, reads, documents)
    named = _reads(part, units, reads, documents)
    scored = _score_units(part, units, cache.passages([u.text for u in units]), heading_stems,
                          language, cache, min_z, cross_offset, language_weight=0.0, named=named)
    best = np.full(len(texts), -np.inf)  # a passage all of whose units are about another subject goes last
    for unit, read, score in zip(units, named, scored.scores, strict=True):
        if not _elsewhere(part, read):
            best[unit.rank] = max(best[unit.rank], float(score))
    total = best + RERANK_RANK_WEIGHT / (1 + np.arange(len(texts)))
    return [int(i) for i in np.argsort(-total, kind="stable")]


def find_evidence(parts: Sequence[Part], texts: Sequence[str], language: Language, cache: VectorCache, *,
                  min_z: float, cross_offset: float = 0.0, max_units: int = 3, headings: Sequence[str] = (),
                  documents: Sequence[str] = ()) -> Evidence:
    """Choose what to quote from the passages ``texts`` (best first), part by part.

    ``headings`` (title and section of each passage) tell which passage is
    about a name when its sentences only say "it"; ``documents`` (the source
    file of each passage) keep a second figure from another file out of the
    answer to a "how many" or "when" question (``_rival_figure``).
    Each part gets its best-scored unit, held to naming what the part names
    (``_about``, ``_elsewhere``); further units join when they score close to
    the top and cover an asked-about word not covered yet. Coverage for the
    answerability decision is over all candidate units: "the passages mention
    it", not only the quoted sentences.
    """
    units = candidate_units(texts)
    evidence = Evidence(candidates=units)
    if not units:
        evidence.uncovered = list(dict.fromkeys(w for p in parts for w in p.focus))
        return evidence
    unit_vectors = cache.passages([u.text for u in units])
    heading_stems = _heading_stems(headings, len(texts))
    ranks = RANK_WEIGHT / (1 + np.array([u.rank for u in units]))
    reads = _with_headings(units, heading_stems)
    chosen: list[int] = []
    covered_all: dict[str, bool] = {}
    for part in (p.named_in(units, reads, documents) for p in parts):
        named = _reads(part, units, reads, documents)
        scored = _score_units(part, units, unit_vectors, heading_stems, language, cache, min_z, cross_offset, named=named)
        matches = scored.matches
        for word, row in zip(part.focus, scored.strengths, strict=True):
            covered_all[word] = covered_all.get(word, False) or bool((row >= min_z).any())
            evidence.strengths[word] = max(evidence.strengths.get(word, -EXACT), float(row.max()) if row.size else -EXACT)
        scores = scored.scores + ranks
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        floor = scores[order[0]] - KEEP_WITHIN
        about = [_about(part, read) for read in named]
        best = next((i for i in order if scores[i] >= floor and about[i]), order[0])
        if _elsewhere(part, named[best]):
            best = next((i for i in order if about[i]), best)
        picked = [best]
        # the best unit is about what the part names, if it names anything (its own script, its own document)
        sure_of_best = not part.name_stems or (about[best] and part.names_document_of(units[best], documents))
        seen = matches[:, best].copy() if part.focus else np.zeros(0, dtype=bool)
        for i in order:
            if i == best:
                continue
            if len(picked) >= max_units or scores[i] < floor:
                break
            adds = (part.focus and about[i] and bool((matches[:, i] & ~seen).any())
                    and not (sure_of_best and _rival_figure(part, units, best, i, documents)))
            if adds:
                picked.append(i)
                seen |= matches[:, i]
        chosen.extend(i for i in picked if i not in chosen)
    chosen = _dedupe(_in_question_language(chosen, units, unit_vectors, language), units)
    evidence.units = [units[i] for i in sorted(chosen, key=lambda i: (units[i].rank, units[i].position))]
    evidence.covered = [w for w, ok in covered_all.items() if ok]
    evidence.uncovered = [w for w, ok in covered_all.items() if not ok]
    return evidence


def translation_of(i: int, units: Sequence[Unit], unit_vectors: np.ndarray, language: Language) -> list[int]:
    """The units of the same passage, in ``language``, that translate unit ``i`` (none if the passage has none).

    A bilingual passage says each thing twice. A sentence and its translation
    are each other's nearest unit in the other language within the passage
    (mutual nearest neighbours by the embedder, no threshold): in this corpus's
    bilingual notes, 35 such pairs at cosine 0.88-0.95, while every other pair
    across languages stays under its unit's nearest. A translator may split a
    sentence in two, and e5-small puts a half that opens with "It ..." nearer
    to some other sentence; so, as length-based sentence alignment does (Gale
    and Church 1993), the units beside the pair's (before or after it) join it
    while they bring its length nearer to the one this passage's own ratio
    between its two languages predicts. A passage is taken for a translation
    of itself only when its two languages hold text of comparable length
    (neither under half the other: our notes' English runs 0.91-1.45 times
    their Arabic); a one-language passage with a stray line in the other (a
    "Docs:" list of Latin names, a URL) would otherwise pair that line with
    some sentence, the only candidate being trivially "mutual".
    """
    unit = units[i]
    theirs = _in_passage(units, unit.rank, language)
    if unit.language == language or not theirs:
        return []
    ours = _in_passage(units, unit.rank, unit.language)
    ratio = sum(len(units[j].text) for j in theirs) / sum(len(units[j].text) for j in ours)
    if not PARALLEL_LENGTHS[0] <= ratio <= PARALLEL_LENGTHS[1]:
        return []
    nearest = _nearest(i, theirs, unit_vectors)
    if _nearest(nearest, ours, unit_vectors) != i:
        return []
    return _block(theirs, theirs.index(nearest), len(unit.text) * ratio, [len(units[j].text) for j in theirs])


def _in_passage(units: Sequence[Unit], rank: int, language: Language) -> list[int]:
    """The units of passage ``rank`` written in ``language``, in passage order."""
    return [j for j, u in enumerate(units) if u.rank == rank and u.language == language]


def _nearest(i: int, among: list[int], unit_vectors: np.ndarray) -> int:
    """The unit of ``among`` whose vector is nearest unit ``i``'s."""
    return among[int(np.argmax(unit_vectors[among] @ unit_vectors[i]))]


def _block(items: list[int], start: int, expected: float, lengths: list[int]) -> list[int]:
    """``items[start]`` and its neighbours, grown one at a time on the side that brings the total length nearest
    ``expected``, while it gets nearer."""
    lo = hi = start
    total = lengths[start]
    while True:
        grown = [(abs(total + lengths[lo - 1] - expected), lo - 1, hi, total + lengths[lo - 1])] if lo > 0 else []
        grown += [(abs(total + lengths[hi + 1] - expected), lo, hi + 1, total + lengths[hi + 1])] if hi + 1 < len(items) else []
        if not grown or min(grown)[0] >= abs(total - expected):
            return items[lo:hi + 1]
        _, lo, hi, total = min(grown)


def _in_question_language(chosen: list[int], units: Sequence[Unit], unit_vectors: np.ndarray, language: Language) -> list[int]:
    """Each chosen unit whose passage also says it in the question's language is quoted in that language, once.

    An English question over a bilingual passage was quoted the Arabic
    sentence and its English translation one under the other, or only the
    Arabic one when the English one scored a little lower. A unit that is one
    half of a sentence the translator split in two is no mutual nearest
    neighbour of anything; it gives way to the sentence whose translation
    contains it.
    """
    out: list[int] = []
    for i in chosen:
        picks = translation_of(i, units, unit_vectors, language)
        if not picks:
            whole = _translated_by(i, units, unit_vectors, language)
            picks = [whole] if whole is not None else [i]
        for pick in picks:
            if pick not in out:
                out.append(pick)
    return out


def _translated_by(i: int, units: Sequence[Unit], unit_vectors: np.ndarray, language: Language) -> int | None:
    """The unit in ``language`` of the same passage whose translation includes unit ``i`` with others, if any."""
    unit = units[i]
    theirs = _in_passage(units, unit.rank, language)
    if unit.language == language or not theirs:
        return None
    nearest = _nearest(i, theirs, unit_vectors)
    return nearest if i in translation_of(nearest, units, unit_vectors, unit.language) else None


def _rival_figure(part: Part, units: Sequence[Unit], best: int, other: int, documents: Sequence[str]) -> bool:
    """Whether unit ``other`` would give the reader a second answer to a question asking for a number or a date:
    the best unit gives one, and ``other``, from a file the retriever ranked lower, gives its own.

    A further quote joins for covering an asked-about word the best one leaves
    out; a figure from another file covers it about something else. Asked the
    capacity of one desalination plant, the answer quoted its 60,000 m³ a day
    and, for "production", another plant's 1,036,000 m³ from that plant's own
    file. Within one document a second figure is usually the same subject's
    (a date and its sequel, a total and its parts), so only files are told
    apart; and a file ranked above the best unit's keeps its figure, since the
    best quote may be the wrong one (asked when William Trent's men began a
    fort, the best quote was another fort's rebuilding, and the passage ranked
    first held the answer). For the same reason the caller asks this only when
    the best unit is known to be about what the question names, if it names
    anything: asked the cost of the reservoirs "Kahramaa" built, the best quote
    was another plant's cost from an Arabic file that cannot be told to be about
    Kahramaa, and the English file's own cost must stay. On the ARCD dev split
    this took a second figure out of 19 answers; the two whose gold span only
    the dropped quote held already gave the fact ("5 مرات" for "خمس مرات"), or
    the dropped one was about another player.
    """
    if not part.wants or len(documents) <= max(units[best].rank, units[other].rank):
        return False
    return (units[best].gives_quantity and units[other].gives_quantity and units[other].rank > units[best].rank
            and _document(units[best], documents) != _document(units[other], documents))


def _about(part: Part, stems: frozenset[str]) -> bool:
    """Whether a unit may be quoted beside a part's best one: when the part names something, the unit (its
    ``stems``, with its passage's heading: a note's "It uses ..." under "Dynex") must name it too.

    A further quote joins for covering an asked-about word not covered yet;
    any sentence using the word did ("Which chains does Nuco.cloud rely on?"
    added a line about CUDOS for its "blockchain"). The passage as a whole is
    not enough: one section of the article lists a dozen projects, a line
    each. The best unit is held to it only while one that names it scores
    within ``KEEP_WITHIN`` of the top: "Iagon runs on which blockchain?" in
    dialect was quoted a Dynex line for its "blockchain" over Iagon's own
    "... على كاردانو"; with none that close, a passage may answer without
    writing the name, unless the top unit is about another document's
    subject (``_elsewhere``).
    """
    return not part.name_stems or bool(part.name_stems & stems)


def _elsewhere(part: Part, stems: frozenset[str]) -> bool:
    """Whether a unit (its ``stems``, with its passage's heading) is about another document's subject: the part
    names something, and the unit names another document's name instead.

    "Which blockchain does Aethir run on?" in dialect: a line of the article
    saying "**Dynex**: a blockchain for ..." matched "blockchain" word for word
    and outscored Aethir's own "... built on Arbitrum" by more than
    ``KEEP_WITHIN``, so it was ranked first and quoted as the answer. Such a
    unit neither counts toward its passage's rank (``rank_passages``) nor is
    the best quote while a unit about the part's names is among the
    candidates, however low that one scores (the top passages are few, and a
    unit under the asked name's heading is about it). A unit naming nothing
    (the article's general sentences) is not elsewhere, nor one naming both
    ("CUDOS is similar to Akash"). Another document's name is one of its
    one-word spellings that no other name has (``AliasTable.subject_terms``).
    Needs the optional alias data (front matter ``aliases``); without it no
    unit is elsewhere.
    """
    return not _about(part, stems) and bool(part.other_stems & stems)


def _dedupe(chosen: list[int], units: Sequence[Unit]) -> list[int]:
    """Drop a unit whose words are mostly in one already kept (a fact repeated in two files)."""
    kept: list[int] = []
    seen: set[str] = set()
    for i in chosen:
        own = set(units[i].stems)
        if own and len(own & seen) >= 0.8 * len(own):
            continue
        kept.append(i)
        seen |= own
    return kept
