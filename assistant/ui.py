"""The Gradio chat: per-message direction, readable sources, and text that stays text.

Gradio's ``rtl=True`` flips a whole component, which breaks English answers in
an Arabic chat. Instead every paragraph we render carries its own ``dir``
(``rtl`` for Arabic, ``ltr`` for English, from ``detect_language``), runs of
the other script inside it (Latin names in Arabic, Arabic names in English)
and ``[n]`` markers are isolated with ``<bdi>`` so they stay in place, and
every piece of corpus text, model output or user text is HTML-escaped before
it is wrapped: the only tags in a message are the ones built here.

The Chatbot is set up so that this HTML arrives as built: ``render_markdown=False``
(the message is our HTML, not Markdown: no Markdown or LaTeX pass can turn
text into tags), ``sanitize_html=True`` kept on as a second line of defence
(Gradio 6's sanitizer allows ``dir``, ``lang``, ``id``, ``href``, ``<bdi>``,
``<details>``, ``<mark>``, and ``#`` links keep their target), and no
per-message copy button (it would copy the HTML source). The plain-text
conversation that reaches the retriever is kept in a State, never read back
from the display.

Programs use the API (no browser)::

    from gradio_client import Client

    client = Client("http://127.0.0.1:7860/")
    result = client.predict("What is Akash Network?", [], 5, api_name="/ask")  # question, history, top-k
    print(result["answer"])
    for c in result["citations"]:
        print(c["marker"], c["source"], c["start_line"], c["end_line"])

    # follow-up: history is a list (or a JSON string) of {"role": "user"|"assistant", "content": "..."}
    history = [{"role": "user", "content": "What is Akash Network?"}, {"role": "assistant", "content": result["answer"]}]
    follow = client.predict("How does it price compute?", history, 5, api_name="/ask")

    # streaming: partial answers ({"answer": ..., "done": False}), then the full result with "done": True
    for update in client.submit("ما هي شبكة أكاش؟", [], 5, api_name="/chat"):
        print(update["answer"])
"""

from __future__ import annotations

import html
import itertools
import json
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

import gradio as gr

from assistant.chain import (
    AnswerResponse,
    Assistant,
    answer,
    answer_stream,
    build_assistant,
)
from assistant.config import Settings
from assistant.text import detect_language, normalize, script_counts, tokenize

log = logging.getLogger(__name__)

EXAMPLES_AR = [
    "ما هي شبكة أكاش؟",
    "إلى أي بلوك تشين انتقلت Render Network؟",
    "لماذا يصعب تحويل البيانات اللامركزية إلى توكنات؟",
]
EXAMPLES_EN = [
    "What is Akash Network?",
    "Which blockchain do io.net and Nosana use?",
    "What does crypto do for AI training?",
]
EXAMPLES = EXAMPLES_AR + EXAMPLES_EN

# System fonts only (Debian: fonts-noto-core); nothing is fetched. Latin letters come
# from the first font, Arabic letters fall through to Noto Naskh Arabic.
FONT_STACK = ["Noto Sans", "Noto Naskh Arabic", "Noto Sans Arabic", "Amiri", "Segoe UI", "Tahoma", "DejaVu Sans", "sans-serif"]
ARABIC_STACK = '"Noto Naskh Arabic", "Noto Sans Arabic", "Amiri", "Segoe UI", Tahoma, sans-serif'

CSS = f"""
.app-title {{ text-align: center; }}
.app-title h1 {{ margin: .1em 0 .15em 0; font-size: 1.7em; line-height: 1.35; }}
.app-title h1 .en {{ display: block; font-size: .72em; font-weight: 600; opacity: .8; }}
.app-title p {{ margin: .15em 0; opacity: .85; }}
.badge {{ display: inline-block; margin-top: .35em; padding: .2em .8em; border-radius: 1em;
         background: rgba(40,110,220,.12); border: 1px solid rgba(40,110,220,.3); font-size: .88em; }}
#chat .msg {{ line-height: 1.7; }}
#chat .msg {{ text-align: start; }}
#chat .msg [lang="ar"] {{ font-family: {ARABIC_STACK}; font-size: 1.07em; line-height: 1.85; }}
#chat .msg [lang="ar"] [lang] {{ font-size: 1em; }}
.msg p {{ margin: 0 0 .45em 0; text-align: start; }}
.msg p:last-child {{ margin-bottom: 0; }}
.msg bdi {{ unicode-bidi: isolate; }}
.msg a.cite {{ text-decoration: none; font-weight: 700; padding: 0 .1em; color: #1d5fd1; }}
.msg a.cite:hover {{ text-decoration: underline; }}
.msg .quote-list {{ margin: .2em 0 .45em 0; padding-inline-start: 1.3em; }}
.msg .quote-list li {{ text-align: start; margin-bottom: .3em; }}
.msg .notice {{ border-inline-start: 4px solid #d99a00; background: rgba(217,154,0,.10); padding: .35em .7em; margin: 0 0 .5em 0; border-radius: 4px; }}
.msg .notice.error {{ border-color: #c0392b; background: rgba(192,57,43,.08); }}
.msg .unsupported {{ border: 1px solid rgba(192,57,43,.45); border-inline-start: 4px solid #c0392b; background: rgba(192,57,43,.07);
                    padding: .4em .7em; margin: .55em 0 .2em 0; border-radius: 4px; }}
.msg .unsupported .label {{ font-weight: 700; color: #a93226; }}
.msg .unsupported ul {{ margin: .25em 0 0 0; padding-inline-start: 1.3em; }}
.msg .refusal {{ border-inline-start: 4px solid #7f8c8d; background: rgba(127,140,141,.10); padding: .4em .7em; border-radius: 4px; }}
.msg .why {{ opacity: .7; font-size: .82em; margin-top: .35em; }}
.msg .sources, .msg .sources-title, .msg details.src > summary {{ text-align: start; }}
.msg .sources {{ margin-top: .7em; border-top: 1px solid rgba(128,128,128,.3); padding-top: .45em; }}
.msg .sources-title {{ font-weight: 600; font-size: .88em; opacity: .75; margin-bottom: .15em; }}
.msg details.src {{ margin: .25em 0; border-radius: 6px; }}
.msg details.src > summary {{ cursor: pointer; font-size: .9em; padding: .15em .3em; border-radius: 4px; }}
.msg details.src > summary:hover {{ background: rgba(128,128,128,.10); }}
.msg details.src .num {{ font-weight: 700; color: #1d5fd1; }}
.msg details.src .file {{ font-family: "DejaVu Sans Mono", monospace; font-size: .92em; }}
.msg details.src .meta {{ opacity: .7; font-size: .9em; }}
.msg details.src.flash {{ animation: flash 1.4s ease-out; }}
@keyframes flash {{ from {{ background: rgba(255,214,10,.45); }} to {{ background: transparent; }} }}
.msg .passage {{ margin: .3em 0 .35em 0; padding: .45em .7em; background: rgba(128,128,128,.08); border-radius: 4px;
                 border-inline-start: 3px solid rgba(29,95,209,.5); }}
.msg .passage > div {{ text-align: start; margin: .1em 0 .3em 0; }}
.msg mark {{ background: #ffe58a; color: inherit; padding: 0 .1em; border-radius: 2px; }}
.msg .typing {{ opacity: .6; }}
.examples-label {{ margin: .4em 0 0 0 !important; opacity: .8; font-size: .92em; }}
.examples.ar {{ direction: rtl; }}
.examples button {{ font-size: .92em !important; }}
"""

# Marker links open and reveal their passage (the plain #anchor works without it too).
HEAD = """<script>
document.addEventListener("click", function (event) {
  var link = event.target && event.target.closest ? event.target.closest("a.cite") : null;
  if (!link) return;
  var id = (link.getAttribute("href") || "").slice(1);
  var target = id ? document.getElementById(id) : null;
  if (!target) return;
  event.preventDefault();
  if (target.tagName === "DETAILS") target.open = true;
  target.scrollIntoView({block: "nearest"});
  target.classList.remove("flash"); void target.offsetWidth; target.classList.add("flash");
});
</script>"""

_MARKER = re.compile(r"\[(\d+)\]")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
# A run of Latin words (io.net, Cosmos SDK, GPT-4) with no trailing punctuation,
# so a sentence's final period stays outside the isolate, at the Arabic end.
_LATIN_WORD = r"[A-Za-z][A-Za-z0-9_+#]*(?:[.\-/'’][A-Za-z0-9_+#]+)*"
_LATIN_RUN = re.compile(rf"{_LATIN_WORD}(?:[ \t]+(?:{_LATIN_WORD}|[0-9]+(?:[.,][0-9]+)*))*")
_ARABIC_CHARS = "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff"
_ARABIC_WORD = rf"[{_ARABIC_CHARS}]+"
_ARABIC_RUN = re.compile(rf"{_ARABIC_WORD}(?:[ \t]+{_ARABIC_WORD})*")
# A word for highlighting: Arabic diacritics (تسعيرًا) belong to their word, so <mark> never splits one.
_WORD_CHAR = r"(?:\w|[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed])"
_TOKEN_SPLIT = re.compile(rf"({_WORD_CHAR}+(?:[.\-]{_WORD_CHAR}+)*)")
_ids = itertools.count(1)
QUIET_REFUSALS = {"empty", "too_long"}  # the answer text says it all


def _direction(text: str) -> str:
    """rtl when Arabic words make up at least 40% of the words: an Arabic sentence keeps
    its direction even when it names several Latin projects ("تعتمد شبكة Akash Network على Cosmos SDK")."""
    arabic, latin = script_counts(text)
    return "rtl" if arabic and arabic >= 0.4 * (arabic + latin) else "ltr"


def _lang(direction: str) -> str:
    return "ar" if direction == "rtl" else "en"


# -- inline text ---------------------------------------------------------------------

def question_terms(question: str, extra: Iterable[str] = ()) -> set[str]:
    """Normalized words of a question (plus e.g. other spellings of the names it mentions)."""
    return {t for t in [*tokenize(question), *extra] if len(t) >= 2}


def _is_term(word: str, terms: set[str]) -> bool:
    norm = tokenize(word)
    if not norm:
        return False
    if norm[0] in terms:
        return True
    folded = normalize(word)
    return any(len(t) >= 4 and t in folded for t in terms)


def _marked(text: str, terms: set[str] | None) -> str:
    """Escape text; words that match a term (after Arabic normalization) become <mark>."""
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
    """Escape a passage and mark the words it shares with the question (after normalization)."""
    return _marked(text, question_terms(question, extra_terms))


def inline(text: str, direction: str, msg_id: str = "", markers: set[int] | None = None,
           terms: set[str] | None = None, markup: bool = True) -> str:
    """One line of text as safe HTML: escaped pieces, isolated other-script runs and markers.

    The raw text is cut into pieces first and each piece is escaped on its own,
    so no wrapper can land inside an entity. ``markup`` turns the corpus's
    ``**bold**`` into <b> (off for user text).
    """
    markers = markers or set()
    run = _LATIN_RUN if direction == "rtl" else _ARABIC_RUN
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
        for match in _MARKER.finditer(segment):
            plain(segment[pos:match.start()])
            n = int(match.group(1))
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
    direction = _direction(text)
    return f'<p dir="{direction}" lang="{_lang(direction)}">{inline(text, direction, msg_id, markers, markup=markup)}</p>'


def render_text(text: str, msg_id: str = "", markers: set[int] | None = None, markup: bool = True) -> str:
    """Escaped multi-paragraph text; '- ' lines become a list, each item with its own direction."""
    blocks: list[str] = []
    items: list[str] = []
    raw_items: list[str] = []

    def close_list() -> None:
        if items:  # the list's bullets sit on the side of its language; each item also has its own dir
            direction = _direction(" ".join(raw_items))
            blocks.append(f'<ul class="quote-list" dir="{direction}">' + "".join(items) + "</ul>")
            items.clear()
            raw_items.clear()

    for line in text.split("\n"):
        stripped = line.strip()
        if markup and stripped.startswith(("- ", "* ")):
            item = stripped[2:]
            direction = _direction(item)
            raw_items.append(item)
            items.append(f'<li dir="{direction}" lang="{_lang(direction)}">{inline(item, direction, msg_id, markers)}</li>')
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
        body = stripped[2:] if bullet else stripped
        direction = _direction(body)
        prefix = "• " if bullet else ""
        lines.append(f'<div dir="{direction}" lang="{_lang(direction)}">{prefix}{inline(body, direction, terms=terms)}</div>')
    return "".join(lines)


def render_sources(response: AnswerResponse, question: str, msg_id: str, terms: set[str] | None = None, open_: bool = False) -> str:
    """Cited passages, numbered like their markers, collapsible, with file, section and lines."""
    if not response.citations:
        return ""
    terms = terms if terms is not None else question_terms(response.query or question)
    arabic = response.language == "ar"
    direction = "rtl" if arabic else "ltr"
    items = []
    for c in response.citations:
        where = c.section or c.title
        section = f" › <bdi>{html.escape(where)}</bdi>" if where else ""
        span = f'<span dir="ltr">{c.start_line}–{c.end_line}</span>'  # a range reads left to right in both languages
        lines = f"السطور {span}" if arabic else f"lines {span}"
        items.append(
            f'<details class="src" id="src-{msg_id}-{c.marker}"{" open" if open_ else ""}>'
            f'<summary><span class="num"><bdi>[{c.marker}]</bdi></span> <bdi class="file">{html.escape(c.source)}</bdi>'
            f'{section} <span class="meta">· <bdi>{lines}</bdi></span></summary>'
            f'<div class="passage">{render_passage(c.text, terms=terms)}</div></details>'
        )
    title = "المصادر · Sources" if arabic else "Sources · المصادر"
    return f'<div class="sources" dir="{direction}"><div class="sources-title">{title}</div>' + "".join(items) + "</div>"


def render_response(response: AnswerResponse, question: str, show_sources: bool = True, msg_id: str | None = None,
                    terms: set[str] | None = None) -> str:
    """The full assistant message: notice, answer, unsupported flag, sources (none for a refusal)."""
    msg_id = msg_id or f"m{next(_ids)}"
    markers = {c.marker for c in response.citations}
    direction = "rtl" if response.language == "ar" else "ltr"
    parts = [f'<div class="msg bot" dir="{direction}">']
    if response.notice and response.notice not in QUIET_REFUSALS and not response.refused:
        parts.append(f'<div class="notice" dir="auto">{inline(response.notice, _direction(response.notice))}</div>')
    css = "refusal" if response.refused else "answer"
    parts.append(f'<div class="{css}">{render_text(response.answer, msg_id, markers)}</div>')
    if response.refused and response.notice and response.notice not in QUIET_REFUSALS:
        parts.append(f'<div class="why" dir="ltr">Why · السبب: {html.escape(response.notice)}</div>')
    if response.unsupported:
        label = "Not supported by the cited passages · غير مدعوم بالمصادر"
        sentences = "".join(
            f'<li dir="{_direction(s)}">{inline(s, _direction(s), markup=False)}</li>' for s in response.unsupported
        )
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
    if detect_language(question or "") == "ar":
        text = f"حدث خطأ أثناء الإجابة ({type(exc).__name__}). حاول مرة أخرى."
    else:
        text = f"Something went wrong while answering ({type(exc).__name__}). Please try again."
    return f'<div class="msg bot"><div class="notice error">{render_text(text, markup=False)}</div></div>'


# -- handlers ----------------------------------------------------------------------------

def _highlight_terms(assistant: Assistant, response: AnswerResponse, question: str) -> set[str]:
    """Question words plus every spelling of the names it mentions (أكاش also marks Akash)."""
    query = response.query or question
    try:
        extra = assistant.retriever.snapshot().aliases.expand(query)
    except Exception:  # noqa: BLE001 - highlighting is a nicety; the answer is shown regardless
        extra = []
    return question_terms(query, extra)


def chat_turn(assistant: Assistant, question: str, display: list | None, turns: list | None, top_k: int,
              show_sources: bool) -> Iterator[tuple[list, list, str]]:
    """One exchange: stream the answer into the display, then the checked answer with sources.

    ``turns`` is the plain-text conversation (what the retriever and the LLM
    see); ``display`` is the HTML shown. Yields (display, turns, textbox value).
    """
    display = list(display or [])
    turns = list(turns or [])
    question = question if isinstance(question, str) else ""
    display.append({"role": "user", "content": render_user(question, assistant.settings.max_question_chars)})
    display.append({"role": "assistant", "content": render_streaming("")})
    yield list(display), turns, ""
    msg_id = f"m{next(_ids)}"
    try:
        streamed = ""
        final: AnswerResponse | None = None
        for event in answer_stream(assistant, question, turns, k=int(top_k or assistant.settings.top_k)):
            if event.kind == "token":
                streamed += event.text
                display[-1] = {"role": "assistant", "content": render_streaming(streamed)}
                yield list(display), turns, ""  # a copy per step: each one is a snapshot
            elif event.response is not None:
                final = event.response
        if final is None:
            raise RuntimeError("no answer")
        terms = _highlight_terms(assistant, final, question)
        display[-1] = {"role": "assistant", "content": render_response(final, question, show_sources, msg_id, terms)}
        if final.notice not in QUIET_REFUSALS:
            turns += [{"role": "user", "content": question}, {"role": "assistant", "content": final.answer}]
    except Exception as exc:  # the app must survive any request; the trace goes to the server log only
        log.exception("chat request failed")
        display[-1] = {"role": "assistant", "content": render_error(exc, question)}
    yield display, turns[-12:], ""


def parse_history(history: Any) -> list[dict[str, str]]:
    """History from a list or a JSON string of {"role", "content"} dicts; anything else is ignored."""
    if isinstance(history, str):
        try:
            history = json.loads(history) if history.strip() else []
        except json.JSONDecodeError:
            history = []
    if not isinstance(history, list):
        return []
    return [{"role": str(t.get("role", "user")), "content": str(t.get("content", ""))}
            for t in history if isinstance(t, dict) and t.get("content")]


def _top_k(value: Any, default: int) -> int:
    try:
        return max(1, min(int(value), 20))
    except (TypeError, ValueError):
        return default


def _api_error(exc: BaseException) -> dict[str, Any]:
    log.exception("api request failed")
    return {"answer": "", "error": type(exc).__name__, "refused": True, "citations": [], "unsupported": [], "notice": "error"}


def api_response(assistant: Assistant, question: str, history: Any = None, top_k: Any = 5) -> dict[str, Any]:
    """JSON answer for programs: {answer, language, backend, refused, citations, unsupported, notice, ...}."""
    try:
        k = _top_k(top_k, assistant.settings.top_k)
        return answer(assistant, str(question or ""), parse_history(history), k=k).to_json()
    except Exception as exc:  # noqa: BLE001 - logged by _api_error; the caller gets JSON, never a trace
        return _api_error(exc)


def api_stream(assistant: Assistant, question: str, history: Any = None, top_k: Any = 5) -> Iterator[dict[str, Any]]:
    """Partial answers as they are generated, then the full JSON result with ``done: True``."""
    streamed = ""
    try:
        k = _top_k(top_k, assistant.settings.top_k)
        for event in answer_stream(assistant, str(question or ""), parse_history(history), k=k):
            if event.kind == "token":
                streamed += event.text
                yield {"answer": streamed, "done": False}
            elif event.response is not None:
                yield {**event.response.to_json(), "done": True}
    except Exception as exc:  # noqa: BLE001 - logged by _api_error; the caller gets JSON, never a trace
        yield {**_api_error(exc), "done": True}


def reingest(settings: Settings) -> str:
    """Run an incremental ingest from the UI; a summary or a readable error."""
    from assistant.indexing import run_ingest

    try:
        return run_ingest(settings, progress=False, log=lambda m: None, lock_timeout=1).to_text()
    except Exception as exc:
        log.exception("re-ingest failed")
        return f"Re-ingest failed · فشلت إعادة الفهرسة: {exc}"


# -- page ------------------------------------------------------------------------------------

def _header(label: str) -> str:
    return (
        '<div class="app-title">'
        '<h1><span dir="rtl" lang="ar">مساعد لامركزية الذكاء الاصطناعي</span>'
        '<span class="en" dir="ltr" lang="en">Decentralized AI assistant</span></h1>'
        '<p dir="rtl" lang="ar">اسأل بالعربية أو بالإنجليزية عن سحابات <bdi>GPU</bdi> وأسواق الحوسبة ومشاريع مثل '
        '<bdi>Akash</bdi> و<bdi>Render</bdi>؛ كل إجابة تذكر مصادرها.</p>'
        '<p dir="ltr" lang="en">Ask in Arabic or English about GPU clouds, compute markets and projects such as Akash or Render; '
        "every answer cites its passages.</p>"
        f'<span class="badge" id="backend-badge" dir="ltr">Answers · يجيب: <b>{html.escape(label)}</b></span></div>'
    )


def theme() -> gr.themes.Base:
    """Gradio's default look with system fonts only (no font download)."""
    return gr.themes.Default(
        font=[gr.themes.Font(name) for name in FONT_STACK],
        font_mono=[gr.themes.Font("DejaVu Sans Mono"), gr.themes.Font("monospace")],
    )


def build_ui(settings: Settings, assistant: Assistant, allow_reingest: bool = False) -> gr.Blocks:
    """The page: chat, examples, settings, who answers; plus the /ask and /chat API."""
    with gr.Blocks(title="مساعد لامركزية الذكاء الاصطناعي · Decentralized AI assistant", analytics_enabled=False) as demo:
        gr.HTML(_header(assistant.label))
        turns = gr.State([])
        chatbot = gr.Chatbot(
            elem_id="chat", height=600, label="المحادثة · Chat",
            render_markdown=False, sanitize_html=True, latex_delimiters=[], allow_tags=False,
            buttons=[], feedback_options=None, group_consecutive_messages=False,
            placeholder='<div dir="rtl" lang="ar">اكتب سؤالك بالأسفل أو جرّب أحد الأمثلة.</div>'
                        '<div dir="ltr" lang="en">Type a question below or try an example.</div>',
        )
        with gr.Row(equal_height=True):
            box = gr.Textbox(placeholder="اكتب سؤالك… · Type your question…", show_label=False, scale=8,
                             elem_id="question", max_lines=6, autofocus=True)
            send = gr.Button("اسأل · Ask", variant="primary", scale=1, min_width=110, elem_id="ask")
            clear = gr.Button("مسح · Clear", scale=1, min_width=110, elem_id="clear")
        gr.Markdown("أمثلة · Examples", elem_classes=["examples-label"])
        with gr.Row(elem_classes=["examples", "ar"]):
            ar_buttons = [(gr.Button(q, size="sm"), q) for q in EXAMPLES_AR]
        with gr.Row(elem_classes=["examples", "en"]):
            en_buttons = [(gr.Button(q, size="sm"), q) for q in EXAMPLES_EN]
        with gr.Accordion("الإعدادات · Settings", open=False):
            top_k = gr.Slider(1, 10, value=min(settings.top_k, 10), step=1, label="عدد المقاطع · Passages retrieved (top-k)")
            show_sources = gr.Checkbox(value=True, label="عرض المصادر · Show sources")
            gr.Textbox(value=assistant.label, label="من يجيب · Backend", interactive=False)
            if allow_reingest:
                reingest_button = gr.Button("إعادة الفهرسة · Re-ingest corpus")
                reingest_out = gr.Textbox(label="Ingest summary · ملخص الفهرسة", interactive=False)
                reingest_button.click(lambda: reingest(settings), None, reingest_out, api_name=False)

        outputs = [chatbot, turns, box]

        def respond(question, display, state, k, sources):
            yield from chat_turn(assistant, question, display, state, k, sources)

        def example(question: str):
            def run(display, state, k, sources):
                yield from chat_turn(assistant, question, display, state, k, sources)
            return run

        for button, question in ar_buttons + en_buttons:  # an example runs on click, like a typed question
            button.click(example(question), [chatbot, turns, top_k, show_sources], outputs, api_name=False)
        box.submit(respond, [box, chatbot, turns, top_k, show_sources], outputs, api_name=False)
        send.click(respond, [box, chatbot, turns, top_k, show_sources], outputs, api_name=False)
        clear.click(lambda: ([], [], ""), None, outputs, api_name=False)
        chatbot.clear(list, None, turns, api_name=False)

        def api_ask(question: str, history: list | str | None = None, top_k: int = 5) -> dict:
            """Answer a question with its citations (JSON); history: list or JSON string of {role, content}."""
            return api_response(assistant, question, history, top_k)

        def api_chat(question: str, history: list | str | None = None, top_k: int = 5) -> Iterator[dict]:
            """Stream an answer: partial {answer, done: false} updates, then the full JSON result with done: true."""
            yield from api_stream(assistant, question, history, top_k)

        gr.api(api_ask, api_name="ask")
        gr.api(api_chat, api_name="chat")
    return demo


def exposure_warning(settings: Settings) -> str | None:
    """A warning when the app listens beyond this machine without a login."""
    host = settings.app_host
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    if loopback or (settings.app_username and settings.app_password):
        return None
    return (f"warning: listening on {host} without a login: anyone who can reach this address can use "
            "the assistant. Set APP_USERNAME and APP_PASSWORD, or bind to 127.0.0.1.")


def launch(settings: Settings, assistant: Assistant | None = None, *, share: bool = False, allow_reingest: bool = False,
           block: bool = True) -> gr.Blocks:
    """Queue, optional login, launch; returns the Blocks (already serving when ``block`` is False)."""
    assistant = assistant or build_assistant(settings)
    demo = build_ui(settings, assistant, allow_reingest)
    demo.queue(default_concurrency_limit=settings.app_concurrency, max_size=256)
    auth = (settings.app_username, settings.app_password) if settings.app_username and settings.app_password else None
    demo.launch(
        server_name=settings.app_host,
        server_port=settings.app_port,
        share=share,
        auth=auth,
        auth_message="مساعد لامركزية الذكاء الاصطناعي · Decentralized AI assistant" if auth else None,
        prevent_thread_lock=not block,
        show_error=False,
        inbrowser=False,
        quiet=True,
        theme=theme(),
        css=CSS,
        head=HEAD,
        footer_links=["api"],
    )
    return demo

