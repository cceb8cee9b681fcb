"""One reading of the question, computed once per request and passed along.

Retrieval, the answerability decision, the quote selection and the UI's
highlighting all need the same facts about a question: its language, the
standalone query after a follow-up is resolved, the names it mentions (after
typo correction), the words it asks about, whether it wants a number or a
date, and, for a comparison or a two-part question, its parts. They are
worked out here once, so no two components can disagree.

The word tables below are closed classes of the two languages (question
words, comparison words), never vocabulary of a domain.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.lexical import AliasGroup, AliasTable, BM25Index
from assistant.text import Language, detect_language, normalize, raw_words, stem, stopwords, terms, words
from assistant.translit import bare_name, latin_article

# Question words that ask for a quantity or a date (matched on normalized text); an Arabic one may carry
# the conjunction و / ف ("ومتى", "وكم"). "What is the capacity / population / area ...?" asks for a number
# as "how many" does: nouns of a measured quantity, a closed class like the question words.
_WANTS_NUMBER = re.compile(
    r"\bhow (many|much|long|old|big|large|far|often|fast|tall|high|deep|wide|heavy)\b|\b(what|which) (number|percentage|share|amount|price|size)\b"
    r"|\b(what|which) (is|are|was|were) (the |its |their )?(\w+ ){0,2}(capacity|population|cost|area|length|height|depth|distance|speed|weight|temperature|budget|revenue)\b"
    r"|\bprice of\b|(^|\s)[وف]?(كم|بكم|كام|بكام|قديش|قداش|اديش)(\s|$)|(^|\s)[وف]?(ما|ماهو|ماهي) (هو |هي )?(عدد|سعر|نسبه|مقدار|حجم|سعه|تكلفه|مساحه|طول|ارتفاع|عمق|مسافه|سرعه|وزن|ميزانيه)(\s|$)"
)
_WANTS_DATE = re.compile(
    r"\bwhen\b|\b(what|which) (year|date|month|day|century|decade)\b|\bin what year\b"
    r"|(^|\s)[وف]?(متي|امتي|ايمتي|وقتاش|امتا)(\s|$)|(في|فى) (اي|اى) (عام|سنه|تاريخ|شهر|يوم|قرن)|(^|\s)[وف]?(ما|ماهو) (هو )?تاريخ(\s|$)"
)
# Words that make a question a comparison; they frame it rather than name what to find.
_COMPARISON = frozenset(normalize(w) for w in """difference differences differ compare compared comparison versus vs
    between distinguish distinguishes similar similarity alike unlike
    الفرق فرق الفروق الاختلاف اختلاف يختلف تختلف مقارنه قارن يقارن بين يميز تميز يشبه تشبه التشابه""".split())
# What may stand between names asked about side by side ("Akash or io.net", "أكاش أم ريندر").
_JOINERS = frozenset(normalize(w) for w in "and or vs versus nor و أو او أم ام".split())
_COMMA = re.compile(r"[,،]")
# A second question inside the first: "..., and what does it offer?", "...، وما الذي تقدمه؟".
_CLAUSE_BREAK = re.compile(
    r"[?؟]\s+(?=\S)"
    r"|,?\s+and\s+(?=(what|which|how|who|whom|when|where|why|does|do|did|is|are|was|were|can)\b)"
    r"|[،,]?\s+و(?=(ما|ماذا|هل|كيف|من|متى|متي|اين|أين|لماذا|اي|أي|كم|شو|ايش|وش)\s)",
    re.IGNORECASE,
)


def wants_quantity(question: str) -> str | None:
    """"number" or "date" when the question asks for one, else None."""
    text = normalize(question)
    if _WANTS_DATE.search(text):
        return "date"
    if _WANTS_NUMBER.search(text):
        return "number"
    return None


@dataclass(frozen=True)
class QueryAnalysis:
    """Everything the pipeline needs to know about one question."""

    question: str  # as the user typed it (cleaned)
    query: str  # standalone form: a follow-up carries what it refers to
    language: Language
    names: tuple[str, ...] = ()  # canonical names mentioned (alias table, typo-tolerant)
    name_stems: frozenset[str] = frozenset()  # stems of those names' spellings that no other name shares
    other_stems: frozenset[str] = frozenset()  # the same for the documents' names it does not mention (``subject_terms``)
    terms: tuple[str, ...] = ()  # index terms of the query, names expanded, typos mapped onto the index
    focus: tuple[str, ...] = ()  # words the question asks about, as written (names, function words removed)
    spellings: tuple[tuple[str, str], ...] = ()  # (focus word, indexed term one edit away) for words the index lacks
    wants: str | None = None  # "number" | "date" | None
    parts: tuple[str, ...] = ()  # sub-questions of a comparison or two-part question (empty: one part)
    comparison: bool = False
    highlight: frozenset[str] = field(default_factory=frozenset)  # stems to mark in shown passages
    unknown_names: tuple[str, ...] = ()  # Latin-script names the corpus never writes (see ``unknown_latin_names``)
    proper: tuple[str, ...] = ()  # Latin-script proper names of the query (see ``proper_names``), alias table or not
    asked: str = ""  # what the question asks, for choosing sentences: a follow-up's own words when it has any, else the query

    def to_json(self) -> dict:
        return {"query": self.query, "language": self.language, "names": list(self.names), "focus": list(self.focus),
                "wants": self.wants, "parts": list(self.parts), "comparison": self.comparison, "unknown_names": list(self.unknown_names)}


def _name_words(groups: list[AliasGroup]) -> set[str]:
    return {w for g in groups for spelling in g.spellings for w in words(spelling)}


_LATIN_TOKEN = re.compile(r"[A-Za-z][\w.\-'’]*")


def _capitalized(token: str) -> bool:
    """A capitalized word; an all-capitals one is an acronym (GPU, GPUs, AI): a term people ask about, not a name."""
    return any(c.isupper() for c in token) and not token.rstrip("s").isupper()


def proper_names(text: str) -> set[str]:
    """Normalized words of the Latin-script proper names in a text: capitalized words after the first.

    In English, capitals (but not acronyms) mark the subject ("Battle of Yarmouk", "Hosni
    Mubarak"), not what is asked about; a passage in Arabic spells them in its
    own script, so they are left to retrieval, like the alias table's names.
    A lower-case particle between two capitalized words (ibn, al-, de) belongs
    to the name.
    """
    tokens = [m.group(0) for m in _LATIN_TOKEN.finditer(text)]
    if not tokens:
        return set()
    capital = [i > 0 and _capitalized(tok) for i, tok in enumerate(tokens)]
    names: set[str] = set()
    for i, tok in enumerate(tokens):
        inside = 0 < i < len(tokens) - 1 and capital[i - 1] and capital[i + 1] and len(tok) <= 4
        if capital[i] or inside:
            names.update(words(tok))
    return names


def capitalized_runs(text: str) -> list[list[str]]:
    """The text's capitalized Latin names, each as its normalized words in order: "the Ras Al Khair plant" ->
    [["ras", "al", "khair"]]; "Az-Zour North" -> [["az", "zour", "north"]]; "Kahramaa" in an Arabic question too.

    The text's first word is capitalized by position ("According to ...", "Whose ..."), not as a name; a
    Latin word that follows Arabic ones is not first ("Kahramaa" in an Arabic question, which
    ``proper_names`` skips as the first Latin word). Each name stays whole, so that a passage writing one
    of its words ("north-east") does not name it. A short lower-case particle between two capitalized
    words (ibn, al, de) belongs to the name; an all-capitals word is an acronym (GPU), not a name.
    """
    return [words(text[start:end]) for start, end in name_spans(text)]


def name_spans(text: str) -> list[tuple[int, int]]:
    """Where the text's capitalized Latin names are written (start, end), as ``capitalized_runs`` reads them."""
    tokens = [(m.start(), m.end(), m.group(0)) for m in _LATIN_TOKEN.finditer(text)]
    stop = stopwords()
    capital = [_capitalized(tok) and normalize(tok) not in stop and bool(text[:start].strip()) for start, _, tok in tokens]
    spans: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for i, (start, end, tok) in enumerate(tokens):
        joined = i > 0 and not text[tokens[i - 1][1]:start].strip()  # nothing but spaces since the previous word
        inside = (not capital[i] and len(tok) <= 4 and 0 < i < len(tokens) - 1 and capital[i - 1] and capital[i + 1]
                  and joined and not text[tokens[i][1]:tokens[i + 1][0]].strip())
        if capital[i] or inside:
            if current and not joined:
                spans.append(current)
                current = None
            current = (current[0], end) if current else (start, end)
        elif current:
            spans.append(current)
            current = None
    if current:
        spans.append(current)
    return spans


def focus_words(query: str, aliases: AliasTable) -> list[str]:
    """Content words of the query, as the user wrote them, minus names, comparison words and digits.

    Typos are not mapped here (see ``index_spellings``): shown in a notice
    ("the passages do not mention: ...") or highlighted, a word must be the
    reader's own. One edit turns many a short Arabic word into another real
    word (تأجير "renting" into تأثير "influence").
    """
    stop = stopwords()
    mentioned = aliases.mentions(query)
    names = _name_words(mentioned) | proper_names(query)
    out: list[str] = []
    written = raw_words(query)
    normal = [normalize(w) for w in written]
    for raw, norm, corrected in zip(written, normal, aliases.correct(normal), strict=True):
        if norm in stop or corrected in names or norm in names or norm in _COMPARISON or raw.isdigit() or len(raw) < 2:
            continue
        if "." in raw or "-" in raw:
            continue  # a dotted name also yields its parts, which are judged on their own
        if raw not in out:
            out.append(raw)
    return out


def index_spellings(focus: Sequence[str], index: BM25Index | None) -> tuple[tuple[str, str], ...]:
    """For each focus word whose stem the index lacks, the indexed term one edit away ("blockchian" -> blockchain).

    Kept beside the word, not in its place: a passage holding that term counts
    as mentioning the word, but the word shown stays the one written.
    """
    if index is None:
        return ()
    out = []
    for word in focus:
        written = stem(word)
        if written not in index.vocabulary and (fixed := index.correct(written)) != written:
            out.append((word, fixed))
    return tuple(out)


def _span(tokens: Sequence[str], group: AliasGroup) -> tuple[int, int] | None:
    """First and last position of the group's first spelling written in ``tokens`` (consecutive words), if any."""
    for start in range(len(tokens)):
        for spelling in group.token_sets:
            end = start + len(spelling)
            if end <= len(tokens) and set(tokens[start:end]) == spelling:
                return start, end - 1
    return None


def alternatives(query: str, aliases: AliasTable) -> list[AliasGroup]:
    """The names a question sets side by side: the longest run of names with only "and", "or", "vs" or commas between.

    "Akash or io.net?", "Akash, Render and io.net", "أكاش أم ريندر": each name
    is asked about. In "Is Render on Ethereum or Solana?" the run is Ethereum
    and Solana; Render, outside it, is asked about in both.
    """
    tokens = aliases.tokens(_COMMA.sub(" and ", query))  # a list's commas join like "and"; the words lose them
    groups = aliases.mentions(query)
    spans = sorted((span, i) for i, group in enumerate(groups) if (span := _span(tokens, group)))
    best: list[int] = []
    run: list[int] = []
    previous_end = -1
    for (start, end), i in spans:
        gap = tokens[previous_end + 1:start]
        joined = bool(run) and bool(gap) and all(t in _JOINERS for t in gap)  # "Nosana Solana integration": not a choice
        run = [*run, i] if joined else [i]
        previous_end = max(previous_end, end) if joined else end
        if len(run) > len(best):
            best = run
    return [groups[i] for i in best] if len(best) >= 2 else []


def split_parts(query: str, aliases: AliasTable) -> tuple[list[str], bool]:
    """Sub-questions, and whether the question is a comparison.

    A comparison of two or more names ("the difference between Nosana and
    io.net") becomes one part per name, each keeping the rest of the
    question; so does a choice or list of names ("Akash or io.net?",
    "Is Render on Ethereum or Solana?": one part per alternative, the other
    names kept in each). Two questions in one ("which chain, and what does
    it offer?") become two parts, each carrying the names of the whole.
    """
    mentioned = aliases.mentions(query)
    comparison = len(mentioned) >= 2 and bool(set(words(query)) & _COMPARISON)
    side_by_side = mentioned if comparison else alternatives(query, aliases)
    if len(side_by_side) >= 2:
        pieces = [(w, set(aliases.tokens(w))) for w in query.split()]  # each written word as names are read
        parts = []
        for group in side_by_side:
            own = _name_words([group])
            others = _name_words([g for g in side_by_side if g is not group]) - own
            kept = [(w, read) for w, read in pieces if not read & others]
            named = any(read & own for _, read in kept)
            parts.append(" ".join([w for w, _ in kept] + ([] if named else [group.canonical])))
        return parts, comparison
    clauses = [c.strip(" ,،") for c in _CLAUSE_BREAK.split(query) if c and c.strip(" ,،") and not _is_connector(c)]
    clauses = [c for c in clauses if len([w for w in words(c) if w not in stopwords()]) >= 1]
    if len(clauses) < 2:
        return [], False
    carried = " ".join(g.canonical for g in mentioned)
    return [c if aliases.mentions(c) or not carried else f"{carried} {c}" for c in clauses], False


def _is_connector(piece: str) -> bool:
    """The captured look-ahead words of ``_CLAUSE_BREAK`` come back from ``re.split``; skip them."""
    return piece.strip().lower() in {"what", "which", "how", "who", "whom", "when", "where", "why", "does", "do", "did", "is",
                                     "are", "was", "were", "can", "ما", "ماذا", "هل", "كيف", "من", "متى", "متي", "اين", "أين",
                                     "لماذا", "اي", "أي", "كم", "شو", "ايش", "وش"}


def unknown_latin_names(query: str, language: Language, aliases: AliasTable, index: BM25Index | None) -> list[str]:
    """Names in Latin script (capitalized words, acronyms; any Latin word of an Arabic question) the index lacks.

    A question about "Bittensor" cannot be answered from a corpus that never
    writes the word, however close its passages are in meaning. Typos are
    forgiven (one edit, see ``BM25Index.correct``). Whether the corpus would
    write such a name in Latin at all is for the caller to judge: an Arabic
    Wikipedia writes "Mubarak" as مبارك.
    """
    if index is None:
        return []
    tokens = [m.group(0) for m in _LATIN_TOKEN.finditer(query)]
    named = [t for i, t in enumerate(tokens) if language == "ar" or (i > 0 and any(c.isupper() for c in t))]
    known = aliases.vocabulary
    out = []
    for token in named:
        # The article ("al" of al-Mutanabbi) is written by any corpus with Latin in it, and a single letter
        # (the "s" of Trump's, Model C) by any text: neither tells whether the corpus writes the name.
        article = latin_article(token)
        parts = [w for w in raw_words(token) if w not in stopwords() and not w.isdigit() and len(w) > 1 and w != article]
        if parts and not any(index.correct(stem(w)) in index.vocabulary or normalize(w) in known for w in parts):
            out.append(bare_name(token))
    return list(dict.fromkeys(out))


def analyze(question: str, query: str, aliases: AliasTable, index: BM25Index | None = None) -> QueryAnalysis:
    """Read a question (and its standalone ``query``) against the current store's names and index.

    A follow-up read with what it refers to (``conversation.with_context``: the question itself inside
    the query) asks one thing, its own: its clauses are the parts, not the earlier turn's ("Akash Network
    And which chain ...?" is not two questions), each part carrying the context; and a follow-up with
    words of its own ("And when did it open?") asks about those words, and for a number or a date only if
    it does itself; its sentences are chosen by their closeness to it (``asked``), not to the earlier
    turn's question. The context still finds the passages, and names what the answer must be about.
    A comparison the context makes ("Akash or Render?" -> "Which is cheaper?") is still split by name.
    """
    mentioned = aliases.mentions(query)
    name_stems = frozenset(t for g in mentioned for t in aliases.identifying_terms(g))
    focus = focus_words(query, aliases)
    terms_ = [index.correct(t) for t in terms(query)] if index is not None else terms(query)
    other_stems = aliases.subject_terms() - {t for g in mentioned for t in g.terms}  # name_stems are among those terms
    expanded = tuple(dict.fromkeys([*terms_, *aliases.expand(query)]))
    parts, comparison = split_parts(query, aliases)
    wants, asked = wants_quantity(query), query
    if query != question and question in query:
        context = " ".join(query.replace(question, " ").split())
        if not comparison:
            parts = [f"{context} {part}" for part in split_parts(question, aliases)[0]]
        own = focus_words(question, aliases)
        if own:
            focus, wants, asked = own, wants_quantity(question), question
    return QueryAnalysis(
        question=question,
        query=query,
        asked=asked,
        language=detect_language(question),
        names=tuple(g.canonical for g in mentioned),
        name_stems=name_stems,
        other_stems=other_stems,
        terms=expanded,
        focus=tuple(focus),
        spellings=index_spellings(focus, index),
        wants=wants,
        parts=tuple(parts),
        comparison=comparison,
        highlight=frozenset([*(stem(w) for w in focus), *name_stems]),
        unknown_names=tuple(unknown_latin_names(query, detect_language(question), aliases, index)),
        proper=tuple(sorted(proper_names(query))),
    )
