"""UI rendering (escaping, direction, marker links, refusal) and the API through gradio_client."""

from __future__ import annotations

import shutil

import pytest

from assistant.chain import AnswerResponse, Assistant, Citation
from assistant.indexing import run_ingest
from assistant.ui import highlight, render_response, render_text
from conftest import CORPUS, free_port, make_settings

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


def _citation(marker: int, text: str) -> Citation:
    return Citation(marker=marker, id=f"x#{marker}", source="projects/x.md", section="S", start_line=3, end_line=4, text=text)


def test_corpus_and_model_text_is_escaped() -> None:
    response = AnswerResponse(answer=f"Answer {XSS} [1]", language="en", backend="extractive",
                              citations=[_citation(1, f"passage {XSS}")])
    html = render_response(response, "question", msg_id="t")
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=" in html


def test_direction_per_paragraph_and_bdi_isolation() -> None:
    html = render_text("تعتمد شبكة Akash Network على المزاد العكسي [1].\nAkash uses reverse auctions [1].", "m", {1})
    arabic, english = html.split("</p>")[:2]
    assert 'dir="rtl"' in arabic and "<bdi>Akash Network</bdi>" in arabic
    assert 'dir="ltr"' in english
    assert 'href="#src-m-1"' in arabic


def test_markers_link_to_existing_sources_only() -> None:
    response = AnswerResponse(answer="Fact [1]. Other [2].", language="en", backend="openai", citations=[_citation(1, "Fact.")])
    html = render_response(response, "Fact?", msg_id="z")
    assert 'href="#src-z-1"' in html and 'id="src-z-1"' in html
    assert 'href="#src-z-2"' not in html  # no link to a passage that does not exist


def test_refusal_shows_no_sources_and_says_why() -> None:
    response = AnswerResponse(answer="The corpus does not cover this question.", language="en", backend="extractive",
                              refused=True, notice="best similarity 0.70 < 0.78")
    html = render_response(response, "capital of France?", msg_id="r")
    assert "Sources" not in html and "Why:" in html and "0.70" in html


def test_unsupported_sentences_are_flagged() -> None:
    response = AnswerResponse(answer="Akash was founded on Mars [1].", language="en", backend="openai",
                              citations=[_citation(1, "Akash uses reverse auctions.")], unsupported=["Akash was founded on Mars"])
    html = render_response(response, "q", msg_id="u")
    assert 'class="unsupported"' in html and "founded on Mars" in html


def test_highlight_matches_across_spelling_variants() -> None:
    marked = highlight("تقدم تسعيرًا قائمًا على المزاد العكسي", "ما هو المزاد العكسى؟")
    assert "<mark>المزاد</mark>" in marked and "<mark>العكسي</mark>" in marked


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory):
    from assistant.ui import launch

    tmp = tmp_path_factory.mktemp("app")
    corpus = tmp / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(tmp, corpus, app_port=free_port(), app_concurrency=4)
    run_ingest(settings, progress=False, log=lambda m: None)
    demo = launch(settings, Assistant(settings), block=False)
    yield f"http://127.0.0.1:{settings.app_port}/"
    demo.close()


def test_gradio_client_gets_answer_and_citations(running_app: str) -> None:
    from gradio_client import Client

    client = Client(running_app, verbose=False)
    result = client.predict("What is Akash Network?", [], 5, api_name="/ask")
    assert result["language"] == "en" and not result["refused"]
    assert result["citations"] and any("Akash" in c["text"] for c in result["citations"])
    follow = client.predict("وما هي آلية التسعير فيها؟", [{"role": "user", "content": "What is Akash Network?"}], 5, api_name="/ask")
    assert any("المزاد العكسي" in c["text"] for c in follow["citations"])
    refused = client.predict("What is the capital of France?", [], 5, api_name="/ask")
    assert refused["refused"] and refused["citations"] == []
