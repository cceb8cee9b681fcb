"""Splitting documents into passages that cite well.

Headings first, so every passage knows its section path (shown with the
citation), then long sections on sentence boundaries of both scripts with
langchain-text-splitters' recursive splitter and Arabic separators. Sizes are
measured in the embedder's own tokens so no passage overflows e5's 512-token
window. Line numbers are computed from the verbatim source slice, so a
citation's "lines 27-28" is exactly where the text sits in the file.

Line numbers are citation metadata, not content: they are part of a
passage's id (a moved passage is stored again, with its new lines), but its
vector depends only on its text, and ``text_hash`` lets ingest reuse the
stored vector of an unchanged text (``store.StoredVectors``).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.corpus import SourceDocument
from assistant.text import chunk_language

# Paragraphs, then lines (one bullet item per line stays whole), then sentences
# in both scripts, then clauses (Arabic and Latin commas), then words.
SEPARATORS = ["\n\n", "\n", ". ", "؟ ", "? ", "! ", "؛ ", "; ", "، ", ", ", " ", ""]
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
HEADING_JOIN = " › "


@dataclass(frozen=True)
class Section:
    """A run of body lines under one heading path, kept verbatim with its line range."""

    path: tuple[str, ...]
    text: str
    start_line: int  # 1-based line in the source file of text[0]


def split_sections(text: str, first_line: int = 1) -> list[Section]:
    """Cut Markdown at headings; each section's text is a verbatim slice of the body.

    Heading lines themselves are not part of any section's text (they live in
    ``path``). Headings inside fenced code blocks are ignored.
    """
    lines = text.split("\n")
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    buf: list[str] = []
    buf_start = first_line
    in_fence = False

    def flush() -> None:
        if any(line.strip() for line in buf):
            sections.append(Section(tuple(t for _, t in stack), "\n".join(buf), buf_start))

    for offset, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, match.group(2).strip()))
            buf = []
            buf_start = first_line + offset + 1
        else:
            buf.append(line)
    flush()
    return sections


def make_splitter(chunk_size: int, chunk_overlap: int, length_function: Callable[[str], int]) -> RecursiveCharacterTextSplitter:
    """The sentence-level splitter, configured for Arabic and English punctuation."""
    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=min(chunk_overlap, chunk_size // 2),
        length_function=length_function,
        add_start_index=True,
        strip_whitespace=True,
    )


def text_hash(page_content: str) -> str:
    """Key of the text a passage's vector is computed from: equal texts have equal vectors."""
    return hashlib.sha256(page_content.encode("utf-8")).hexdigest()[:32]


def chunk_id(source: str, page_content: str, metadata: dict) -> str:
    """Stable id: the source path plus a hash of the passage and all its metadata (lines, writer mark included)."""
    payload = page_content + "\x00" + json.dumps({k: v for k, v in metadata.items() if k != "id"}, sort_keys=True, ensure_ascii=False)
    return f"{source}#{hashlib.sha256(payload.encode('utf-8')).hexdigest()[:20]}"


def passage_text(doc: Document) -> str:
    """The cited text of a passage, without the title/section line that prefixes it for search."""
    heading = doc.metadata.get("heading", "")
    content = doc.page_content
    if heading and content.startswith(heading + "\n"):
        return content[len(heading) + 1:].lstrip("\n")
    return content


def section_heading(title: str, path: tuple[str, ...]) -> str:
    """"Title › Section › Subsection", without repeating a first heading that restates the title."""
    if path and path[0].startswith(title):
        return HEADING_JOIN.join(path)
    return HEADING_JOIN.join((title, *path))


def chunk_document(
    doc: SourceDocument,
    chunk_size: int,
    chunk_overlap: int,
    length_function: Callable[[str], int] = len,
) -> list[Document]:
    """Passages of one document with citation metadata; the title/section line prefixes each."""
    # The heading line is embedded with the passage, so the budget for the body shrinks by its size.
    splitter_cache: dict[int, RecursiveCharacterTextSplitter] = {}
    aliases = "; ".join(doc.aliases)
    terms = "|".join(";".join(group) for group in doc.terms)
    out: list[Document] = []
    for section in split_sections(doc.text, doc.body_start_line):
        heading = section_heading(doc.title, section.path)
        budget = max(32, chunk_size - length_function(heading) - 2)
        if budget not in splitter_cache:
            splitter_cache[budget] = make_splitter(budget, chunk_overlap, length_function)
        splitter = splitter_cache[budget]
        for piece in splitter.create_documents([section.text]):
            start = piece.metadata["start_index"]
            body = piece.page_content
            start_line = section.start_line + section.text.count("\n", 0, start)
            metadata = {
                "source": doc.source,
                "title": doc.title,
                "section": HEADING_JOIN.join(section.path),
                "heading": heading,
                "start_line": start_line,
                "end_line": start_line + body.count("\n"),
                "language": chunk_language(body),
            }
            if doc.kind != "text":  # lines are those of the converted text, not of the file: cite pages or nothing
                metadata["kind"] = doc.kind
            if doc.page_lines:
                metadata["page_start"] = bisect.bisect_right(doc.page_lines, metadata["start_line"])
                metadata["page_end"] = bisect.bisect_right(doc.page_lines, metadata["end_line"])
            if aliases:
                metadata["aliases"] = aliases
            if terms:
                metadata["terms"] = terms
            page_content = f"{heading}\n{body}"
            metadata["text_hash"] = text_hash(page_content)
            metadata["id"] = chunk_id(doc.source, page_content, metadata)
            out.append(Document(page_content=page_content, metadata=metadata, id=metadata["id"]))
    return out
