"""Reading the corpus folder into documents, one bad file never stopping the rest.

Each file is validated before it is trusted: binary content, invalid UTF-8,
empty text, malformed YAML front matter, oversized files, unsupported
extensions, unreadable or encrypted PDF and Word files, and links that leave
the corpus are reported by name and skipped, so a single broken file can
neither abort an ingest nor wipe what is stored. PDF, Word and HTML files are
turned into Markdown first (``assistant.formats``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistant.formats import CONVERTERS, ConversionCache, ConversionError, convert

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + tuple(CONVERTERS)
# Files that describe the corpus rather than belong to it.
NOT_INDEXED = {"README.md", "readme.md"}
TITLE_LINE_CHARS = 120  # a first line longer than this is a paragraph, not a title
_SENTENCE_END = frozenset(".!?؟…:;,،؛")
_FIRST_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)  # a Markdown level-1 heading
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


class CorpusFileError(ValueError):
    """A corpus file that cannot be indexed; the message says why, for a person."""


@dataclass(frozen=True)
class SourceDocument:
    """A corpus file after validation: its body, its front matter and where the body starts."""

    source: str  # path relative to the corpus root, POSIX separators: the stable key of the file
    text: str  # body without front matter
    meta: dict[str, Any] = field(default_factory=dict)
    body_start_line: int = 1  # 1-based line of the file on which ``text`` begins
    kind: str = "text"  # "text" (lines are the file's own), or the format converted: "pdf", "docx", "html"
    page_lines: tuple[int, ...] = ()  # a PDF's: 1-based line of ``text`` on which each page begins

    @property
    def title(self) -> str:
        """Title for citations and for "the documents cover ...": front matter ``title`` or ``name``, else the
        first ``# heading`` (a Markdown file dropped in without front matter), else a plain-text file's title
        line (``_first_line_title``), else the file name."""
        for key in ("title", "name"):
            value = self.meta.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        heading = _FIRST_HEADING.search(self.text)
        if heading:
            return heading.group(1).strip()
        first = _first_line_title(self.text) if Path(self.source).suffix.lower() == ".txt" else None
        return first or Path(self.source).stem

    @property
    def aliases(self) -> list[str]:
        """Other spellings of the document's subject (any script), for lexical search."""
        return _string_list(self.meta.get("aliases"))

    @property
    def terms(self) -> list[list[str]]:
        """Other names the document uses, each with its spellings: ``terms: {Cosmos SDK: [كوزموس]}``."""
        raw = self.meta.get("terms")
        if not isinstance(raw, dict):
            return []
        return [[str(name).strip(), *_string_list(spellings)] for name, spellings in raw.items() if str(name).strip()]


def _first_line_title(text: str) -> str | None:
    """A plain-text file's first line when it reads as a title: short, not ending as a sentence does, and set
    apart from the text below it by a blank line (the way a .txt article is written without markup)."""
    lines = text.lstrip("\ufeff\n\r\t ").split("\n")
    if len(lines) < 3 or lines[1].strip() or not any(line.strip() for line in lines[2:]):
        return None
    first = lines[0].strip()
    if not first or len(first) > TITLE_LINE_CHARS or first[-1] in _SENTENCE_END:
        return None
    return first


@dataclass
class CorpusScan:
    """Result of reading a corpus folder: good documents and named failures."""

    documents: list[SourceDocument]
    failures: list[tuple[str, str]]  # (source, reason)


def _string_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return []


def split_front_matter(raw: str) -> tuple[dict[str, Any], str, int]:
    """Separate YAML front matter from the body; returns (meta, body, body_start_line).

    Raises CorpusFileError when the front matter exists but is not a YAML mapping.
    """
    match = _FRONT_MATTER.match(raw)
    if not match:
        return {}, raw, 1
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise CorpusFileError(f"malformed YAML front matter{where}") from exc
    if not isinstance(meta, dict):
        raise CorpusFileError("front matter is not a YAML mapping of keys to values")
    body = raw[match.end():]
    return meta, body, raw.count("\n", 0, match.end()) + 1


def _read(path: Path, max_bytes: int, setting: str) -> bytes:
    """The file's bytes, unless it is over ``max_bytes`` (the limit ``setting`` names, for the message)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise CorpusFileError(f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit ({setting})")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise CorpusFileError("file disappeared while reading (renamed or deleted)") from exc
    except OSError as exc:
        raise CorpusFileError(f"cannot read file: {exc.strerror or exc}") from exc


def load_file(path: Path, root: Path, max_bytes: int, max_document_bytes: int | None = None,
              cache: ConversionCache | None = None) -> SourceDocument:
    """Read and validate one corpus file. Raises CorpusFileError with a readable reason.

    ``max_bytes`` bounds a text file and the text taken out of a PDF, Word or
    HTML file; ``max_document_bytes`` (default ten times that) bounds such a
    file itself, which images and fonts make larger than its text. Converted
    text is kept in ``cache`` when one is given.
    """
    source = path.relative_to(root).as_posix()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise CorpusFileError(f"unsupported file type '{path.suffix or '(none)'}'; use {', '.join(SUPPORTED_SUFFIXES)}")
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(root.resolve()):
            raise CorpusFileError("symbolic link pointing outside the corpus folder; not followed")
    if suffix in CONVERTERS:
        data = _read(path, max_document_bytes if max_document_bytes is not None else 10 * max_bytes, "MAX_DOCUMENT_MB")
        try:
            converted = convert(data, suffix, cache)
        except ConversionError as exc:
            raise CorpusFileError(str(exc)) from exc
        if len(converted.text.encode("utf-8")) > max_bytes:
            raise CorpusFileError(f"its text is over the {max_bytes / 1e6:.1f} MB limit (MAX_FILE_MB)")
        if not converted.text.strip():
            raise CorpusFileError("empty document (no text found in it)")
        return SourceDocument(source=source, text=converted.text, meta=converted.meta, kind="html" if suffix == ".htm" else suffix[1:],
                              page_lines=converted.page_lines)
    data = _read(path, max_bytes, "MAX_FILE_MB")
    if b"\x00" in data:
        raise CorpusFileError("binary content (NUL bytes); not a text document")
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusFileError(f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8") from exc
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    meta, body, start = split_front_matter(raw)
    if not body.strip():
        raise CorpusFileError("empty document (no text after the front matter)")
    return SourceDocument(source=source, text=body, meta=meta, body_start_line=start)


def scan_corpus(root: Path, max_bytes: int = 5_000_000, max_document_bytes: int | None = None,
                cache_dir: Path | None = None) -> CorpusScan:
    """Load every indexable file below ``root`` in a stable order, collecting failures by name.

    PDF, Word and HTML files are converted through a cache in ``cache_dir`` when given; its entries that no
    file of this scan used are removed at the end.
    """
    cache = ConversionCache(cache_dir) if cache_dir is not None else None
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    documents: list[SourceDocument] = []
    failures: list[tuple[str, str]] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_dir() or (rel.parent == Path(".") and rel.name in NOT_INDEXED):
            continue
        try:
            documents.append(load_file(path, root, max_bytes, max_document_bytes, cache))
        except CorpusFileError as exc:
            failures.append((rel.as_posix(), str(exc)))
    if cache is not None:
        cache.prune()
    return CorpusScan(documents=documents, failures=failures)


@dataclass(frozen=True)
class CorpusProfile:
    """How the app presents a corpus: optional front matter of the corpus folder's README.md.

    The README is not indexed, so describing the corpus there changes no
    passage. Every key is optional; without them the app names the corpus by
    its documents' titles (see ``assistant.messages.covers``)::

        ---
        title: {ar: مساعد لامركزية الذكاء الاصطناعي, en: Decentralized AI assistant}
        about: {ar: "...", en: "..."}
        examples: [ما هي شبكة أكاش؟, What is Akash Network?]
        ---
    """

    title: dict[str, str] = field(default_factory=dict)
    about: dict[str, str] = field(default_factory=dict)
    examples: tuple[str, ...] = ()


def _by_language(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v).strip() for k, v in value.items() if k in ("ar", "en") and str(v).strip()}
    return {}


def corpus_profile(root: Path) -> CorpusProfile:
    """The corpus's own title, description and examples, or empty fields (never an error)."""
    for name in sorted(NOT_INDEXED):
        path = Path(root) / name
        if path.is_file():
            try:
                meta, _, _ = split_front_matter(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, CorpusFileError):
                return CorpusProfile()
            examples = tuple(str(e).strip() for e in meta.get("examples") or [] if str(e).strip())
            return CorpusProfile(title=_by_language(meta.get("title")), about=_by_language(meta.get("about")), examples=examples)
    return CorpusProfile()
