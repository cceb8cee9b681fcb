"""The chat in a real browser (Debian Chromium via Playwright): direction, sources, no script runs."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from conftest import CORPUS, ROOT, free_port, serving

SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
XSS_DOC = """---
title: Security test passage
---

# Zebrafrost GPU market

The zebrafrost compute market pays GPU owners in tokens. <script>window.__xss=1</script>
It also shows <img src=x onerror="window.__xss=2"> as plain text, never as an image.
"""


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("browser")
    corpus = tmp / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "xss.md").write_text(XSS_DOC, encoding="utf-8")
    port = free_port()
    env = {**os.environ, "LLM_BACKEND": "extractive", "STORE_DIR": str(tmp / "store"), "CORPUS_DIR": str(corpus)}
    url = f"http://127.0.0.1:{port}/"
    with open(tmp / "app.log", "w") as log:  # first run builds the store: allow 180 s
        with serving([sys.executable, str(ROOT / "app.py"), "--port", str(port)], url, 180, cwd=tmp, env=env, stdout=log):
            yield url


@pytest.fixture(scope="module")
def page(app_url: str):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.dialogs = []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        page.goto(app_url, wait_until="load", timeout=60_000)
        page.locator("#question textarea").wait_for(timeout=60_000)
        yield page
        browser.close()


def ask(page, question: str, expect: str) -> None:
    """Type a question, press Enter, wait until the final answer (with its sources) is shown."""
    count = page.locator("#chat .msg").count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        """([n, expect]) => { const m = document.querySelectorAll('#chat .msg');
             const last = m[m.length - 1];
             return m.length >= n + 2 && last.querySelector('.answer, .refusal') && last.innerText.includes(expect); }""",
        arg=[count, expect], timeout=60_000,
    )


def last_answer_direction(page) -> str:
    return page.evaluate(
        """() => { const m = document.querySelectorAll('#chat .msg');
             const p = m[m.length - 1].querySelector('.answer p, .answer li, .refusal p');
             return p ? getComputedStyle(p).direction : 'missing: ' + m[m.length - 1].innerHTML.slice(0, 400); }"""
    )


def test_arabic_then_english_in_one_chat(page) -> None:
    ask(page, "ما هي شبكة أكاش؟", "المزاد العكسي")
    assert last_answer_direction(page) == "rtl"
    sources = page.locator("#chat .msg").last.locator(".sources")
    assert "akash-network.md" in sources.inner_text()
    page.screenshot(path=str(SHOTS / "arabic-answer.png"), full_page=True)

    ask(page, "Which blockchain did Render Network move to?", "Solana")
    assert last_answer_direction(page) == "ltr"
    assert "render-network.md" in page.locator("#chat .msg").last.locator(".sources").inner_text()
    page.screenshot(path=str(SHOTS / "english-answer.png"), full_page=True)


def test_corpus_html_is_shown_as_text_and_never_runs(page) -> None:
    ask(page, "What is the zebrafrost compute market?", "zebrafrost")
    page.screenshot(path=str(SHOTS / "xss-passage.png"), full_page=True)
    last = page.locator("#chat .msg").last
    assert "<script>" in last.inner_text()  # shown as characters
    assert page.evaluate("() => window.__xss") is None
    assert page.dialogs == []
    assert last.locator("script").count() == 0 and last.locator("img").count() == 0


def test_example_runs_on_click_and_follow_up_uses_history(page) -> None:
    page.get_by_role("button", name="Which blockchain do io.net and Nosana use?").click()
    page.wait_for_function(
        "() => { const m = document.querySelectorAll('#chat .msg'); const l = m[m.length - 1];"
        " return l && l.querySelector('.answer') && l.innerText.includes('Solana'); }",
        timeout=60_000,
    )
    ask(page, "وعلى أي بلوك تشين يعتمد؟", "Solana")
    assert last_answer_direction(page) == "rtl"
    page.screenshot(path=str(SHOTS / "example-and-follow-up.png"), full_page=True)
