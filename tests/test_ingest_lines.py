"""Line numbers are citation metadata: moving text down a file must not re-embed it, and citations must follow."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_settings
from langchain_core.documents import Document

from assistant import store as store_mod
from assistant.chunking import passage_text
from assistant.indexing import run_ingest

QUIET = {"progress": False, "log": lambda m: None}
SECTIONS = 30


def _article(path: Path) -> None:
    sections = [f"## قسم {n}\n\nالقسم {n}: سوق الحوسبة اللامركزية يؤجر وحدات معالجة الرسومات، والرقم {n * 7}." for n in range(SECTIONS)]
    path.write_text("# مقال طويل\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")


def _stored(settings) -> list[Document]:
    got = store_mod.get_collection(settings).get(include=["metadatas", "documents"])
    return [Document(page_content=d, metadata=m, id=i) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]


def _assert_citations_match(path: Path, docs: list[Document]) -> None:
    """Every stored passage's start_line/end_line frame exactly the lines its text sits on in the file now."""
    lines = path.read_text(encoding="utf-8").split("\n")
    for doc in docs:
        body = passage_text(doc)
        start, end = doc.metadata["start_line"], doc.metadata["end_line"]
        assert body == "\n".join(lines[start - 1:end]).strip(), (start, end, body[:60])


@pytest.mark.parametrize(("inserted", "new_passages"), [("", 0), ("سطر جديد في أعلى المقال عن الحوسبة.", 1)],
                         ids=["blank-line", "text-line"])
def test_a_line_inserted_at_the_top_moves_citations_without_reembedding(tmp_path: Path, inserted: str, new_passages: int) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    article = corpus / "article.md"
    _article(article)
    settings = make_settings(tmp_path, corpus)
    first = run_ingest(settings, **QUIET)
    assert first.embedded == first.added == SECTIONS
    _assert_citations_match(article, _stored(settings))

    text = article.read_text(encoding="utf-8")
    article.write_text(text.replace("\n\n", f"\n\n{inserted}\n", 1), encoding="utf-8")  # just under the title
    again = run_ingest(settings, **QUIET)
    assert again.embedded == new_passages, f"{again.embedded} passages embedded again for a one-line shift"
    stored = _stored(settings)
    assert len(stored) == SECTIONS + new_passages  # the passages at their old lines are gone
    _assert_citations_match(article, stored)
    assert {d.metadata["start_line"] for d in stored} >= {6 + 4 * n for n in range(SECTIONS)}  # was 5 + 4n: every section moved down one line
