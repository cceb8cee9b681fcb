"""The chat in a real browser (Debian Chromium via Playwright) against `python app.py`:
per-message direction, sources behind their markers, corpus and user HTML shown as text
and never run, nothing loaded from outside the app. Screenshots: artifacts/screenshots/."""

from __future__ import annotations

import os
import shutil
import sys

import pytest
from conftest import CORPUS, ROOT

from assistant.procs import free_port, serving

SHOTS = ROOT / "artifacts" / "screenshots"
FIXTURES = ROOT / "tests" / "fixtures_ui"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    """app.py as a subprocess on 127.0.0.1 (extractive backend), its store built on first run; always stopped."""
    tmp = tmp_path_factory.mktemp("browser")
    corpus = tmp / "corpus"
    shutil.copytree(CORPUS, corpus)
    shutil.copy(FIXTURES / "xss.md", corpus / "xss.md")
    port = free_port()
    env = {**os.environ, "LLM_BACKEND": "extractive", "STORE_DIR": str(tmp / "store"), "CORPUS_DIR": str(corpus),
           "APP_USERNAME": "", "APP_PASSWORD": "", "GRADIO_ANALYTICS_ENABLED": "False"}
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port)]
    # first run builds the store: allow 180 s; serving() always stops the process
    with open(tmp / "app.log", "w") as log, serving(command, url, 180, cwd=tmp, env=env, stdout=log):
        yield url
    output = (tmp / "app.log").read_text()
    assert "Answers: extractive" in output and f"http://127.0.0.1:{port}/" in output


@pytest.fixture(scope="module")
def page(app_url: str):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, timeout=WAIT_MS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(WAIT_MS)
            page.dialogs = []
            page.outside = []  # any request that leaves the app
            page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: None if r.url.startswith((app_url, "data:", "blob:")) else page.outside.append(r.url))
            page.goto(app_url, wait_until="load")
            page.locator("#question textarea").wait_for()
            yield page
        finally:
            browser.close()


def ask(page, question: str, expect: str) -> None:
    """Type a question, press Enter, wait until the final answer (not the stream) contains ``expect``."""
    count = page.locator("#chat .msg.bot").count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        """([n, expect]) => { const m = document.querySelectorAll('#chat .msg.bot'); const last = m[m.length - 1];
             return m.length > n && !last.classList.contains('streaming') && last.querySelector('.answer, .refusal')
                    && last.innerText.includes(expect); }""",
        arg=[count, expect], timeout=WAIT_MS,
    )


def last_answer(page):
    return page.locator("#chat .msg.bot").last


def direction(locator) -> str:
    return locator.evaluate("el => getComputedStyle(el).direction")


def open_source(page, marker: int = 1):
    """Click the answer's [n] marker: its passage opens below the answer and is visible."""
    from playwright.sync_api import expect

    answer = last_answer(page)
    answer.locator("a.cite", has_text=f"[{marker}]").first.click()
    source = answer.locator(f"details.src[id$='-{marker}']")
    expect(source).to_have_attribute("open", "")
    expect(source.locator(".passage")).to_be_visible()
    return source


def shoot(page, name: str) -> None:
    """A screenshot for a person to look at (the marker's flash animation finished)."""
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / name), animations="disabled")


def test_page_is_bilingual_and_loads_nothing_from_outside(page) -> None:
    # on a computer the question box has the focus, and the page was not scrolled past its header to give it
    page.wait_for_function("() => document.activeElement && document.activeElement.closest('#question')", timeout=WAIT_MS)
    assert page.evaluate("() => window.scrollY") == 0
    header = page.locator(".app-title").inner_text()
    assert "مساعد لامركزية الذكاء الاصطناعي" in header and "Decentralized AI assistant" in header
    assert "extractive" in page.locator("#backend-badge").inner_text()
    assert page.get_by_role("button", name="ما هي شبكة أكاش؟").is_visible()
    assert page.outside == []


def test_arabic_then_english_in_one_chat(page) -> None:
    ask(page, "ما هي شبكة أكاش؟", "المزاد العكسي")
    answer = last_answer(page)
    assert direction(answer.locator(".answer p, .answer li").first) == "rtl"
    bdi = answer.locator(".answer bdi").first  # the sanitizer kept our isolates
    assert bdi.evaluate("el => getComputedStyle(el).unicodeBidi") == "isolate"
    source = open_source(page, 1)
    assert "akash-network.md" in source.locator("summary").inner_text()
    passage = source.locator(".passage").inner_text()
    assert "Akash Network" in passage and "المزاد العكسي" in passage
    assert source.locator("mark").count() > 0  # the question's words are highlighted
    shoot(page, "arabic-answer.png")

    ask(page, "Which blockchain did Render Network move to?", "Render Network")
    english = last_answer(page)
    assert direction(english.locator(".answer p, .answer li").first) == "ltr"
    source = open_source(page, 1)
    assert "render-network.md" in source.locator("summary").inner_text()
    assert "سولانا" in source.locator(".passage").inner_text()
    arabic_line = source.locator(".passage > div[dir=rtl]").first
    assert direction(arabic_line) == "rtl" and direction(source.locator(".passage > div[dir=ltr]").first) == "ltr"
    # the earlier Arabic answer still reads right-to-left in the same chat
    assert direction(page.locator("#chat .msg.bot").first.locator(".answer li").first) == "rtl"
    shoot(page, "english-answer.png")
    assert page.outside == []


def test_corpus_html_is_shown_as_text_and_never_runs(page) -> None:
    ask(page, "What is the zebrafrost compute market?", "zebrafrost")
    source = open_source(page, 1)
    assert "xss.md" in source.locator("summary").inner_text()
    text = source.locator(".passage").inner_text()
    assert "<script>window.__xss=1</script>" in text and '<img src=x onerror="window.__xss=2">' in text
    shoot(page, "xss-passage.png")
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert page.dialogs == []
    assert page.evaluate("() => document.querySelectorAll('#chat script, #chat img, [onerror]').length") == 0


def test_typed_html_stays_text(page) -> None:
    question = '<img src=x onerror="window.__xss=3;alert(3)"> <b>What</b> is Akash Network?'
    ask(page, question, "Akash")
    user = page.locator("#chat .msg.user").last
    assert user.inner_text().strip() == question
    assert user.locator("img, b").count() == 0
    assert page.evaluate("() => typeof window.__xss") == "undefined" and page.dialogs == []


def test_example_runs_on_click_and_follow_up_uses_history(page) -> None:
    before = page.locator("#chat .msg.bot").count()
    page.get_by_role("button", name="Which blockchain do io.net and Nosana use?").click()
    page.wait_for_function(
        """n => { const m = document.querySelectorAll('#chat .msg.bot'); const l = m[m.length - 1];
             return m.length > n && !l.classList.contains('streaming') && l.querySelector('.answer') && l.innerText.includes('Solana'); }""",
        arg=before, timeout=WAIT_MS,
    )
    ask(page, "وعلى أي بلوك تشين يعتمد؟", "Solana")  # "it": only the history says who
    assert direction(last_answer(page).locator(".answer p, .answer li").first) == "rtl"
    shoot(page, "example-and-follow-up.png")


def test_clear_empties_the_conversation(page) -> None:
    assert page.locator("#chat .msg").count() > 0
    page.locator("#clear").click()
    page.wait_for_function("() => document.querySelectorAll('#chat .msg').length === 0", timeout=WAIT_MS)
    ask(page, "What is Akash Network?", "Akash")
    assert page.locator("#chat .msg.user").count() == 1
    assert page.outside == [] and page.dialogs == []


def test_phone_keeps_the_header_and_gives_the_answer_the_width(page, app_url: str) -> None:
    """A 390 px touch screen: no focus on load (it would open the keyboard and scroll past the header),
    and an answer nearly as wide as the screen (Gradio's margins and gutters left about 260 px)."""
    phone = page.context.browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        phone.set_default_timeout(WAIT_MS)
        phone.goto(app_url, wait_until="load")
        phone.locator("#question textarea").wait_for()
        phone.wait_for_timeout(1500)  # longer than the desktop focus takes
        assert phone.evaluate("() => window.scrollY") == 0
        assert phone.evaluate("() => document.activeElement.tagName") != "TEXTAREA"
        assert phone.locator(".app-title h1").bounding_box()["y"] >= 0
        ask(phone, "كيف تحدد شبكة أكاش أسعار الحوسبة؟", "المزاد العكسي")
        width = last_answer(phone).bounding_box()["width"]
        assert width >= 0.85 * 390, width
        phone.screenshot(path=str(SHOTS / "phone-answer.png"), animations="disabled")
    finally:
        phone.close()
