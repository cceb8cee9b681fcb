"""Files this machine derives from the store or the embedder, written so a reader never sees half of one.

Two caches live in such files: the passages with their keyword index
(``assistant.keyword_cache``) and the probe questions' vectors
(``answerability.ProbeSpace``). Both are numpy ``.npz`` files of plain arrays,
loaded with ``allow_pickle=False`` (nothing in them can run code, even from a
shared folder), and both are disposable: a missing, stale or damaged file
means "compute again", never a failed start. A third, the vectors of
sentences and words, is a SQLite file of the same kind (``assistant.text_vectors``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

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


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> bool:
    """Write ``arrays`` to ``path`` through a temporary file renamed over it; a failure is logged, not raised."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("Could not save the cache file %s: %s", path, exc)
        return False
    return True
