"""The Gradio app: chat, examples, settings, and the /ask and /chat API.

Wiring only: the HTML of every message comes from ``assistant.ui.render``,
the look from ``static/style.css`` (and ``static/page.css``), the marker links from
``static/cite.js`` and the question box's focus from ``static/focus.js``. The Chatbot is set up so that our HTML arrives as built:
``render_markdown=False`` (the message is our HTML, not Markdown: no Markdown
or LaTeX pass can turn text into tags), ``sanitize_html=True`` kept on as a
second line of defence, and no per-message copy button (it would copy the
HTML source). The plain-text conversation that reaches the retriever is kept
in a State, never read back from the display.

Programs use the API (no browser)::

    from gradio_client import Client

    client = Client("http://127.0.0.1:7860/")
    result = client.predict("What is Akash Network?", [], 5, api_name="/ask")  # question, history, top-k
    print(result["status"], result["answer"])   # status: answered | unsure | refused
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

import json
import logging
from collections.abc import Iterator
from importlib import resources
from typing import Any

import gradio as gr

from assistant.answer import AnswerResponse, Assistant, answer, answer_stream, build_assistant
from assistant.config import Settings
from assistant.corpus import CorpusProfile, corpus_profile
from assistant.messages import covers
from assistant.text import detect_language
from assistant.ui.render import (
    QUIET_REASONS,
    next_id,
    question_terms,
    render_error,
    render_header,
    render_response,
    render_streaming,
    render_user,
)

log = logging.getLogger(__name__)

# System fonts only (Debian: fonts-noto-core); nothing is fetched. Latin letters come
# from the first font, Arabic letters fall through to Noto Naskh Arabic.
FONT_STACK = ["Noto Sans", "Noto Naskh Arabic", "Noto Sans Arabic", "Amiri", "Segoe UI", "Tahoma", "DejaVu Sans", "sans-serif"]
MAX_TOP_K = 20  # passages a request may ask for (UI slider and API); more only dilutes the evidence
HISTORY_KEPT = 12  # turns kept in the conversation state


def _static(name: str) -> str:
    return resources.files("assistant.ui").joinpath("static", name).read_text(encoding="utf-8")


# -- handlers ----------------------------------------------------------------------------

def _highlight_terms(response: AnswerResponse, question: str) -> set[str]:
    """Stems of what the question asks about and of every spelling of the names it mentions (أكاش also marks Akash)."""
    return set(response.highlight) or question_terms(response.query or question)


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
    msg_id = next_id()
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
        terms = _highlight_terms(final, question)
        display[-1] = {"role": "assistant", "content": render_response(final, question, show_sources, msg_id, terms)}
        if final.reason not in QUIET_REASONS:
            turns += [{"role": "user", "content": question}, {"role": "assistant", "content": final.answer}]
    except Exception as exc:  # the app must survive any request; the trace goes to the server log only
        log.exception("chat request failed")
        display[-1] = {"role": "assistant", "content": render_error(exc, question)}
    yield display, turns[-HISTORY_KEPT:], ""


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
        return max(1, min(int(value), MAX_TOP_K))
    except (TypeError, ValueError):
        return default


def _api_error(exc: BaseException) -> dict[str, Any]:
    log.exception("api request failed")
    return {"answer": "", "error": type(exc).__name__, "status": "refused", "refused": True, "reason": "error",
            "citations": [], "unsupported": [], "notice": ""}


def api_response(assistant: Assistant, question: str, history: Any = None, top_k: Any = 5) -> dict[str, Any]:
    """JSON answer for programs: {answer, status, reason, notice, language, backend, citations, unsupported, ...}."""
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

def theme() -> gr.themes.Base:
    """Gradio's default look with system fonts only (no font download)."""
    return gr.themes.Default(
        font=[gr.themes.Font(name) for name in FONT_STACK],
        font_mono=[gr.themes.Font("DejaVu Sans Mono"), gr.themes.Font("monospace")],
    )


def page_texts(profile: CorpusProfile, titles: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Title and description of the page, from the corpus's README front matter, else from its titles."""
    title = {"ar": profile.title.get("ar", "مساعد المستندات"), "en": profile.title.get("en", "Document assistant")}
    about = {
        "ar": profile.about.get("ar") or f"اسأل بالعربية أو بالإنجليزية عن: {covers(titles, 'ar')}. كل إجابة تذكر مصادرها.",
        "en": profile.about.get("en") or f"Ask in Arabic or English about: {covers(titles, 'en')}. Every answer cites its passages.",
    }
    return title, about


def build_ui(settings: Settings, assistant: Assistant, allow_reingest: bool = False) -> gr.Blocks:
    """The page: chat, examples, settings, who answers; plus the /ask and /chat API."""
    profile = corpus_profile(settings.corpus_dir)
    try:
        titles = assistant.retriever.snapshot().titles
    except Exception:  # noqa: BLE001 - an unreadable store shows its error in the chat, not at start-up
        titles = []
    title, about = page_texts(profile, titles)
    with gr.Blocks(title=f"{title['ar']} · {title['en']}", analytics_enabled=False) as demo:
        gr.HTML(render_header(assistant.label, title, about))
        turns = gr.State([])
        chatbot = gr.Chatbot(
            elem_id="chat", height=600, label="المحادثة · Chat", show_label=False,  # its floating label covered the first message
            render_markdown=False, sanitize_html=True, latex_delimiters=[], allow_tags=False,
            buttons=[], feedback_options=None, group_consecutive_messages=False,
            placeholder='<div dir="rtl" lang="ar">اكتب سؤالك بالأسفل أو جرّب أحد الأمثلة.</div>'
                        '<div dir="ltr" lang="en">Type a question below or try an example.</div>',
        )
        with gr.Row(equal_height=True):
            box = gr.Textbox(placeholder="اكتب سؤالك… · Type your question…", show_label=False, scale=8, min_width=300,
                             elem_id="question", max_lines=6)  # narrower screens: the buttons wrap below
            send = gr.Button("اسأل · Ask", variant="primary", scale=1, min_width=110, elem_id="ask")
            clear = gr.Button("مسح · Clear", scale=1, min_width=110, elem_id="clear")
        buttons = _example_buttons(profile.examples)
        with gr.Accordion("الإعدادات · Settings", open=False):
            top_k = gr.Slider(1, MAX_TOP_K, value=min(settings.top_k, MAX_TOP_K), step=1, label="عدد المقاطع · Passages retrieved (top-k)")
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

        for button, question in buttons:  # an example runs on click, like a typed question
            button.click(example(question), [chatbot, turns, top_k, show_sources], outputs, api_name=False)
        box.submit(respond, [box, chatbot, turns, top_k, show_sources], outputs, api_name=False)
        send.click(respond, [box, chatbot, turns, top_k, show_sources], outputs, api_name=False)
        clear.click(lambda: ([], [], ""), None, outputs, api_name=False)
        chatbot.clear(list, None, turns, api_name=False)
        _register_api(assistant)
    return demo


def _example_buttons(examples: tuple[str, ...]) -> list[tuple[gr.Button, str]]:
    """The corpus's example questions as buttons: an Arabic row and an English row."""
    buttons: list[tuple[gr.Button, str]] = []
    if examples:
        gr.Markdown("أمثلة · Examples", elem_classes=["examples-label"])
    for language in ("ar", "en"):
        questions = [q for q in examples if detect_language(q) == language]
        if questions:
            with gr.Row(elem_classes=["examples", language]):
                buttons += [(gr.Button(q, size="sm"), q) for q in questions]
    return buttons


def _register_api(assistant: Assistant) -> None:
    """/ask (one JSON answer) and /chat (streamed), inside the Blocks being built."""

    def api_ask(question: str, history: list | str | None = None, top_k: int = 5) -> dict:
        """Answer a question with its citations (JSON); history: list or JSON string of {role, content}."""
        return api_response(assistant, question, history, top_k)

    def api_chat(question: str, history: list | str | None = None, top_k: int = 5) -> Iterator[dict]:
        """Stream an answer: partial {answer, done: false} updates, then the full JSON result with done: true."""
        yield from api_stream(assistant, question, history, top_k)

    gr.api(api_ask, api_name="ask")
    gr.api(api_chat, api_name="chat")


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
    # Probe vectors, keyword index, calibration and embedder load while the page is built, not while
    # the first person waits for an answer (app.py has usually started this already).
    assistant.warm_up()
    demo = build_ui(settings, assistant, allow_reingest)
    demo.queue(default_concurrency_limit=settings.app_concurrency, max_size=256)
    auth = (settings.app_username, settings.app_password) if settings.app_username and settings.app_password else None
    demo.launch(
        server_name=settings.app_host,
        server_port=settings.app_port,
        share=share,
        auth=auth,
        auth_message="Login · تسجيل الدخول" if auth else None,
        prevent_thread_lock=not block,
        show_error=False,
        inbrowser=False,
        quiet=True,
        theme=theme(),
        css=_static("style.css"),
        head=f"<style>{_static('page.css')}</style>" + "".join(f"<script>{_static(name)}</script>" for name in ("cite.js", "focus.js")),
        footer_links=["api"],
    )
    return demo

