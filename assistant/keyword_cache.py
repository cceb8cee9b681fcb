"""The passages and their keyword index on disk, per store state: a start on an unchanged store loads them.

Building the BM25 index means tokenizing (normalizing, stemming) every
passage: most of an app's start on a large store (about 15 s of 22 s at 100k
passages). What remains is paging every passage's text and metadata out of
Chroma, which grows with the store and with the distance to a Chroma server.
Both depend only on the store state (and the index on the tokenizer), so they
are saved once per store state as a numpy ``.npz`` of plain arrays (loaded with
``allow_pickle=False``: nothing in the file can run code, even from a shared
folder) and read back by every later start until an ingest changes the state.
A start on an unchanged store then asks Chroma only for its state.

The state token is what ingest records on the collection (a fresh random
token per ingest that changed something) with the passage count, so a store
changed by an ingest, or by another program that adds or removes vectors, is
paged again. A program that rewrites passages in place without ingest is not
seen, as a running app would not see it either (``store.StoreView``).

The file sits beside the store in folder mode. In server mode it sits in this
machine's data folder (next to the record manager's file), named after the
collection's id on the server: each app instance builds it once and keeps it.
One file per collection: a file of another tokenizer or format is stale and
ignored, then replaced; an unreadable or inconsistent one is ignored the same
way (the index is rebuilt, never a crash). A file of another state (the one
before an ingest) is not used as it is, but what it holds is reused: Chroma is
asked for the ids and only the new passages' texts (``read_passages``), and
only passages whose text or aliases that state lacked are tokenized
(``build_index``), so an ingest that changed 1% of a large store pays little
more than for 1%. Writes go to a temporary file renamed over the old one
(``assistant.cachefile``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
from dataclasses import fields
from pathlib import Path

import numpy as np
from chromadb import Collection
from langchain_core.documents import Document

from assistant import lexical
from assistant import store as store_mod
from assistant.cachefile import local_dir, text_arrays, texts_from_arrays, write_npz
from assistant.chunking import chunk_id
from assistant.config import Settings
from assistant.lexical import BM25Arrays, BM25Index, TermCounts
from assistant.text import terms

log = logging.getLogger(__name__)

FORMAT = 2  # bump when BM25Arrays, the scoring, BM25Index.document_tokens or the passage arrays change
# Tokenized into the key (with the word lists and the tokenizer's code: ``_tokenizer_digest``), so an
# index saved by an older tokenizer is not reused.
TOKENIZER_PROBE = ("## Akash Network · شبكة أكاش\n\nThe networks' GPUs were auctioned; "
                   "تستخدم المنصات اللامركزية مزادات عكسية لتسعير الحوسبة 2024.")

loads = 0  # snapshots (passages and index) read from a cache file by this process (tests check a start did not rebuild)
PASSAGE_ARRAYS = ("ids", "texts", "text_offsets", "metadatas")


def cache_path(settings: Settings, collection_id: str) -> Path:
    """Where the keyword index of this collection is kept on this machine."""
    if settings.server_mode:
        return local_dir(settings) / f"keyword-index-{settings.collection}-{collection_id}.npz"
    return local_dir(settings) / f"keyword-index-{settings.collection}.npz"


def passages_and_index(settings: Settings, collection: Collection, state: str) -> tuple[list[Document], BM25Index]:
    """The passages of this store state (in snapshot order) and their BM25 index: from the cache file, else
    read from Chroma and tokenized (only what the file of the previous state lacks), then saved so the next
    start on this state skips both."""
    path = cache_path(settings, str(collection.id))
    cached, previous = _load_or_previous(path, state)
    if cached is not None:
        return cached
    docs = read_passages(collection, previous[0] if previous else None)
    index = build_index(docs, previous)
    previous = None  # the old state's passages and counts: freed before the arrays for the file are made
    save(path, state, docs, index)
    return docs, index


def build_index(docs: list[Document], previous: tuple[list[Document], TermCounts] | None = None) -> BM25Index:
    """The BM25 index of these passages, tokenizing only those the ``previous`` passages (with their term counts) lack.

    Tokenizing is most of the index's cost (about 20 s of 25 s at 100k
    passages); after an ingest that changed a few files, every other passage's
    term counts are read back from the previous state's postings.
    """
    ids = [str(d.id) for d in docs]
    # Generators: each passage's tokens are counted and dropped, never all held at once (10M tokens at 100k).
    if previous is None:
        return BM25Index(ids, (BM25Index.document_tokens(d.page_content, d.metadata) for d in docs))
    old_docs, old_counts = previous
    rows = {BM25Index.document_key(d.page_content, d.metadata): row for row, d in enumerate(old_docs)}
    found = (rows.get(BM25Index.document_key(d.page_content, d.metadata)) for d in docs)
    sources = (BM25Index.document_tokens(d.page_content, d.metadata) if row is None else row for d, row in zip(docs, found, strict=True))
    return BM25Index.from_counts(ids, old_counts.extended(sources))


def read_passages(collection: Collection, known: list[Document] | None = None) -> list[Document]:
    """Every passage of the collection in a stable order (source, start line, id), paged; with ``known``
    passages (the previous state's), only the ids are paged and the passages not known are asked for.

    The id of a passage ingest wrote is a digest of its text and metadata (``chunking.chunk_id``), so a known
    passage whose id is its own digest is that passage still; any other (a vector another program wrote,
    which it may rewrite in place) is asked for again. At 100k passages paging the ids takes 1.5 s and
    checking the digests 1.2 s, paging everything 7.3 s.
    """
    def documents(records) -> list[Document]:
        return [Document(page_content=text or "", metadata=meta, id=doc_id) for doc_id, text, meta in records]

    if known is None:
        docs = documents(store_mod.iter_records(collection, ["documents", "metadatas"]))
    else:
        by_id = {str(d.id): d for d in known if chunk_id(str(d.metadata.get("source", "")), d.page_content, d.metadata) == d.id}
        # (dict.fromkeys: paging by offset while another process writes can return an id twice)
        ids = list(dict.fromkeys(doc_id for doc_id, _, _ in store_mod.iter_records(collection, [])))
        asked = documents(store_mod.records_by_id(collection, [i for i in ids if i not in by_id], ["documents", "metadatas"]))
        by_id.update((str(d.id), d) for d in asked)
        # (an id deleted between the two reads, by an ingest running meanwhile, is left out)
        docs = [by_id[i] for i in ids if i in by_id]
    docs.sort(key=lambda d: (d.metadata.get("source", ""), d.metadata.get("start_line", 0), d.id or ""))
    return docs


def cache_key(state: str) -> dict[str, object]:
    """What a saved file must match to be used: store state, tokenizer, format.

    The passages come from the file itself, so no paging is needed to check it;
    the state token changes with every ingest that changed the store and with the count.
    """
    return {"format": FORMAT, "state": state, "tokenizer": _tokenizer_digest()}


@functools.cache
def _tokenizer_digest() -> str:
    """What decides a passage's index terms: the code that makes them, the function words, the stemmer.

    Since an ingest carries unchanged passages' counts over from the previous
    state (``build_index``), a tokenizer change this digest missed would live
    on in every later state; the probe's tokens alone would miss most changes
    to the word lists or to rules its words do not meet.
    """
    from assistant import text

    digest = hashlib.sha256(json.dumps(terms(TOKENIZER_PROBE), ensure_ascii=False).encode("utf-8"))
    digest.update(json.dumps(sorted(text.stopwords()), ensure_ascii=False).encode("utf-8"))
    digest.update(importlib.metadata.version("snowballstemmer").encode())
    for module in (text, lexical):  # normalizing and stemming; BM25Index.document_tokens
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def _json_bytes(value: object) -> np.ndarray:
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


def _from_json_bytes(array: np.ndarray) -> object:
    return json.loads(np.asarray(array, dtype=np.uint8).tobytes().decode("utf-8"))


def passage_arrays(docs: list[Document]) -> dict[str, np.ndarray]:
    """Passages as plain arrays: ids and metadata as UTF-8 JSON, texts as ``cachefile.text_arrays``."""
    texts, offsets = text_arrays([d.page_content for d in docs])
    return {"ids": _json_bytes([str(d.id) for d in docs]), "texts": texts, "text_offsets": offsets,
            "metadatas": _json_bytes([d.metadata for d in docs])}


def passages_from_arrays(arrays: dict[str, np.ndarray]) -> list[Document]:
    """The passages ``passage_arrays`` saved; ValueError if the arrays do not fit together."""
    ids, metadatas = _from_json_bytes(arrays["ids"]), _from_json_bytes(arrays["metadatas"])
    if (not isinstance(ids, list) or not isinstance(metadatas, list) or len(ids) != len(metadatas)
            or not all(isinstance(i, str) for i in ids) or not all(isinstance(m, dict) for m in metadatas)):
        raise ValueError("passage arrays do not fit together")
    texts = texts_from_arrays(arrays["texts"], arrays["text_offsets"], len(ids))
    return [Document(page_content=text, metadata=meta, id=doc_id)
            for doc_id, text, meta in zip(ids, texts, metadatas, strict=True)]


def load(path: Path, state: str) -> tuple[list[Document], BM25Index] | None:
    """The passages and index saved for exactly this state, or None (missing, stale or unreadable)."""
    return _load_or_previous(path, state)[0]


def _load_or_previous(path: Path, state: str) -> tuple[tuple[list[Document], BM25Index] | None, tuple[list[Document], TermCounts] | None]:
    """(what was saved for this state, what was saved for another state by this tokenizer and format: its passages
    and their term counts, no index built): at most one is not None; the second is what ``build_index`` reuses."""
    global loads
    if not path.is_file():
        return None, None
    wanted = cache_key(state)
    try:
        with np.load(path, allow_pickle=False) as data:
            key = json.loads(str(data["key"]))
            same_tokens = isinstance(key, dict) and all(key.get(k) == wanted[k] for k in ("format", "tokenizer"))
            if not same_tokens:
                return None, None  # another tokenizer or format: rebuilt and replaced by the caller
            docs = passages_from_arrays({name: data[name] for name in PASSAGE_ARRAYS})
            arrays = BM25Arrays(**{f.name: data[f.name] for f in fields(BM25Arrays)})
            ids = [str(d.id) for d in docs]
            if key != wanted:
                return None, (docs, arrays.counts(len(ids)))
        index = BM25Index.from_arrays(ids, arrays)
    except Exception as exc:  # noqa: BLE001 - any damage to a cache means "rebuild", never a failed start
        log.warning("Ignoring the unreadable keyword index cache %s (%s: %s); rebuilding it.", path, type(exc).__name__, exc)
        return None, None
    loads += 1
    return (docs, index), None


def save(path: Path, state: str, docs: list[Document], index: BM25Index) -> None:
    """Write passages and index for this state atomically; a failure is logged, as both still work from memory."""
    arrays = index.to_arrays()
    write_npz(path, {"key": np.asarray(json.dumps(cache_key(state))), **passage_arrays(docs),
                     **{f.name: getattr(arrays, f.name) for f in fields(BM25Arrays)}})
