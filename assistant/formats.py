"""Documents that are not plain text (PDF, Word, web pages), turned into the Markdown the rest of the pipeline reads.

People drop what they have into ``corpus/``, and much of it is PDF or DOCX.
Each converter keeps what chunking and citations need: headings become
Markdown headings (sections), lists and tables stay lines, and a PDF keeps
where each page begins so a passage can be cited by page.

Arabic PDFs need care. A PDF stores glyphs, not text: many writers (browsers,
office suites) store an Arabic line in the order it is drawn, left to right,
so extracted text reads backwards ("يعانطصالا ءاكذلا"), with the letters in
their positional shapes (presentation forms) and brackets drawn mirrored.
Whether a PDF is in that visual order is read off the text itself: Arabic
writes the article ال at the start of words, so when words end in لا far more
often than they start with ال, the lines are visual, and each line holding
Arabic is put back in reading order by the Unicode bidirectional algorithm
(python-bidi). Presentation forms are then folded to plain letters (NFKC),
since the embedder and the keyword index know only those.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.cachefile import write_atomic

log = logging.getLogger(__name__)

# A PDF box set in letters at least this much larger than the body's is a heading (1.15: a 12 pt body, 14 pt heads).
HEADING_SIZE = 1.15

_ARABIC_WORD = re.compile(r"[\u0621-\u064A\u0671-\u06D3\uFB50-\uFDFF\uFE70-\uFEFF]{3,}")
# A word starting with the article (after a one-letter proclitic), and the same read backwards.
_ARTICLE_FIRST = re.compile(r"^[وفبكل]?ال")
_ARTICLE_LAST = re.compile(r"لا[وفبكل]?$")
_PRESENTATION_FORMS = re.compile(r"[\uFB00-\uFB06\uFB50-\uFDFF\uFE70-\uFEFF]+")
_BRACKETS = "()[]{}<>«»"
_MIRRORED = str.maketrans(_BRACKETS, ")(][}{><»«")
_SENTENCE_END = re.compile(r"[.!?؟:;؛。»\"')\]]\s*$")
_UNMAPPED_GLYPH = re.compile(r"\(cid:\d+\)|\x00")
_TITLE_IS_FILE_NAME = re.compile(r"\.\w{2,4}\s*$")
_STRONG_LTR = ("L", "EN")
_STRONG_RTL = ("R", "AL")


class ConversionError(ValueError):
    """A file that cannot be turned into text; the message says why, for a person."""


@dataclass(frozen=True)
class Converted:
    """A document's text as Markdown, its own title if it has one, and the line on which each PDF page starts."""

    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    page_lines: tuple[int, ...] = ()  # 1-based line of ``text`` where page 1, 2, ... begins


def _direction_counts(text: str) -> tuple[int, int]:
    rtl = ltr = 0
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in _STRONG_RTL:
            rtl += 1
        elif kind in _STRONG_LTR:
            ltr += 1
    return rtl, ltr


def reads_backwards(text: str) -> bool:
    """Whether the Arabic of ``text`` is stored in drawing order: its words end with the article ال reversed
    more often than they start with it (at least three such words, so a line of names decides nothing)."""
    words = [unicodedata.normalize("NFKC", w) for w in _ARABIC_WORD.findall(text)]
    first = sum(1 for w in words if _ARTICLE_FIRST.search(w))
    last = sum(1 for w in words if _ARTICLE_LAST.search(w))
    return last >= 3 and last > 2 * first


def _mirror_rtl_brackets(line: str) -> str:
    """Swap each bracket that sits in right-to-left text: it was drawn mirrored, and read back as the other one.
    A bracket between left-to-right text on both sides, as in "f(x)", is left alone."""
    chars = list(line)
    for i, ch in enumerate(chars):
        if ch not in _BRACKETS:
            continue
        before = next((unicodedata.bidirectional(c) for c in reversed(chars[:i]) if unicodedata.bidirectional(c) in _STRONG_LTR + _STRONG_RTL), "R")
        after = next((unicodedata.bidirectional(c) for c in chars[i + 1:] if unicodedata.bidirectional(c) in _STRONG_LTR + _STRONG_RTL), "R")
        if not (before in _STRONG_LTR and after in _STRONG_LTR):
            chars[i] = ch.translate(_MIRRORED)
    return "".join(chars)


def reading_order(lines: list[str]) -> list[str]:
    """A text box's lines stored in drawing order, back in reading order.

    The base direction is the box's, from most of its letters: a line of an
    Arabic paragraph may hold more Latin than Arabic ("(Cosmos SDK) ىلع دمتعت")
    and still reads right to left.
    """
    from bidi import get_display

    rtl, ltr = _direction_counts("".join(lines))
    if not rtl:
        return lines
    if rtl >= ltr:
        return [_mirror_rtl_brackets(get_display(line, base_dir="R")) for line in lines]
    return [get_display(line, base_dir="L") for line in lines]


def fold_presentation_forms(text: str) -> str:
    """Positional letter shapes and ligatures (ﻟ ﻻ ﬁ) as the plain letters they stand for."""
    return _PRESENTATION_FORMS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def _pdf_title(info: dict[str, Any]) -> str:
    raw = info.get("Title")
    if isinstance(raw, bytes):
        from pdfminer.utils import decode_text

        raw = decode_text(raw)
    title = str(raw or "").strip()
    # "Microsoft Word - report.docx" and the like name a file, not the document.
    return "" if _TITLE_IS_FILE_NAME.search(title) else title


@dataclass(frozen=True)
class _Box:
    glyphs: list[list[str]]  # each line's glyphs as stored, each glyph's text (a ligature's may be several letters)
    size: float  # median font size of its letters

    @property
    def lines(self) -> list[str]:
        return ["".join(line) for line in self.glyphs]

    @property
    def size_key(self) -> float:
        return round(self.size, 1)

    @property
    def short(self) -> bool:
        """One or two lines: a box that may be a heading."""
        return len(self.glyphs) <= 2

    def drawn_lines(self) -> list[str]:
        """The lines as drawn, each glyph's letters in drawing order too: a ligature such as ﷲ is mapped to its
        letters in reading order ("لله"), which reversing the line would turn around."""
        return ["".join(g[::-1] if len(g) > 1 and _direction_counts(g)[0] else g for g in line) for line in self.glyphs]


def _box(element) -> _Box:
    from pdfminer.layout import LTChar, LTTextLine

    lines = [[glyph.get_text() for glyph in line] for line in element if isinstance(line, LTTextLine)]
    lines = [[g for g in line if g != "\n"] for line in lines]
    sizes = sorted(c.size for line in element for c in line if isinstance(c, LTChar) and c.get_text().strip())
    return _Box(glyphs=[line for line in lines if "".join(line).strip()], size=sizes[len(sizes) // 2] if sizes else 0.0)


def _paragraph(box: _Box, backwards: bool) -> str:
    """A text box's lines as one paragraph: each line in reading order, a word hyphenated across lines joined."""
    lines = reading_order(box.drawn_lines()) if backwards else box.lines
    text = ""
    for line in (line.strip() for line in lines):
        if not line:
            continue
        if text.endswith("-") and text[-2:-1].isalpha() and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}" if text else line
    return fold_presentation_forms(_UNMAPPED_GLYPH.sub("", text))


def heading_levels(boxes: list[_Box]) -> dict[float, int]:
    """Markdown heading level of each font size used for short boxes in letters clearly larger than the body's.

    The body size is the one most letters of the document are set in; the
    larger sizes of boxes of one or two lines rank as levels 1, 2, 3 (the
    largest first), so a PDF gets sections, shown with its citations, as
    Markdown headings give.
    """
    weight: dict[float, int] = {}
    for box in boxes:
        weight[box.size_key] = weight.get(box.size_key, 0) + sum(len(line) for line in box.lines)
    if not weight:
        return {}
    body = max(weight, key=weight.__getitem__)
    larger = sorted({b.size_key for b in boxes if b.short and b.size >= HEADING_SIZE * body}, reverse=True)
    return {size: level for level, size in enumerate(larger[:3], start=1)}


def _join_boxes(paragraphs: list[tuple[str, int]]) -> str:
    """A page's text boxes as Markdown: headings on their own (level > 0), and a box that does not end a sentence
    going on in the next, with a space: the layout cuts a paragraph into boxes at lines mixing directions or
    at its short last line, and a sentence must stay whole to be quoted."""
    text, after_heading = "", False
    for paragraph, level in paragraphs:
        if level:
            text += ("\n\n" if text else "") + "#" * level + " " + paragraph
        elif text:
            text += "\n\n" + paragraph if after_heading or _SENTENCE_END.search(text) else " " + paragraph
        else:
            text = paragraph
        after_heading = bool(level)
    return text


def _layout_device(manager):
    """pdfminer's page layout, without the glyphs of vowel marks and other combining marks.

    A mark is drawn as a glyph of its own, above or below a letter and often
    past the end of the line (the tanween of a line's last word), and the
    layout then groups it with the line below, which can swap two lines. The
    matching drops diacritics anyway (``assistant.text``).
    """
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams

    class _WithoutMarks(PDFPageAggregator):
        def render_char(self, matrix, font, fontsize, scaling, rise, cid, ncs, graphicstate) -> float:
            try:
                text = font.to_unichr(cid)
            except Exception:  # no Unicode for this glyph: pdfminer's own handling decides
                text = ""
            if text and all(unicodedata.category(c) == "Mn" for c in text):
                return font.char_width(cid) * fontsize * scaling
            return super().render_char(matrix, font, fontsize, scaling, rise, cid, ncs, graphicstate)

    # boxes_flow=None: no column detection, whose grouping of boxes reads a right-aligned heading of an Arabic page
    # after the text under it; char_margin 4: a glyph with no Unicode (a ligature) leaves a gap, not a new box.
    return _WithoutMarks(manager, laparams=LAParams(char_margin=4.0, boxes_flow=None))


def _reading_position(box) -> tuple[float, float]:
    """Top to bottom; along a row, right to left when the box is mostly right-to-left text."""
    rtl, ltr = _direction_counts(box.get_text())
    return (-round(box.y1 / 3), -box.x1 if rtl > ltr else box.x0)


def pdf_to_text(data: bytes) -> Converted:
    """Text of each page in layout order (pdfminer.six), Arabic put back in reading order when stored as drawn."""
    from pdfminer.layout import LTTextContainer
    from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser, PDFSyntaxError
    from pdfminer.psexceptions import PSException

    pages: list[list[_Box]] = []
    meta: dict[str, Any] = {}
    try:
        parser = PDFParser(io.BytesIO(data))
        document = PDFDocument(parser)
        for info in document.info:
            title = _pdf_title(info)
            if title:
                meta["title"] = title
        manager = PDFResourceManager()
        device = _layout_device(manager)
        interpreter = PDFPageInterpreter(manager, device)
        for page in PDFPage.create_pages(document):
            interpreter.process_page(page)
            boxes = [el for el in device.get_result() if isinstance(el, LTTextContainer) and el.get_text().strip()]
            pages.append([b for b in (_box(box) for box in sorted(boxes, key=_reading_position)) if b.glyphs])
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise ConversionError("encrypted PDF (password protected); save a copy without a password") from exc
    except (PDFSyntaxError, PSException, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ConversionError(f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    if not any(pages):
        raise ConversionError("PDF has no text layer (a scan or images only); run OCR on it first")
    backwards = reads_backwards("\n".join(line for page in pages for box in page for line in box.lines))
    levels = heading_levels([box for page in pages for box in page])
    texts = [_join_boxes([(_paragraph(box, backwards), levels.get(box.size_key, 0) if box.short else 0) for box in page])
             for page in pages]
    text, page_lines, line = "", [], 1
    for page in texts:
        if text:
            text += "\n\n"
            line += 2
        page_lines.append(line)
        text += page
        line += page.count("\n")
    return Converted(text=text + "\n", meta=meta, page_lines=tuple(page_lines))


def _docx_paragraph(paragraph) -> str:
    text = paragraph.text.strip()
    if not text:
        return ""
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    level = re.fullmatch(r"Heading (\d)", style)
    if level:
        return "#" * min(int(level.group(1)), 6) + " " + text
    if style == "Title":
        return "# " + text
    if style.startswith("List"):  # List Paragraph, List Bullet, List Number: Word's list styles
        return "- " + text
    return text


def docx_to_text(data: bytes) -> Converted:
    """Paragraphs and tables in document order (python-docx); Word's heading styles become Markdown headings."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, ValueError, KeyError) as exc:
        raise ConversionError(f"not a readable Word document ({type(exc).__name__}); save it again as .docx") from exc
    except Exception as exc:  # a zip or XML error from a damaged file
        raise ConversionError(f"not a readable Word document ({type(exc).__name__}: {exc})") from exc
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in item.rows]
            blocks.append("\n".join(r for r in rows if r.strip(" |")))
        else:
            blocks.append(_docx_paragraph(item))
    meta = {"title": document.core_properties.title.strip()} if (document.core_properties.title or "").strip() else {}
    return Converted(text="\n\n".join(b for b in blocks if b) + "\n", meta=meta)


def html_to_text(data: bytes) -> Converted:
    """The page's main content as Markdown (markdownify); scripts, styles, navigation and link targets dropped."""
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(data, "html.parser")  # reads the page's declared encoding
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["head", "script", "style", "noscript", "template", "nav", "iframe", "svg"]):
        tag.decompose()
    main = soup.find("main") or soup.find("article") or soup.body or soup
    text = MarkdownConverter(heading_style="ATX", bullets="-", strip=["a", "img"]).convert_soup(main)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return Converted(text=text + "\n" if text else "", meta={"title": title} if title else {})


CONVERTERS: dict[str, Callable[[bytes], Converted]] = {
    ".pdf": pdf_to_text,
    ".docx": docx_to_text,
    ".html": html_to_text,
    ".htm": html_to_text,
}


@functools.cache
def converter_signature() -> str:
    """A digest of this module's code and the converting libraries' versions: a conversion made by other code is
    made again (a version number bumped by hand is forgotten; the cache then served an older converter's text)."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256(Path(__file__).read_bytes())
    for package in ("pdfminer.six", "python-bidi", "python-docx", "markdownify", "beautifulsoup4"):
        try:
            digest.update(f"{package}={version(package)}".encode())
        except PackageNotFoundError:
            digest.update(package.encode())
    return digest.hexdigest()[:12]


class ConversionCache:
    """Converted texts kept in a folder, keyed by the file's bytes and the converter version.

    Converting a long PDF takes a while, and a re-ingest reads every file again
    to see what changed; with the cache, an unchanged (or renamed, or moved)
    file costs a hash. Entries are JSON (nothing in them runs); a damaged one is
    converted again. ``prune`` removes the entries no conversion of this run
    asked for: files gone from the corpus, changed, or converted by other code
    (``converter_signature``).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.used: set[Path] = set()

    def convert(self, data: bytes, suffix: str) -> Converted:
        path = self.folder / f"{hashlib.sha256(data).hexdigest()[:32]}-{converter_signature()}{suffix}.json"
        self.used.add(path)
        if path.is_file():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                return Converted(text=str(raw["text"]), meta=dict(raw["meta"]), page_lines=tuple(int(n) for n in raw["page_lines"]))
            except (OSError, ValueError, KeyError, TypeError):
                log.info("Converting again: the cache entry %s is unreadable", path.name)
        converted = CONVERTERS[suffix](data)
        entry = {"text": converted.text, "meta": converted.meta, "page_lines": list(converted.page_lines)}
        write_atomic(path, lambda handle: handle.write(json.dumps(entry, ensure_ascii=False).encode("utf-8")))
        return converted

    def prune(self) -> None:
        for path in self.folder.glob("*.json") if self.folder.is_dir() else ():
            if path not in self.used:
                path.unlink(missing_ok=True)


def convert(data: bytes, suffix: str, cache: ConversionCache | None = None) -> Converted:
    """``data``, a file ending in ``suffix`` (one of ``CONVERTERS``), as text; through ``cache`` when given."""
    return cache.convert(data, suffix) if cache is not None else CONVERTERS[suffix](data)
