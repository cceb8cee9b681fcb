"""Chat messages as safe HTML: per-paragraph direction, isolated names and markers, escaped text.

Gradio's ``rtl=True`` flips a whole component, which breaks English answers in
an Arabic chat. Instead every paragraph carries its own ``dir`` (from
``text.detect_language``, the one language rule), runs of the other script
inside it (Latin names in Arabic, Arabic names in English) and ``[n]``
markers are isolated with ``<bdi>`` so they stay in place, and every piece of
corpus text, model output or user text is HTML-escaped before it is wrapped:
the only tags in a message are the ones built here. Pure functions, testable
without Gradio.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterable

from assistant.answer import AnswerResponse
from assistant.grounding import MARKER
from assistant.messages import message
from assistant.text import Language, detect_language, normalize, stem, words

_BOLD = re.compile(r"\*\*(.+?)\*\*")
# A run of Latin words (io.net, Cosmos SDK, GPT-4) with no trailing punctuation,
# so a sentence's final period stays outside the isolate, at the Arabic end.
# A colon or a spaced dash between two words of the run keeps them one isolate: a
# title and its subtitle ("لامركزية الذكاء الاصطناعي: نظرة عامة") split in two
# isolates were laid out in the surrounding direction, subtitle first. Commas do
# not join: a list of names keeps the reading order of the text around it.
_JOINED = r"(?:[ \t]+|[ \t]*:[ \t]+|[ \t]+[-–—][ \t]+)"
# Latin letters with their accented forms (Snøhetta, Müller, Société): a word cut at "ø" was laid out in pieces.
_LATIN_LETTERS = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff"
_LATIN_WORD = rf"[{_LATIN_LETTERS}][{_LATIN_LETTERS}0-9_+#]*(?:[.\-/'’][{_LATIN_LETTERS}0-9_+#]+)*"
_LATIN_RUN = re.compile(rf"{_LATIN_WORD}(?:{_JOINED}(?:{_LATIN_WORD}|[0-9]+(?:[.,][0-9]+)*))*")
_ARABIC_CHARS = "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff"
_ARABIC_WORD = rf"[{_ARABIC_CHARS}]+"
_ARABIC_RUN = re.compile(rf"{_ARABIC_WORD}(?:{_JOINED}{_ARABIC_WORD})*")
# A Markdown image in a passage (the article's cover picture) is shown as its alt text, not as syntax.
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
# A word for highlighting: Arabic diacritics (تسعيرًا) belong to their word, so <mark> never splits one.
_WORD_CHAR = r"(?:\w|[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed])"
_TOKEN_SPLIT = re.compile(rf"({_WORD_CHAR}+(?:[.\-]{_WORD_CHAR}+)*)")
_ids = itertools.count(1)
QUIET_REASONS = {"empty", "too_long"}  # the answer text says it all


def next_id() -> str:
    return f"m{next(_ids)}"


def direction(text: str) -> str:
    return "rtl" if detect_language(text) == "ar" else "ltr"


def _lang(direction_: str) -> Language:
    return "ar" if direction_ == "rtl" else "en"


# -- inline text ---------------------------------------------------------------------

def question_terms(question: str, extra: Iterable[str] = ()) -> set[str]:
    """Stems of a question's words (plus e.g. stems of other spellings of the names it mentions)."""
    return {stem(w) for w in words(question) if len(w) >= 2} | {t for t in extra if len(t) >= 2}


def _is_term(word: str, terms: set[str]) -> bool:
    found = words(word)
    return bool(found) and (stem(found[0]) in terms or normalize(word) in terms)


def _marked(text: str, terms: set[str] | None) -> str:
    """Escape text; words whose stem is a term become <mark>."""
    if not terms:
        return html.escape(text)
    out = []
    for piece in _TOKEN_SPLIT.split(text):
        if piece and piece[0].isalnum() and _is_term(piece, terms):
            out.append(f"<mark>{html.escape(piece)}</mark>")
        else:
            out.append(html.escape(piece))
    return "".join(out)


def highlight(text: str, question: str, extra_terms: Iterable[str] = ()) -> str:
    """Escape a passage and mark the words it shares with the question (same stem)."""
    return _marked(text, question_terms(question, extra_terms))


def inline(text: str, direction_: str, msg_id: str = "", markers: set[int] | None = None,
           terms: set[str] | None = None, markup: bool = True) -> str:
    """One line of text as safe HTML: escaped pieces, isolated other-script runs and markers.

    The raw text is cut into pieces first and each piece is escaped on its own,
    so no wrapper can land inside an entity. ``markup`` turns the corpus's
    ``**bold**`` into <b> (off for user text).
    """
    markers = markers or set()
    run = _LATIN_RUN if direction_ == "rtl" else _ARABIC_RUN
    out: list[str] = []

    def plain(segment: str) -> None:
        pos = 0
        for match in run.finditer(segment):
            out.append(_marked(segment[pos:match.start()], terms))
            out.append(f"<bdi>{_marked(match.group(0), terms)}</bdi>")
            pos = match.end()
        out.append(_marked(segment[pos:], terms))

    def with_markers(segment: str) -> None:
        pos = 0
        for match in MARKER.finditer(segment):
            plain(segment[pos:match.start()])
            for n in (int(x) for x in re.split(r"\s*[,،]\s*", match.group(1))):
                if n in markers:
                    out.append(f'<bdi><a class="cite" href="#src-{msg_id}-{n}" title="source {n} · المصدر {n}">[{n}]</a></bdi>')
                else:
                    out.append(f"<bdi>[{n}]</bdi>")
            pos = match.end()
        plain(segment[pos:])

    pos = 0
    if markup:
        for match in _BOLD.finditer(text):
            with_markers(text[pos:match.start()])
            out.append("<b>")
            with_markers(match.group(1))
            out.append("</b>")
            pos = match.end()
    with_markers(text[pos:])
    return "".join(out)


def paragraph(text: str, msg_id: str = "", markers: set[int] | None = None, markup: bool = True) -> str:
    """One escaped paragraph whose direction follows its own language."""
    d = direction(text)
    return f'<p dir="{d}" lang="{_lang(d)}">{inline(text, d, msg_id, markers, markup=markup)}</p>'


def render_text(text: str, msg_id: str = "", markers: set[int] | None = None, markup: bool = True) -> str:
    """Escaped multi-paragraph text; '- ' lines become a list, each item with its own direction."""
    blocks: list[str] = []
    items: list[str] = []
    raw_items: list[str] = []

    def close_list() -> None:
        if items:  # the list's bullets sit on the side of its language; each item also has its own dir
            blocks.append(f'<ul class="quote-list" dir="{direction(" ".join(raw_items))}">' + "".join(items) + "</ul>")
            items.clear()
            raw_items.clear()

    for line in text.split("\n"):
        stripped = line.strip()
        if markup and stripped.startswith(("- ", "* ")):
            item = stripped[2:]
            d = direction(item)
            raw_items.append(item)
            items.append(f'<li dir="{d}" lang="{_lang(d)}">{inline(item, d, msg_id, markers)}</li>')
            continue
        close_list()
        if stripped:
            blocks.append(paragraph(stripped, msg_id, markers, markup))
    close_list()
    return "".join(blocks)


# -- messages --------------------------------------------------------------------------

def render_passage(text: str, question: str = "", terms: set[str] | None = None) -> str:
    """A cited passage line by line, each line in its own direction, question terms marked."""
    terms = terms if terms is not None else question_terms(question)
    lines = []
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        bullet = stripped.startswith(("- ", "* "))
        body = _IMAGE.sub(lambda m: m.group(1), stripped[2:] if bullet else stripped).strip()
        if not body:
            continue
        d = direction(body)
        lines.append(f'<div dir="{d}" lang="{_lang(d)}">{"• " if bullet else ""}{inline(body, d, terms=terms)}</div>')
    return "".join(lines)


def render_sources(response: AnswerResponse, question: str, msg_id: str, terms: set[str] | None = None, open_: bool = False) -> str:
    """Cited passages, numbered like their markers, collapsible, with file, section and lines."""
    if not response.citations:
        return ""
    terms = terms if terms is not None else question_terms(response.query or question, response.highlight)
    arabic = response.language == "ar"
    items = []
    for c in response.citations:
        where = c.section or c.title
        section = f' › <bdi class="where">{html.escape(where)}</bdi>' if where else ""
        where = c.locator(arabic)
        # the numbers read left to right in both languages
        where = re.sub(r"(\d+–\d+|\d+)", r'<span dir="ltr">\1</span>', html.escape(where))
        meta = f' <span class="meta">· <bdi>{where}</bdi></span>' if where else ""
        items.append(
            f'<details class="src" id="src-{msg_id}-{c.marker}"{" open" if open_ else ""}>'
            f'<summary><span class="num"><bdi>[{c.marker}]</bdi></span> <bdi class="file">{html.escape(c.source)}</bdi>'
            f'{section}{meta}</summary>'
            f'<div class="passage">{render_passage(c.text, terms=terms)}</div></details>'
        )
    title = "المصادر · Sources" if arabic else "Sources · المصادر"
    return f'<div class="sources" dir="{"rtl" if arabic else "ltr"}"><div class="sources-title">{title}</div>' + "".join(items) + "</div>"


def render_response(response: AnswerResponse, question: str, show_sources: bool = True, msg_id: str | None = None,
                    terms: set[str] | None = None) -> str:
    """The full assistant message: notice, answer, unsupported flag, sources (none for a refusal)."""
    msg_id = msg_id or next_id()
    markers = {c.marker for c in response.citations}
    d = "rtl" if response.language == "ar" else "ltr"
    parts = [f'<div class="msg bot" dir="{d}" data-status="{response.status}">']
    if response.notice and not response.refused:
        kind = "notice unsure" if response.status == "unsure" else "notice"
        body = "".join(f'<div dir="{direction(n)}">{inline(n, direction(n))}</div>' for n in response.notice.split("\n") if n)
        parts.append(f'<div class="{kind}" role="note">{body}</div>')
    css = "refusal" if response.refused else "answer"
    parts.append(f'<div class="{css}">{render_text(response.answer, msg_id, markers)}</div>')
    if response.refused and response.reason and response.reason not in QUIET_REASONS:
        # the decision's own words and numbers, for whoever wants them; folded, since they are English and technical
        parts.append(f'<details class="why"><summary>Why · السبب</summary><div dir="ltr" lang="en">{html.escape(response.reason)}</div></details>')
    if response.unsupported:
        label = "Not supported by the cited passages · غير مدعوم بالمصادر"
        sentences = "".join(f'<li dir="{direction(s)}">{inline(s, direction(s), markup=False)}</li>' for s in response.unsupported)
        parts.append(f'<div class="unsupported" role="alert"><div class="label">⚠ {label}</div><ul>{sentences}</ul></div>')
    if show_sources and not response.refused:
        parts.append(render_sources(response, question, msg_id, terms))
    parts.append("</div>")
    return "".join(parts)


def render_user(text: str, limit: int | None = None) -> str:
    """The user's message, escaped and never interpreted (no lists, no bold)."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + " …"
    return f'<div class="msg user">{render_text(text, markup=False)}</div>'


def render_streaming(text: str) -> str:
    return f'<div class="msg bot streaming">{render_text(text)}<span class="typing"> ▍</span></div>'


def render_error(exc: BaseException, question: str) -> str:
    """A readable chat message for a failure: the kind of error, never a stack trace."""
    text = message("error", detect_language(question or ""), kind=type(exc).__name__)
    return f'<div class="msg bot"><div class="notice error">{render_text(text, markup=False)}</div></div>'


def render_header(label: str, title: dict[str, str], about: dict[str, str]) -> str:
    """Title, what the corpus covers (from the corpus itself), and who answers."""
    return (
        '<div class="app-title">'
        f'<h1><span dir="rtl" lang="ar">{html.escape(title["ar"])}</span>'
        f'<span class="en" dir="ltr" lang="en">{html.escape(title["en"])}</span></h1>'
        f'<p dir="rtl" lang="ar">{inline(about["ar"], "rtl")}</p>'
        f'<p dir="ltr" lang="en">{inline(about["en"], "ltr")}</p>'
        f'<span class="badge" id="backend-badge" dir="ltr">Answers · يجيب: <b>{html.escape(label)}</b></span></div>'
    )
