"""The keyword index on disk, per store state: a start on an unchanged store loads it instead of rebuilding it.

Building the BM25 index means tokenizing (normalizing, stemming) every
passage: most of an app's start on a large store (about 15 s of 22 s at 100k
passages). The index depends only on the passages and on the tokenizer, so it
is saved once per store state as a numpy ``.npz`` of plain arrays (loaded with
``allow_pickle=False``: nothing in the file can run code, even from a shared
folder) and read back by every later start until an ingest changes the state.

The file sits beside the store in folder mode. In server mode it sits in this
machine's data folder (next to the record manager's file), named after the
collection's id on the server: each app instance builds it once and keeps it.
One file per collection: a file of another state, passage list, tokenizer or
format is stale and ignored, then replaced; an unreadable or inconsistent one
is ignored the same way (the index is rebuilt, never a crash). Writes go to a
temporary file renamed over the old one, so a reader never sees half a file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.lexical import BM25Arrays, BM25Index
from assistant.text import terms

log = logging.getLogger(__name__)

FORMAT = 1  # bump when BM25Arrays, the scoring or BM25Index.document_tokens changes
# Tokenized into the key: a change to normalization, stemming or the alias rule changes the
# tokens of this sample, so an index saved by an older tokenizer is not reused.
TOKENIZER_PROBE = ("## Akash Network · شبكة أكاش\n\nThe networks' GPUs were auctioned; "
                   "تستخدم المنصات اللامركزية مزادات عكسية لتسعير الحوسبة 2024.")

loads = 0  # indexes read from a cache file by this process (tests check a start did not rebuild)


def cache_path(settings: Settings, collection_id: str) -> Path:
    """Where the keyword index of this collection is kept on this machine."""
    if settings.server_mode:
        return Path(settings.store_dir).parent / f"keyword-index-{settings.collection}-{collection_id}.npz"
    return Path(settings.store_dir) / f"keyword-index-{settings.collection}.npz"


def cache_key(state: str, ids: Sequence[str]) -> dict[str, object]:
    """What a saved index must match to be used: store state, passages in order, tokenizer, format."""
    return {
        "format": FORMAT,
        "state": state,
        "ids": hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest(),
        "count": len(ids),
        "tokenizer": _tokenizer_digest(),
    }


@functools.cache
def _tokenizer_digest() -> str:
    return hashlib.sha256(json.dumps(terms(TOKENIZER_PROBE), ensure_ascii=False).encode("utf-8")).hexdigest()


def load(path: Path, state: str, ids: Sequence[str]) -> BM25Index | None:
    """The index saved for exactly this state and these passages, or None (missing, stale or unreadable)."""
    global loads
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if json.loads(str(data["key"])) != cache_key(state, ids):
                return None  # another state (or tokenizer): rebuilt and replaced by the caller
            arrays = BM25Arrays(**{f.name: data[f.name] for f in fields(BM25Arrays)})
        index = BM25Index.from_arrays(ids, arrays)
    except Exception as exc:  # noqa: BLE001 - any damage to a cache means "rebuild", never a failed start
        log.warning("Ignoring the unreadable keyword index cache %s (%s: %s); rebuilding it.", path, type(exc).__name__, exc)
        return None
    loads += 1
    return index


def save(path: Path, state: str, index: BM25Index) -> None:
    """Write the index for this state atomically; a failure is logged, as the index still works from memory."""
    arrays = index.to_arrays()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, key=np.asarray(json.dumps(cache_key(state, index.ids))),
                         **{f.name: getattr(arrays, f.name) for f in fields(BM25Arrays)})
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("Could not save the keyword index cache %s: %s", path, exc)
