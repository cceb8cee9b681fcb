"""The web UI without a browser: rendering (escaping, direction, marker links, refusal),
the chat handler (streaming, history, errors, limits), app.py's flags, and the API through
gradio_client against an app served in-process on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from html.parser import HTMLParser

import pytest
from conftest import CORPUS, ROOT, make_settings

from assistant.answer import AnswerResponse, Assistant, StreamEvent
from assistant.grounding import Citation
from assistant.indexing import run_ingest
from assistant.procs import free_port
from assistant.ui import (
    chat_turn,
    highlight,
    inline,
    render_response,
    render_text,
    render_user,
)

FIXTURES = ROOT / "tests" / "fixtures_ui"
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
ALLOWED_TAGS = {"div", "p", "ul", "li", "bdi", "a", "b", "mark", "details", "summary", "span"}


class Tags(HTMLParser):
    """Every element and attribute a browser would build from the HTML."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def names(self) -> set[str]:
        return {t for t, _ in self.tags}

    def plain(self) -> str:
        return "".join(self.text)


def _citation(marker: int, text: str, source: str = "projects/x.md") -> Citation:
    return Citation(marker=marker, id=f"x#{marker}", source=source, section="S", start_line=3, end_line=4, text=text)


# -- rendering -----------------------------------------------------------------------

def test_corpus_and_model_text_is_escaped_and_shown_as_text() -> None:
    response = AnswerResponse(answer=f"Answer {XSS} [1]\n- تعتمد شبكة {XSS} على المزاد [1]", language="en", backend="openai",
                              citations=[_citation(1, f"passage {XSS}", source=f"x{XSS}.md")], unsupported=[f"bad {XSS}"],
                              notice=f"note {XSS}")
    markup = render_response(response, "question <b>", msg_id="t")
    parsed = Tags(markup)
    assert parsed.names() <= ALLOWED_TAGS, parsed.names() - ALLOWED_TAGS
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
    # The text a reader sees still contains the characters, in the answer, the passage, the warning and the notice.
    assert parsed.plain().count("<script>window.__xss=1</script>") == 6
    assert "&<bdi>" not in markup and "&lt;script&gt;" in markup


def test_user_text_is_never_interpreted() -> None:
    parsed = Tags(render_user('<img src=x onerror="alert(1)"> **not bold**\n- not a list'))
    assert parsed.names() <= {"div", "p", "bdi"}
    assert '<img src=x onerror="alert(1)"> **not bold**' in parsed.plain()


def test_direction_per_paragraph_and_bdi_isolation() -> None:
    markup = render_text("تعتمد شبكة Akash Network على Cosmos SDK. [1]\nAkash (أكاش) uses reverse auctions [1].", "m", {1})
    arabic, english = markup.split("</p>")[:2]
    assert arabic.startswith('<p dir="rtl"') and english.startswith('<p dir="ltr"')
    assert "<bdi>Akash Network</bdi>" in arabic
    assert "<bdi>Cosmos SDK</bdi>." in arabic  # the sentence's period stays outside the Latin isolate
    assert 'href="#src-m-1"' in arabic and "<bdi>أكاش</bdi>" in english


def test_a_latin_name_with_accented_letters_is_one_isolate() -> None:
    """"Snøhetta" cut at its "ø" was laid out in pieces inside Arabic text ("hettaøSn")."""
    markup = render_text("صمم المبنى مكتب العمارة النرويجي Snøhetta (سنوهيتا) مع Société Générale.", "m", set())
    assert "<bdi>Snøhetta</bdi>" in markup and "<bdi>Société Générale</bdi>" in markup


def test_a_title_with_a_colon_is_one_isolate_and_a_list_of_names_is_not() -> None:
    """An English refusal naming the Arabic article: the title and its subtitle, isolated apart, were laid out left
    to right, subtitle first; names listed with commas keep the text's own order, each isolated alone."""
    english = inline("The documents cover: لامركزية الذكاء الاصطناعي: نظرة عامة, Akash Network (شبكة أكاش).", "ltr")
    assert "<bdi>لامركزية الذكاء الاصطناعي: نظرة عامة</bdi>," in english and "<bdi>شبكة أكاش</bdi>" in english
    arabic = inline("يغطي المقال Decentralizing AI: An Overview، ومشاريع مثل Akash، Render - Solana و io.net.", "rtl")
    assert "<bdi>Decentralizing AI: An Overview</bdi>،" in arabic
    assert "<bdi>Akash</bdi>، <bdi>Render - Solana</bdi>" in arabic and "<bdi>io.net</bdi>." in arabic
    assert inline("قال: نعم", "ltr") == "<bdi>قال: نعم</bdi>" and inline("Note:x", "rtl") == "<bdi>Note</bdi>:<bdi>x</bdi>"


def test_a_markdown_image_in_a_passage_shows_its_alt_text() -> None:
    from assistant.ui.render import render_passage

    markup = render_passage('![لامركزية الذكاء الاصطناعي](https://example.org/cover.png "غلاف")\n\nحاليًا، يلعب التشفير دورًا.\n![](x.png)')
    assert "https://" not in markup and "![" not in markup and "x.png" not in markup
    assert "لامركزية الذكاء الاصطناعي" in markup and markup.count("<div") == 2


def test_quote_list_items_get_their_own_direction() -> None:
    markup = render_text("From the sources:\n- Akash uses auctions [1]\n- تعتمد أكاش على المزاد العكسي [1]", "q", {1})
    items = [attrs.get("dir") for tag, attrs in Tags(markup).tags if tag == "li"]
    assert items == ["ltr", "rtl"]


def test_markers_link_to_existing_sources_only() -> None:
    response = AnswerResponse(answer="Fact [1]. Other [2].", language="en", backend="openai", citations=[_citation(1, "Fact.")])
    markup = render_response(response, "Fact?", msg_id="z")
    tags = Tags(markup).tags
    links = [a["href"] for t, a in tags if t == "a"]
    anchors = {a["id"] for t, a in tags if a.get("id")}
    assert links == ["#src-z-1"] and "src-z-1" in anchors
    assert "<bdi>[2]</bdi>" in markup  # a marker without a passage stays text


def test_sources_show_file_section_lines_and_marked_terms() -> None:
    response = AnswerResponse(answer="Akash uses reverse auctions [1].", language="en", backend="openai", query="reverse auction pricing",
                              citations=[_citation(1, "Akash offers reverse-auction pricing.", source="projects/akash-network.md")])
    markup = render_response(response, "reverse auction pricing")
    assert "projects/akash-network.md" in markup and "lines" in markup and "3–4" in markup
    assert "<details" in markup and "<mark>pricing</mark>" in markup


def test_converted_sources_show_pages_or_no_lines() -> None:
    """A PDF passage is found by page; a Word or HTML passage's lines are the converted text's, so none are shown."""
    pdf = Citation(marker=1, id="r#1", source="report.pdf", section="", start_line=40, end_line=52, text="نص",
                   kind="pdf", page_start=3, page_end=4)
    docx = Citation(marker=2, id="n#1", source="notes.docx", section="S", start_line=7, end_line=9, text="text", kind="docx")
    for language, pages in (("en", "pp. "), ("ar", "ص ")):
        markup = render_response(AnswerResponse(answer="x [1] [2]", language=language, backend="openai", citations=[pdf, docx]), "q")
        assert pages in markup and '<span dir="ltr">3–4</span>' in markup
        assert "40" not in markup and "52" not in markup and "7–9" not in markup
        assert "lines" not in markup and "السطور" not in markup


def test_refusal_shows_no_sources_and_says_why() -> None:
    response = AnswerResponse(answer="The documents here do not cover this question.", language="en", backend="extractive",
                              status="refused", reason="off-topic: relevance -0.70 < 0.5", citations=[_citation(1, "x")])
    markup = render_response(response, "capital of France?", msg_id="r")
    assert 'class="src"' not in markup and "Sources" not in markup
    assert 'class="refusal"' in markup and "-0.70 &lt; 0.5" in markup and 'data-status="refused"' in markup
    assert '<details class="why"><summary>Why · السبب</summary>' in markup and "<details class=\"why\" open" not in markup  # folded


def test_unsure_answer_shows_its_notice_and_the_closest_passages() -> None:
    response = AnswerResponse(answer="From the sources:\n- Akash uses reverse auctions [1]", language="en", backend="extractive",
                              status="unsure", reason="the passages do not mention: founded",
                              notice="These passages may not answer this (they do not mention: founded). Here is what comes closest:",
                              citations=[_citation(1, "Akash uses reverse auctions.")])
    markup = render_response(response, "Who founded Akash?", msg_id="s")
    assert 'class="notice unsure"' in markup and "do not mention: founded" in markup
    assert 'data-status="unsure"' in markup and "<details" in markup and 'href="#src-s-1"' in markup


def test_unsupported_sentences_and_notice_are_visible() -> None:
    response = AnswerResponse(answer="Akash was founded on Mars [1].", language="en", backend="extractive",
                              citations=[_citation(1, "Akash uses reverse auctions.")], unsupported=["Akash was founded on Mars"],
                              notice="The language model is unavailable (timeout); here are the passages' own words instead.")
    markup = render_response(response, "q", msg_id="u")
    assert 'class="unsupported"' in markup and "غير مدعوم بالمصادر" in markup and "founded on Mars</li>" in markup
    assert 'class="notice"' in markup and "unavailable (timeout)" in markup and 'data-status="answered"' in markup


def test_highlight_matches_across_spelling_variants_and_diacritics() -> None:
    marked = highlight("تقدم تسعيرًا قائمًا على المزاد العكسي", "ما هو المزاد العكسى؟ وما التسعير؟")
    assert "<mark>المزاد</mark>" in marked and "<mark>العكسي</mark>" in marked
    assert "<mark>تسعيرًا</mark>" in marked  # the tanween stays inside the highlighted word
    assert "<mark>" not in highlight("Akash Network is a marketplace", "ما هي شبكة أكاش؟")
    assert "<mark>Akash</mark>" in highlight("Akash Network is a marketplace", "ما هي شبكة أكاش؟", ["akash"])


def test_bold_markup_only_from_corpus_text() -> None:
    assert inline("**English:** x", "ltr") == "<b>English:</b> x"
    assert "<b>" not in inline("**English:** x", "ltr", markup=False)


# -- the chat handler ------------------------------------------------------------------------

class _NoRetriever:
    def search(self, *args, **kwargs):
        raise AssertionError("retrieval must not run")


@pytest.fixture()
def bare_assistant(tmp_path):
    settings = make_settings(tmp_path, tmp_path, max_question_chars=50)
    return Assistant(settings, retriever=_NoRetriever())


def test_chat_streams_tokens_then_final_and_keeps_plain_history(bare_assistant, monkeypatch) -> None:
    seen_history = []

    def fake_stream(assistant, question, history=None, k=None):
        seen_history.append([dict(t) for t in history])
        yield StreamEvent("token", text="Akash ")
        yield StreamEvent("token", text="uses <b>auctions</b> [1].")
        yield StreamEvent("final", response=AnswerResponse(
            answer="Akash uses <b>auctions</b> [1].", language="en", backend="openai",
            citations=[_citation(1, "Akash uses reverse auctions.")]))

    monkeypatch.setattr("assistant.ui.app.answer_stream", fake_stream)
    steps = list(chat_turn(bare_assistant, "What is Akash?", [], [], 3, True))
    contents = [step[0][-1]["content"] for step in steps]
    assert "Akash" in contents[1] and "streaming" in contents[1] and "auctions" not in contents[1]  # first token only
    assert "streaming" not in contents[-1] and 'href="#src-' in contents[-1] and "<details" in contents[-1]
    display, turns, box = steps[-1]
    assert box == "" and [m["role"] for m in display] == ["user", "assistant"]
    assert turns == [{"role": "user", "content": "What is Akash?"},
                     {"role": "assistant", "content": "Akash uses <b>auctions</b> [1]."}]  # plain text, not our HTML

    list(chat_turn(bare_assistant, "How does it price?", display, turns, 3, False))
    assert seen_history[-1] == turns  # the follow-up sees the first exchange


def test_chat_turns_any_exception_into_a_readable_message(bare_assistant, monkeypatch) -> None:
    def broken(*args, **kwargs):
        yield StreamEvent("token", text="par")
        raise KeyError("internal detail")

    monkeypatch.setattr("assistant.ui.app.answer_stream", broken)
    display, turns, _ = list(chat_turn(bare_assistant, "ما هي شبكة أكاش؟", [], [], 5, True))[-1]
    message = display[-1]["content"]
    assert "حدث خطأ" in message and "KeyError" in message
    assert "Traceback" not in message and "internal detail" not in message and turns == []


def test_too_long_and_empty_questions_show_their_message(bare_assistant) -> None:
    display, turns, _ = list(chat_turn(bare_assistant, "What is Akash Network? " * 5, [], [], 5, True))[-1]
    assert "too long" in display[-1]["content"] and "limit is 50" in display[-1]["content"]
    assert turns == []  # a refused input is not part of the conversation
    display, _, _ = list(chat_turn(bare_assistant, "   ", display, [], 5, True))[-1]
    assert "Please type a question" in display[-1]["content"] and len(display) == 4


# -- app.py ---------------------------------------------------------------------------------------

def test_app_flags(monkeypatch, tmp_path) -> None:
    import app

    for key in ("APP_HOST", "APP_PORT", "LLM_BACKEND", "LLM_MODEL_PATH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    args = app.parse_args([])
    settings = app.settings_from(args)
    assert (settings.app_host, settings.app_port, args.share, args.allow_reingest) == ("127.0.0.1", 7860, False, False)
    assert settings.answer_backend == "extractive"
    bigger = app.settings_from(app.parse_args(["--model-path", "/models/qwen.gguf", "--port", "9000"]))
    assert bigger.llm_backend == "llamacpp" and str(bigger.llm_model_path) == "/models/qwen.gguf" and bigger.app_port == 9000
    assert app.settings_from(app.parse_args(["--backend", "openai", "--model-path", "x.gguf"])).llm_backend == "openai"


# -- served app and gradio_client -----------------------------------------------------------------

@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory):
    from assistant.ui import launch

    tmp = tmp_path_factory.mktemp("app")
    corpus = tmp / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(tmp, corpus, app_port=free_port(), app_concurrency=4)
    run_ingest(settings, progress=False, log=lambda m: None)
    demo = launch(settings, Assistant(settings), allow_reingest=True, block=False)
    try:
        yield f"http://127.0.0.1:{settings.app_port}/", demo, settings
    finally:
        demo.close()


def test_page_config_keeps_our_html_safe(running_app) -> None:
    _, demo, _ = running_app
    config = demo.get_config_file()
    chat = next(c["props"] for c in config["components"] if c["props"].get("elem_id") == "chat")
    assert chat["render_markdown"] is False and chat["sanitize_html"] is True
    assert chat["rtl"] is False and chat["latex_delimiters"] == []
    labels = [c["props"].get("value") for c in config["components"] if c["type"] == "button"]
    assert "What is Akash Network?" in labels and "ما هي شبكة أكاش؟" in labels
    assert any("Re-ingest" in str(label) for label in labels)
    apis = {d.get("api_name") for d in config["dependencies"]}
    assert {"ask", "chat"} <= apis


def test_gradio_client_gets_answer_and_citations(running_app) -> None:
    from gradio_client import Client

    client = Client(running_app[0], verbose=False)
    result = client.predict("What is Akash Network?", [], 5, api_name="/ask")
    assert result["language"] == "en" and not result["refused"]
    assert result["citations"] and any("Akash" in c["text"] for c in result["citations"])
    assert all({"marker", "source", "section", "start_line", "end_line", "text"} <= set(c) for c in result["citations"])
    history = json.dumps([{"role": "user", "content": "What is Akash Network?"}, {"role": "assistant", "content": result["answer"]}])
    follow = client.predict("وما هي آلية التسعير فيها؟", history, 5, api_name="/ask")  # history as a JSON string
    assert any("المزاد العكسي" in c["text"] for c in follow["citations"])
    refused = client.predict("What is the capital of France?", [], 5, api_name="/ask")
    assert refused["refused"] and refused["citations"] == []
    too_long = client.predict("x" * 5000, [], 5, api_name="/ask")
    assert too_long["refused"] and "too long" in too_long["answer"]


def test_gradio_client_streams_the_chat(running_app) -> None:
    from gradio_client import Client

    job = Client(running_app[0], verbose=False).submit("ما هي شبكة أكاش؟", [], 3, api_name="/chat")
    updates = list(job)
    final = job.result(timeout=60)
    assert final["done"] is True and final["language"] == "ar" and final["citations"]
    assert len(updates) >= 2 and any(u.get("done") is False for u in updates)


def test_reingest_button_adds_a_new_file_that_the_app_then_cites(running_app) -> None:
    from gradio_client import Client

    from assistant.ui import reingest

    url, _, settings = running_app
    shutil.copy(FIXTURES / "xss.md", settings.corpus_dir / "xss.md")
    summary = reingest(settings)
    assert "added 1" in summary and "failed 0" in summary
    result = Client(url, verbose=False).predict("What is the zebrafrost compute market?", [], 3, api_name="/ask")
    assert result["citations"][0]["source"] == "xss.md" and "<script>" in result["citations"][0]["text"]


def test_exposure_warning_only_without_login_beyond_loopback(built_settings) -> None:
    from assistant.ui import exposure_warning

    assert exposure_warning(built_settings) is None  # 127.0.0.1 by default
    exposed = built_settings.model_copy(update={"app_host": "0.0.0.0"})
    assert "APP_USERNAME" in exposure_warning(exposed)
    assert exposure_warning(exposed.model_copy(update={"app_username": "u", "app_password": "p"})) is None


def test_login_is_required_when_configured(built_settings) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AuthenticationError

    from assistant.ui import launch

    settings = built_settings.model_copy(update={"app_port": free_port(), "app_username": "team", "app_password": "s3cret"})
    demo = launch(settings, block=False)  # builds its own assistant
    url = f"http://127.0.0.1:{settings.app_port}/"
    try:
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(url + "config", timeout=10)
        assert denied.value.code == 401
        with pytest.raises(AuthenticationError):
            Client(url, verbose=False).predict("What is Akash Network?", [], 5, api_name="/ask")
        with pytest.raises(ValueError, match="Could not login"):
            Client(url, auth=("team", "wrong"), verbose=False)
        result = Client(url, auth=("team", "s3cret"), verbose=False).predict("What is Akash Network?", [], 5, api_name="/ask")
        assert result["citations"]
    finally:
        demo.close()
