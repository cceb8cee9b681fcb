"""Files this machine derives from the store or the embedder, written so a reader never sees half of one.

Three caches live in such files: the passages with their keyword index
(``assistant.keyword_cache``), the passages' sentence split
(``assistant.sentences.split_of``) and the probe questions' vectors
(``answerability.ProbeSpace``). All are numpy ``.npz`` files of plain arrays
(texts as ``text_arrays``), loaded with ``allow_pickle=False`` (nothing in
them can run code, even from a shared folder), and all are disposable: a
missing, stale or damaged file means "compute again", never a failed start.
A fourth, the vectors of sentences and words, is a SQLite file of the same
kind (``assistant.text_vectors``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from assistant.config import Settings

log = logging.getLogger(__name__)


def local_dir(settings: Settings) -> Path:
    """Where this machine keeps derived files: beside the store in folder mode, else in the local data folder."""
    return Path(settings.store_dir).parent if settings.server_mode else Path(settings.store_dir)


def embedder_file(settings: Settings, stem: str, suffix: str) -> Path:
    """``local_dir``/``stem``-<digest of the embedder backend and model>``suffix``: one file per embedder."""
    name = hashlib.sha256(f"{settings.embed_backend}:{settings.embed_model}".encode()).hexdigest()[:12]
    return local_dir(settings) / f"{stem}-{name}{suffix}"


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> bool:
    """Write ``path`` through a temporary file renamed over it, so no reader sees half of it; a failure is logged, not raised."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("Could not save the cache file %s: %s", path, exc)
        return False
    return True


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> bool:
    """Write ``arrays`` to ``path`` atomically (``write_atomic``)."""
    return write_atomic(path, lambda handle: np.savez(handle, **arrays))


def text_arrays(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Texts as plain arrays: one UTF-8 buffer and the byte offsets of each text in it (len(texts) + 1).

    Millions of short strings load from this in a fraction of a second, where
    a JSON list or a numpy string array (fixed width: the longest text) would not.
    """
    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def texts_from_arrays(buffer: np.ndarray, offsets: np.ndarray, count: int) -> list[str]:
    """The ``count`` texts ``text_arrays`` encoded; ValueError if the arrays do not fit together (a damaged file)."""
    bounds, raw = np.asarray(offsets, dtype=np.int64), np.asarray(buffer, dtype=np.uint8).tobytes()
    if len(bounds) != count + 1 or bounds[0] != 0 or bounds[-1] != len(raw) or np.any(np.diff(bounds) < 0):
        raise ValueError("text arrays do not fit together")
    at = bounds.tolist()
    return [raw[at[n]:at[n + 1]].decode("utf-8") for n in range(count)]
