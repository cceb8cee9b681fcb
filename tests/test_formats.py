"""PDF, Word and HTML documents in the corpus: text in reading order, pages cited, broken files named.

``fixtures/formats/library.pdf`` is ``library.html`` printed by Chromium
(``chromium --headless --print-to-pdf``; Noto Naskh Arabic), a writer that
stores Arabic lines in drawing order with positional letter shapes, as many
do; ``locked.pdf`` is the same file encrypted (pypdf), ``scan.pdf`` a page
holding only a coloured box (no text layer).
"""

from __future__ import annotations

import bisect
import io
import re
import shutil
from pathlib import Path

import pytest

from assistant.corpus import CorpusFileError, load_file, scan_corpus
from assistant.formats import docx_to_text, html_to_text, pdf_to_text, reading_order, reads_backwards
from conftest import make_settings

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
PRESENTATION_FORMS = re.compile(r"[\uFB50-\uFDFF\uFE70-\uFEFF]")


def _page_of(converted, phrase: str) -> int:
    line = converted.text[: converted.text.index(phrase)].count("\n") + 1
    return bisect.bisect_right(converted.page_lines, line)


def test_pdf_stored_in_drawing_order_reads_in_reading_order_with_pages() -> None:
    converted = pdf_to_text((FIXTURES / "library.pdf").read_bytes())
    text = converted.text
    assert "افتتحت مكتبة الإسكندرية الجديدة عام 2002 على ساحل البحر المتوسط" in text
    # a Latin name and a bracket inside an Arabic line: in their place, brackets facing the right way
    assert "مكتب العمارة النرويجي Snøhetta (سنوهيتا)" in text
    assert "أرشيف الإنترنت (Internet Archive) منذ عام 2002" in text
    assert "The library also hosts a planetarium science center" in text
    assert "عبارة «بسم الله»" in text  # a ligature glyph (ﷲ) stands for three letters, kept in their order
    # larger letters in a box of a line or two: a heading, so the PDF gets sections
    assert "# مكتبة الإسكندرية الجديدة\n" in text and "\n## المجموعات والمتاحف\n" in text
    assert not PRESENTATION_FORMS.search(text)  # plain letters, as the embedder and keyword index know them
    assert converted.meta == {"title": "مكتبة الإسكندرية الجديدة"}
    assert len(converted.page_lines) == 2
    assert _page_of(converted, "افتتحت") == 1 and _page_of(converted, "تحتفظ المكتبة") == 2
    # the heading at the top of page 2 comes before the paragraph under it, and a paragraph cut into two boxes
    # (its short last line) is one paragraph again
    assert text.index("المجموعات والمتاحف") < text.index("تحتفظ المكتبة")
    assert "تتسع لألفي قارئ في وقت واحد، وقد أقيمت" in text


def test_drawing_order_is_told_by_the_article_and_undone_line_by_line() -> None:
    logical = "تعتمد الشبكة على الحوسبة اللامركزية وتوفر الموارد للمطورين في السوق"
    assert not reads_backwards(logical)
    assert reads_backwards(logical[::-1])
    assert not reads_backwards("An English page with one Arabic word: الشبكة")
    # as drawn: the Latin run at the left end of a line that belongs to an Arabic paragraph
    first, second = reading_order(["(Cosmos SDK) ىلع دمتعت", ".ةيزكرماللا ةبسوحلا ريفوتل"])
    assert first.startswith("تعتمد على") and first.endswith("(Cosmos SDK)") and second == "لتوفير الحوسبة اللامركزية."
    assert reading_order(["The note says ةكبشلا in Arabic"]) == ["The note says الشبكة in Arabic"]
    assert reading_order(["plain English stays"]) == ["plain English stays"]


def test_docx_keeps_headings_lists_tables_and_order() -> None:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.core_properties.title = "تقرير الحوسبة"
    document.add_heading("شبكات الحوسبة", level=1)
    document.add_paragraph("تعتمد Akash على المزاد العكسي لتسعير الحوسبة.")
    document.add_paragraph("سوق لامركزي", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("المشروع", "السلسلة"), ("Render", "Solana")], strict=True):
        for cell, value in zip(row.cells, cells, strict=True):
            cell.text = value
    document.add_heading("Pricing", level=2)
    document.add_paragraph("Prices are set by reverse auction.")
    buffer = io.BytesIO()
    document.save(buffer)
    converted = docx_to_text(buffer.getvalue())
    lines = [line for line in converted.text.splitlines() if line]
    assert lines == ["# شبكات الحوسبة", "تعتمد Akash على المزاد العكسي لتسعير الحوسبة.", "- سوق لامركزي",
                     "المشروع | السلسلة", "Render | Solana", "## Pricing", "Prices are set by reverse auction."]
    assert converted.meta == {"title": "تقرير الحوسبة"} and converted.page_lines == ()


def test_html_keeps_the_content_and_drops_scripts_navigation_and_link_targets() -> None:
    page = """<html><head><meta charset="windows-1256"><title>صفحة الشبكة</title><script>alert(1)</script></head>
    <body><nav>الرئيسية | اتصل بنا</nav><main><h1>شبكة أكاش</h1><p>تعتمد على <a href="https://x.example/">المزاد العكسي</a>.</p>
    <ul><li>Kubernetes</li></ul><style>p{color:red}</style></main></body></html>"""
    converted = html_to_text(page.encode("cp1256"))  # Arabic pages are often in Windows-1256
    assert converted.meta == {"title": "صفحة الشبكة"}
    assert "# شبكة أكاش" in converted.text and "تعتمد على المزاد العكسي." in converted.text
    assert "- Kubernetes" in converted.text
    for dropped in ("alert", "الرئيسية", "x.example", "color"):
        assert dropped not in converted.text


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("locked.pdf", (FIXTURES / "locked.pdf").read_bytes(), "encrypted"),
    ("scan.pdf", (FIXTURES / "scan.pdf").read_bytes(), "no text layer"),
    ("fake.pdf", b"%PDF-1.4 fake", "not a readable PDF"),
    ("broken.docx", b"PK\x03\x04 not really a zip", "not a readable Word document"),
    ("photo.jpg", b"\xff\xd8\xff\xe0 JFIF", "unsupported file type"),
])
def test_unreadable_documents_are_named_with_the_reason(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(CorpusFileError, match=reason):
        load_file(tmp_path / name, tmp_path, 5_000_000)


def test_document_size_limits(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "library.pdf", tmp_path)
    with pytest.raises(CorpusFileError, match="MAX_DOCUMENT_MB"):
        load_file(tmp_path / "library.pdf", tmp_path, 5_000_000, max_document_bytes=10_000)
    with pytest.raises(CorpusFileError, match="MAX_FILE_MB"):  # its text counts against the text limit
        load_file(tmp_path / "library.pdf", tmp_path, 200, max_document_bytes=5_000_000)


def test_conversions_are_cached_by_content_and_pruned_with_their_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.formats as formats

    corpus, cache = tmp_path / "corpus", tmp_path / "converted"
    corpus.mkdir()
    shutil.copy(FIXTURES / "library.pdf", corpus)
    first = scan_corpus(corpus, cache_dir=cache)
    assert [d.kind for d in first.documents] == ["pdf"] and len(list(cache.glob("*.json"))) == 1

    def fail(data: bytes):
        raise AssertionError("converted again although cached")

    monkeypatch.setitem(formats.CONVERTERS, ".pdf", fail)
    shutil.move(corpus / "library.pdf", corpus / "renamed.pdf")  # same bytes: found in the cache
    again = scan_corpus(corpus, cache_dir=cache)
    assert again.documents[0].text == first.documents[0].text and again.documents[0].page_lines == first.documents[0].page_lines
    (corpus / "renamed.pdf").unlink()
    (corpus / "note.md").write_text("# note\n\ntext\n", encoding="utf-8")
    scan_corpus(corpus, cache_dir=cache)
    assert list(cache.glob("*.json")) == []  # the removed file's conversion went with it


def test_converted_documents_are_searched_and_cited_by_page(tmp_path: Path) -> None:
    """An English question finds the Arabic PDF's passage; its citation gives the page, never the converted lines."""
    docx = pytest.importorskip("docx")
    from assistant.grounding import Citation
    from assistant.indexing import run_ingest
    from assistant.retrieval import Retriever

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(FIXTURES / "library.pdf", corpus)
    document = docx.Document()
    document.add_heading("Render Network", level=1)
    document.add_paragraph("انتقلت شبكة Render إلى سولانا لتحسين الأداء وتقليل التكاليف.")
    document.save(str(corpus / "render.docx"))
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 fake")
    settings = make_settings(tmp_path, corpus, chunk_size=64)  # small passages, so each page has its own
    summary = run_ingest(settings, progress=False, log=lambda m: None)
    assert [e["source"] for e in summary.errors] == ["broken.pdf"]
    retriever = Retriever(settings)

    first = retriever.search("When did the new Library of Alexandria open?").hits[0]
    assert first.doc.metadata["source"] == "library.pdf" and "2002" in first.text
    citation = Citation.from_hit(1, first)
    assert citation.locator() == "p. 1" and citation.locator(arabic=True) == "ص 1"

    archive = retriever.search("أين توجد نسخة أرشيف الإنترنت؟").hits[0]
    assert archive.doc.metadata["source"] == "library.pdf" and Citation.from_hit(1, archive).locator() == "p. 2"

    chain = retriever.search("Which blockchain did Render move to?").hits[0]
    assert chain.doc.metadata["source"] == "render.docx"
    assert Citation.from_hit(1, chain).locator() == ""  # a Word file's lines are not the reader's: no line numbers


def test_a_conversion_by_other_code_is_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache is keyed by the converter's own code too: a changed converter never serves the old text."""
    import assistant.formats as formats

    cache = formats.ConversionCache(tmp_path)
    data = (FIXTURES / "library.html").read_bytes()
    cache.convert(data, ".html")
    monkeypatch.setattr(formats, "converter_signature", lambda: "other-code")
    monkeypatch.setitem(formats.CONVERTERS, ".html", lambda raw: formats.Converted(text="new\n"))
    assert formats.ConversionCache(tmp_path).convert(data, ".html").text == "new\n"
