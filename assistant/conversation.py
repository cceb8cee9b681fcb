"""Follow-up questions: what "it" refers to, from the conversation so far.

"And which blockchain does it run on now?" retrieves nothing useful alone.
A question is read as a follow-up when it names nothing the corpus knows
and either refers back (a pronoun, a demonstrative, an Arabic attached
pronoun, an opening "and" / "و") or is a fragment of one content word, or
when it opens with "and" and points back before the first name it writes
("And how does it compare to io.net?"). The cues are closed classes of the two
languages, never domain words. A follow-up then carries the names of the
latest earlier question that named something (else that question's text, less
its capitalized names when the follow-up names a subject of its own: "What
about Ras Al Khair?"); with a chat model configured, the model's standalone
rewrite competes with it, and the reading the corpus matches best is searched.
What was carried finds the passages; what the follow-up asks is its own
(``query.analyze``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import re

from assistant.lexical import AliasTable
from assistant.query import name_spans
from assistant.text import normalize, raw_words, stopwords, words

Turn = dict[str, str]
Rewrite = Callable[[list[tuple[str, str]]], str]  # chat messages -> reply text (serialized by the caller)

CONDENSE_PROMPT = (
    "Rewrite the user's last message as one standalone search question, in the same language as that "
    "message, resolving pronouns from the conversation. Keep names exactly as written. If it is already "
    "standalone, return it unchanged. Reply with the question only.\n"
    "أعد صياغة الرسالة الأخيرة كسؤال مستقل بنفس لغتها، مع الإبقاء على الأسماء كما هي. أجب بالسؤال فقط."
)
HISTORY_TURNS = 6  # turns shown to the rewriting model: enough for "it", short enough for a small context


def user_turns(history: Sequence[Turn] | None) -> list[str]:
    return [t.get("content", "") for t in (history or []) if isinstance(t, dict) and t.get("role") == "user" and t.get("content")]


def with_context(question: str, history: Sequence[Turn], aliases: AliasTable) -> str:
    """The follow-up read with what it may refer to: the names of the latest user turn that has any, else
    that turn; "" when there is no earlier turn.

    Without an alias table there are no names to carry, so the turn is carried whole; what the follow-up
    itself asks is kept apart by ``query.analyze`` (its parts and the number or date it asks for). But a
    follow-up that names its own subject in capitalized Latin words (``query.name_spans``: "What about Ras
    Al Khair?") takes the previous turn without the names it wrote ("How much did the Taweelah plant
    cost?"), i.e. what was asked: the earlier subject would otherwise draw the search back to itself.
    """
    turns = user_turns(history)
    for previous in reversed(turns):
        names = [g.canonical for g in aliases.mentions(previous)]
        if names:
            return f"{' '.join(names)} {question}"
    if not turns:
        return ""
    previous = turns[-1]
    spans = name_spans(previous)
    if not spans or not name_spans(question):
        return f"{previous} {question}"
    kept, start = [], 0
    for begin, end in spans:
        kept.append(previous[start:begin])
        start = end
    asked = re.sub(r"\s{2,}", " ", "".join([*kept, previous[start:]])).strip()
    return f"{asked} {question}"


# Words that point back at something said before (normalized).
_REFERRING_EN = frozenset("it its it's itself they them their theirs this that these those he him his she her there same".split())
_REFERRING_AR = frozenset(normalize(w) for w in """هذا هذه ذلك تلك هؤلاء اولئك ده دي دول هاد هادا هادي هاي هذي هاذا
    فيه فيها فيهم عنه عنها عنهم له لها لهم منه منها منهم به بها بهم عليه عليها عليهم اليه اليها اليهم""".split())
_PRONOUNS_AR = frozenset(normalize(w) for w in "هو هي هم هما هن".split())
_INTERROGATIVES_AR = frozenset(normalize(w) for w in "ما من ماذا وما ومن شو ايش وش مين منو شنو".split())
_OPENERS = re.compile(r"^\s*(and|also|what about|how about|so)\b|^\s*(و|ف|طيب|طب)(?=\S{2,})", re.IGNORECASE)
_ATTACHED = re.compile(r"\w{2,}(ها|هم|هما|هن)$")  # تقدمها، مؤسسها، أسعارهم (on the word as written: ة is not ه)
_ARTICLE = re.compile(r"^[وفبك]?(ال|لل)")


def first_reference(question: str) -> int | None:
    """Position (in ``raw_words``) of the first word pointing at something (pronoun, demonstrative, attached pronoun)."""
    written = raw_words(question)
    normal = [normalize(w) for w in written]
    for i, (raw, word) in enumerate(zip(written, normal, strict=True)):
        if word in _REFERRING_EN or word in _REFERRING_AR:
            return i
        if word in _PRONOUNS_AR and not (i > 0 and normal[i - 1] in _INTERROGATIVES_AR):  # "ما هي" asks, "هي" refers
            return i
        if _ATTACHED.match(raw) and len(raw) >= 4 and not _ARTICLE.match(raw):  # الراهن: an article takes no pronoun
            return i
    return None


def refers_back(question: str) -> bool:
    """Does the question point at something said before (pronoun, demonstrative, attached pronoun, "and ...")?"""
    return bool(_OPENERS.match(question.strip())) or first_reference(question) is not None


def is_follow_up(question: str, aliases: AliasTable) -> bool:
    """Needs its conversation: names nothing known, and refers back or is a one-word fragment; or opens
    with "and" / "و" and points back before the first name it writes ("And how does it compare to io.net?":
    "it" is not io.net).

    Without the opening "and", a word before the name is as often filler
    ("How much does it cost to use Akash?", "Is there a GPU market on Akash?")
    or points ahead ("Which of these is cheaper, Akash or io.net?"); a name
    first and a pronoun after ("What is Akash and what does it offer?") reads
    as the pronoun pointing at that name. None of these needs the conversation.
    """
    mentioned = aliases.mentions(question)
    if mentioned:
        reference = first_reference(question)
        if reference is None or not _OPENERS.match(question.strip()):
            return False
        tokens = aliases.tokens(question)
        named = {w for g in mentioned for ts in g.token_sets for w in ts}
        first_name = next((i for i, t in enumerate(tokens) if t in named), len(tokens))
        return reference < first_name
    content = [w for w in words(question) if w not in stopwords()]
    return refers_back(question) or len(content) <= 1


def candidates(question: str, history: Sequence[Turn] | None, aliases: AliasTable) -> list[str]:
    """The question as asked, then (for a follow-up, when the conversation offers context) with its context carried."""
    if not user_turns(history) or not is_follow_up(question, aliases):
        return [question]
    reading = with_context(question, history or [], aliases)
    return [question, reading] if reading else [question]


def rewrite_with_llm(question: str, history: Sequence[Turn], rewrite: Rewrite) -> str | None:
    """A standalone question from the chat model, or None when its reply is unusable."""
    transcript = "\n".join(f"{t.get('role', 'user')}: {t.get('content', '')}" for t in list(history)[-HISTORY_TURNS:])
    messages = [
        ("system", CONDENSE_PROMPT),
        ("human", f"Conversation:\n{transcript}\n\nLast message: {question}\n\nStandalone question:"),
    ]
    lines = rewrite(messages).strip().splitlines()
    candidate = lines[0].strip().strip('"“”«»') if lines else ""
    return candidate if 3 <= len(candidate) <= 4 * len(question) + 400 else None


def condense(question: str, history: Sequence[Turn] | None, aliases: AliasTable, score: Callable[[str], float],
             rewrite: Rewrite | None = None) -> str:
    """The standalone query to search for: the best-matching reading of a follow-up.

    ``score`` rates a query against the corpus (higher: better matched);
    ``rewrite`` is the chat model, when one is configured. Any failure of the
    model falls back to the deterministic readings. The bare question is kept
    only if no reading with context matches the corpus at least as well.
    """
    options = candidates(question, history, aliases)
    if len(options) == 1:
        return question
    if rewrite is not None:
        try:
            rewritten = rewrite_with_llm(question, history or [], rewrite)
        except Exception:  # noqa: BLE001 - a broken model must not break the chat; fall back below
            rewritten = None
        if rewritten and rewritten != question:
            options.append(rewritten)
    scored = [(score(option), i > 0, option) for i, option in enumerate(options)]
    return max(scored)[2]
