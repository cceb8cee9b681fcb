"""The Gradio chat: per-message direction, readable sources, and text that stays text.

Gradio's ``rtl=True`` flips a whole component, which breaks English answers in
an Arabic chat. Instead every paragraph we render carries ``dir="auto"`` (the
browser picks rtl for Arabic, ltr for English from the first strong letter),
Latin names and ``[n]`` markers inside Arabic are isolated with ``<bdi>`` so
they stay in place, and every piece of corpus text, model output or user text
is HTML-escaped before it is wrapped. The chat display is presentation only:
the plain-text conversation that reaches the retriever is kept in a State.

Programs use the API (no browser)::

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/")
    result = client.predict("What is Akash Network?", [], 5, api_name="/ask")
    print(result["answer"], [c["source"] for c in result["citations"]])
"""

from __future__ import annotations

import html
import itertools
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

import gradio as gr

from assistant.chain import AnswerResponse, Assistant, answer, answer_stream
from assistant.config import Settings
from assistant.text import detect_language, normalize, tokenize

EXAMPLES = [
    "ما هي شبكة أكاش؟",
    "إلى أي بلوك تشين انتقلت Render Network؟",
    "لماذا يصعب تحويل البيانات اللامركزية إلى توكنات؟",
    "What is Akash Network?",
    "Which blockchain do io.net and Nosana use?",
    "What does crypto do for AI training?",
]

CSS = """
.gradio-container, #chat, #chat .message, .src, .badge {
  font-family: "Noto Naskh Arabic", "Noto Sans Arabic", "Noto Sans", "DejaVu Sans", "Segoe UI", Tahoma, sans-serif;
}
#chat .message p, #chat .message li { line-height: 1.75; }
.msg p { margin: 0 0 .5em 0; unicode-bidi: plaintext; text-align: start; }
.msg bdi { unicode-bidi: isolate; }
.msg a.cite { text-decoration: none; font-weight: 600; padding: 0 .1em; }
.msg .quote-list { margin: .25em 0 .5em 0; padding-inline-start: 1.2em; }
.msg .quote-list li { unicode-bidi: plaintext; text-align: start; margin-bottom: .35em; }
.notice { border-inline-start: 4px solid #d99a00; background: rgba(217,154,0,.08); padding: .4em .7em; margin: .4em 0; border-radius: 4px; }
.unsupported { border-inline-start: 4px solid #c0392b; background: rgba(192,57,43,.08); padding: .4em .7em; margin: .4em 0; border-radius: 4px; }
.refusal { opacity: .9; }
.sources { margin-top: .6em; border-top: 1px solid rgba(128,128,128,.3); padding-top: .4em; }
.src { margin: .3em 0; }
.src summary { cursor: pointer; font-size: .92em; }
.src .meta { opacity: .75; font-size: .85em; }
.src .passage div { text-align: start; margin: .15em 0; }
.src .passage { margin: .4em 0 .2em 0; padding: .4em .6em; background: rgba(128,128,128,.08); border-radius: 4px; }
.src mark { background: #ffe58a; color: inherit; padding: 0 .1em; border-radius: 2px; }
.badge { display: inline-block; padding: .2em .7em; border-radius: 1em; background: rgba(40,110,220,.12); font-size: .9em; }
.app-title h1 { margin-bottom: .1em; }
"""

_LATIN_RUN = re.compile(r"([A-Za-z][A-Za-z0-9.\-+_/]*(?:\s+[A-Za-z0-9][A-Za-z0-9.\-+_/]*)*)")
_MARKER = re.compile(r"\[(\d+)\]")
_ids = itertools.count(1)


def _isolate(escaped: str, msg_id: str, markers: set[int]) -> str:
    """Wrap Latin runs in <bdi>, and turn [n] markers into links to their passage."""
    def marker(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n in markers:
            return f'<bdi><a class="cite" href="#src-{msg_id}-{n}" title="source {n}">[{n}]</a></bdi>'
        return f"<bdi>[{n}]</bdi>"

    parts = re.split(r"(\[\d+\])", escaped)
    out = []
    for part in parts:
        if _MARKER.fullmatch(part):
            out.append(marker(_MARKER.fullmatch(part)))
        else:
            out.append(_LATIN_RUN.sub(r"<bdi>\1</bdi>", part))
    return _bold("".join(out))


def _bold(escaped: str) -> str:
    """Markdown **bold** of the corpus, applied after escaping (so it can only add <b>)."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escaped)


def _line_dir(text: str) -> str:
    return "rtl" if detect_language(text) == "ar" else "ltr"


def paragraph(text: str, msg_id: str = "", markers: set[int] | None = None) -> str:
    """One escaped paragraph whose direction follows its own language."""
    lang = detect_language(text)
    direction = "rtl" if lang == "ar" else "ltr"
    body = _isolate(html.escape(text), msg_id, markers or set())
    return f'<p dir="{direction}" lang="{lang}">{body}</p>'


def render_text(text: str, msg_id: str = "", markers: set[int] | None = None) -> str:
    """Escaped multi-paragraph text; '- ' lines become a list, each item with its own direction."""
    blocks: list[str] = []
    items: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("- "):
            item = stripped[2:]
            lang = detect_language(item)
            items.append(f'<li dir="{"rtl" if lang == "ar" else "ltr"}">{_isolate(html.escape(item), msg_id, markers or set())}</li>')
            continue
        if items:
            blocks.append('<ul class="quote-list" dir="auto">' + "".join(items) + "</ul>")
            items = []
        if stripped:
            blocks.append(paragraph(stripped, msg_id, markers))
    if items:
        blocks.append('<ul class="quote-list" dir="auto">' + "".join(items) + "</ul>")
    return "".join(blocks)


def highlight(text: str, question: str) -> str:
    """Escape a passage and mark the words it shares with the question (after normalization)."""
    terms = {t for t in tokenize(question) if len(t) >= 2}
    out = []
    for piece in re.split(r"(\w+(?:[.\-]\w+)*)", text):
        if piece and re.match(r"\w", piece):
            norm = tokenize(piece)
            hit = bool(norm) and (norm[0] in terms or any(len(t) >= 4 and t in normalize(piece) for t in terms))
            out.append(f"<mark>{html.escape(piece)}</mark>" if hit else html.escape(piece))
        else:
            out.append(html.escape(piece))
    return "".join(out)


def render_passage(text: str, question: str) -> str:
    """A cited passage line by line, each line in its own direction, question terms marked."""
    lines = []
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        bullet = stripped.startswith(("- ", "* "))
        body = stripped[2:] if bullet else stripped
        prefix = "• " if bullet else ""
        lines.append(f'<div dir="{_line_dir(body)}">{prefix}{_bold(highlight(body, question))}</div>')
    return "".join(lines)


def render_sources(response: AnswerResponse, question: str, msg_id: str) -> str:
    """Cited passages, numbered like their markers, collapsible, with file, section and lines."""
    if not response.citations:
        return ""
    items = []
    for c in response.citations:
        section = f" › {html.escape(c.section)}" if c.section else ""
        items.append(
            f'<details class="src" id="src-{msg_id}-{c.marker}" open>'
            f'<summary><b>[{c.marker}]</b> <bdi>{html.escape(c.source)}</bdi>{section} '
            f'<span class="meta">· lines {c.start_line}–{c.end_line} · السطور</span></summary>'
            f'<div class="passage">{render_passage(c.text, question)}</div></details>'
        )
    return '<div class="sources"><div class="meta">Sources · المصادر</div>' + "".join(items) + "</div>"


def render_response(response: AnswerResponse, question: str, show_sources: bool = True, msg_id: str | None = None) -> str:
    """The full assistant message: notice, answer, unsupported flag, sources."""
    msg_id = msg_id or f"m{next(_ids)}"
    markers = {c.marker for c in response.citations}
    parts = ['<div class="msg">']
    if response.notice and response.notice not in {"empty", "too_long"} and not response.refused:
        parts.append(f'<div class="notice" dir="auto">{html.escape(response.notice)}</div>')
    css = "refusal" if response.refused else "answer"
    parts.append(f'<div class="{css}">{render_text(response.answer, msg_id, markers)}</div>')
    if response.refused and response.notice and response.notice not in {"empty", "too_long"}:
        why = html.escape(response.notice)
        parts.append(f'<div class="meta" dir="ltr">Why: {why}</div>')
    if response.unsupported:
        label = "Not supported by the cited passages · غير مدعوم بالمصادر المذكورة"
        sentences = "".join(f"<li dir=\"auto\">{html.escape(s)}</li>" for s in response.unsupported)
        parts.append(f'<div class="unsupported"><b>{label}</b><ul>{sentences}</ul></div>')
    if show_sources and not response.refused:
        parts.append(render_sources(response, question, msg_id))
    parts.append("</div>")
    return "".join(parts)


def render_user(text: str) -> str:
    return f'<div class="msg">{render_text(text)}</div>'


def _error_message(exc: BaseException, question: str) -> str:
    if detect_language(question) == "ar":
        text = f"حدث خطأ أثناء الإجابة ({type(exc).__name__}). حاول مرة أخرى."
    else:
        text = f"Something went wrong while answering ({type(exc).__name__}). Please try again."
    return f'<div class="msg"><div class="notice">{render_text(text)}</div></div>'


def chat_turn(assistant: Assistant, question: str, display: list, turns: list, top_k: int, show_sources: bool) -> Iterator[tuple[list, list, str]]:
    """One exchange: stream the answer into the display, then the checked answer with sources."""
    display = list(display or [])
    turns = list(turns or [])
    question = question or ""
    display.append({"role": "user", "content": render_user(question[: assistant.settings.max_question_chars + 200])})
    display.append({"role": "assistant", "content": '<div class="msg"><p dir="auto">…</p></div>'})
    yield display, turns, ""
    msg_id = f"m{next(_ids)}"
    try:
        streamed = ""
        final: AnswerResponse | None = None
        for event in answer_stream(assistant, question, turns, k=int(top_k)):
            if event.kind == "token":
                streamed += event.text
                display[-1] = {"role": "assistant", "content": f'<div class="msg">{render_text(streamed)}</div>'}
                yield display, turns, ""
            else:
                final = event.response
        assert final is not None
        display[-1] = {"role": "assistant", "content": render_response(final, question, show_sources, msg_id)}
        if not final.refused or final.notice not in {"empty", "too_long"}:
            turns += [{"role": "user", "content": question}, {"role": "assistant", "content": final.answer}]
    except Exception as exc:  # the app must survive any request
        display[-1] = {"role": "assistant", "content": _error_message(exc, question)}
    yield display, turns[-12:], ""


def api_response(assistant: Assistant, question: str, history: Any = None, top_k: int = 5) -> dict[str, Any]:
    """JSON answer for programs: {answer, language, backend, refused, citations, unsupported, notice}."""
    if isinstance(history, str):
        try:
            history = json.loads(history) if history.strip() else []
        except json.JSONDecodeError:
            history = []
    turns = [t for t in (history or []) if isinstance(t, dict) and "content" in t]
    try:
        return answer(assistant, str(question or ""), turns, k=max(1, min(int(top_k or 5), 20))).to_json()
    except Exception as exc:
        return {"answer": "", "error": f"{type(exc).__name__}", "refused": True, "citations": []}


def build_ui(settings: Settings, assistant: Assistant, allow_reingest: bool = False) -> gr.Blocks:
    """The page: chat, examples, settings, who answers."""
    with gr.Blocks(title="Decentralized AI assistant · مساعد لامركزية الذكاء الاصطناعي") as demo:
        gr.HTML(
            '<div class="app-title"><h1 dir="auto">مساعد لامركزية الذكاء الاصطناعي · Decentralized AI assistant</h1>'
            '<p dir="auto">اسأل بالعربية أو بالإنجليزية عن سحابات GPU وأسواق الحوسبة ومشاريع مثل <bdi>Akash</bdi> و<bdi>Render</bdi>. '
            "</p><p dir=\"ltr\">Ask in Arabic or English; answers cite the passages they come from.</p>"
            f'<span class="badge" id="backend-badge">Answers: {html.escape(assistant.label)}</span></div>'
        )
        turns = gr.State([])
        chatbot = gr.Chatbot(elem_id="chat", height=560, sanitize_html=True, render_markdown=False, label="Chat · المحادثة")
        with gr.Row():
            box = gr.Textbox(placeholder="اكتب سؤالك… · Type your question…", show_label=False, scale=8, elem_id="question", max_lines=6)
            send = gr.Button("Ask · اسأل", variant="primary", scale=1)
            clear = gr.Button("Clear · مسح", scale=1)
        with gr.Accordion("Settings · الإعدادات", open=False):
            top_k = gr.Slider(1, 10, value=settings.top_k, step=1, label="Passages (top-k) · عدد المقاطع")
            show_sources = gr.Checkbox(value=True, label="Show sources · عرض المصادر")
            gr.Textbox(value=assistant.label, label="Backend · النموذج", interactive=False)
            if allow_reingest:
                reingest = gr.Button("Re-ingest corpus · إعادة الفهرسة")
                reingest_out = gr.Textbox(label="Ingest", interactive=False)

                def do_reingest() -> str:
                    from assistant.indexing import run_ingest

                    try:
                        return run_ingest(settings, progress=False, log=lambda m: None, lock_timeout=1).to_text()
                    except Exception as exc:
                        return f"error: {exc}"

                reingest.click(do_reingest, outputs=reingest_out, api_name=False)
        gr.Markdown("Examples · أمثلة")
        with gr.Row(elem_id="examples"):
            example_buttons = [(gr.Button(q, size="sm", elem_classes=["example"]), q) for q in EXAMPLES]

        def respond(question, display, state, k, sources):
            yield from chat_turn(assistant, question, display, state, k, sources)

        outputs = [chatbot, turns, box]

        def run_example(question: str):
            def handler(display, state, k, sources):
                yield from chat_turn(assistant, question, display, state, k, sources)
            return handler

        for button, question in example_buttons:  # an example runs on click, like a typed question
            button.click(run_example(question), [chatbot, turns, top_k, show_sources], outputs, api_name=False)
        box.submit(respond, [box, chatbot, turns, top_k, show_sources], outputs, api_name=False)
        send.click(respond, [box, chatbot, turns, top_k, show_sources], outputs, api_name=False)
        clear.click(lambda: ([], [], ""), None, outputs, api_name=False)

        def ask(question: str, history: list | str | None = None, top_k: int = 5) -> dict:
            """Answer a question with its citations (JSON)."""
            return api_response(assistant, question, history, top_k)

        gr.api(ask, api_name="ask")
    return demo


def launch(settings: Settings, assistant: Assistant, *, share: bool = False, allow_reingest: bool = False, block: bool = True) -> gr.Blocks:
    """Queue, auth and launch; returns the Blocks (already running when ``block`` is False)."""
    demo = build_ui(settings, assistant, allow_reingest)
    demo.queue(default_concurrency_limit=settings.app_concurrency, max_size=256)
    auth = (settings.app_username, settings.app_password) if settings.app_username and settings.app_password else None
    demo.launch(
        server_name=settings.app_host,
        server_port=settings.app_port,
        share=share,
        auth=auth,
        prevent_thread_lock=not block,
        show_error=False,
        css=CSS,
        inbrowser=False,
        quiet=True,
    )
    return demo


def history_from(turns: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Plain-text turns (role, content) from any list of message dicts."""
    return [{"role": t.get("role", "user"), "content": str(t.get("content", ""))} for t in turns if isinstance(t, dict)]
