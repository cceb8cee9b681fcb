"""Vectors of the short texts that re-ranking and quoting compare: a passage's sentences and their words.

Every question embeds the sentences of its top passages and each word in
them (``assistant.evidence``). The embedder reads about a thousand tokens a
second on two cores, so a question whose passages were never met waited about
a second for this (our corpus, extractive answers: 0.5-1.7 s cold against
20 ms once met), and every restart started cold again. So the vectors are
kept in memory (bounded, least recently used first), and on disk in a SQLite
file per embedder beside the store, which every process of this machine
shares; and the app embeds every passage's sentences and words in the
background while no question is being answered (``warm``), so that for a
corpus the size of ours no question waits for them at all.

The file is disposable like the other caches (``assistant.cachefile``): only
float32 vectors keyed by a digest of their text, nothing that runs code; a
damaged or unwritable file is logged once and the cache goes on in memory.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.cachefile import embedder_file
from assistant.config import Settings
from assistant.embeddings import ProgressEmbeddings

log = logging.getLogger(__name__)

DISK_ROWS = 400_000  # about 600 MB of 384-dim vectors; beyond it the oldest rows go first


def disk_path(settings: Settings) -> Path:
    """One file per embedder (backend and model, as the probe vectors' file) in this machine's cache folder."""
    return embedder_file(settings, "text-vectors", ".sqlite")


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class DiskVectors:
    """Passage-side vectors of texts in a SQLite file, safe to share between threads and processes."""

    def __init__(self, path: Path, max_rows: int = DISK_ROWS) -> None:
        self.path, self.max_rows = path, max_rows
        self.dim: int | None = None  # the first stored vector's; a row of any other size is damage
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._opened = False  # on first use: a Retriever is made before the store (and its folder) exists
        self._rows = 0

    def _connection(self) -> sqlite3.Connection | None:
        """The open file (call with the lock held), or None when it cannot be used; a damaged file is replaced."""
        if not self._opened:
            self._opened = True
            for attempt in range(2):
                try:
                    self._db = self._open()
                    break
                except sqlite3.DatabaseError as exc:  # not a database: a disposable file, made again
                    if attempt == 0 and self.path.exists():
                        log.warning("The sentence vector cache %s is damaged (%s); it is made again.", self.path, exc)
                        self.path.unlink(missing_ok=True)
                        continue
                    log.warning("Sentence vectors are kept in memory only: %s cannot be used (%s).", self.path, exc)
                except (OSError, sqlite3.Error) as exc:
                    log.warning("Sentence vectors are kept in memory only: %s cannot be used (%s).", self.path, exc)
                    break
        if self._db is not None and self.dim is None:  # another process may have stored the first vector since
            row = self._db.execute("SELECT value FROM meta WHERE name = 'dim'").fetchone()
            self.dim = int(row[0]) if row else None
        return self._db

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: losing the last writes to a power cut costs nothing
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            self._rows = int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])
        except BaseException:
            db.close()
            raise
        return db

    @property
    def usable(self) -> bool:
        with self._lock:
            return self._connection() is not None

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those texts that have one."""
        return {text: np.frombuffer(blob, dtype=np.float32).copy()
                for text, blob in self._select(texts, "vector") if len(blob) == 4 * (self.dim or 0)}  # else damage: embed again

    def known(self, texts: Sequence[str]) -> set[str]:
        """Those of the texts that have a stored vector (the vectors are not read)."""
        return {text for text, _ in self._select(texts, "NULL")}

    def _select(self, texts: Sequence[str], column: str) -> list[tuple[str, object]]:
        """(text, ``column``) of the stored rows of those texts, in chunks under SQLite's limit on parameters."""
        by_key = {_key(t): t for t in texts}
        keys, found = list(by_key), []
        try:
            with self._lock:
                db = self._connection()
                if db is None or self.dim is None:
                    return []
                for start in range(0, len(keys), 500):
                    chunk = keys[start:start + 500]
                    rows = db.execute(f"SELECT key, {column} FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                    found.extend((by_key[key], value) for key, value in rows)
        except sqlite3.Error as exc:
            self._give_up(exc)
        return found

    def put(self, items: dict[str, np.ndarray]) -> None:
        """Store vectors (kept ones win: the same text always has the same vector)."""
        if not items:
            return
        rows = [(_key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in items.items()]
        try:
            with self._lock:
                db = self._connection()
                if db is None:
                    return
                if self.dim is None:
                    self.dim = len(rows[0][1]) // 4
                    db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('dim', ?)", (self.dim,))
                rows = [row for row in rows if len(row[1]) == 4 * self.dim]
                with db:  # one transaction
                    db.execute("BEGIN")
                    db.executemany("INSERT OR IGNORE INTO vectors (key, vector) VALUES (?, ?)", rows)
                self._rows += len(rows)
                if self._rows > self.max_rows:
                    db.execute("DELETE FROM vectors WHERE rowid IN (SELECT rowid FROM vectors ORDER BY rowid LIMIT ?)",
                               (self._rows - self.max_rows + self.max_rows // 10,))
                    self._rows = int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])
        except sqlite3.Error as exc:
            self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        log.warning("Sentence vectors are kept in memory only from now on: %s failed (%s).", self.path, exc)
        self._db = None


class VectorCache:
    """Embeddings of short texts (words, sentences), kept across requests, in memory and optionally on disk.

    Sentences of the same passages and the same words come back question after
    question; embedding them once keeps an extractive answer at a few
    milliseconds once warm. Bounded in memory (least recently used entries go
    first); the disk keeps what memory lets go.
    """

    def __init__(self, embeddings: ProgressEmbeddings, max_items: int = 100_000, disk: DiskVectors | None = None) -> None:
        self.embeddings = embeddings
        self.max_items = max_items
        self.disk = disk
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _not_in_memory(self, texts: Sequence[str]) -> list[str]:
        with self._lock:
            return [t for t in dict.fromkeys(texts) if t not in self._items]

    def missing(self, texts: Sequence[str]) -> list[str]:
        """The texts neither memory nor disk has a vector for (distinct, in order); reads found ones into memory."""
        absent = self._not_in_memory(texts)
        if absent and self.disk is not None:
            stored = self.disk.get(absent)
            if stored:
                self._remember(stored)
                absent = [t for t in absent if t not in stored]
        return absent

    def prepare(self, texts: Sequence[str]) -> int:
        """Embed those of the texts nobody has embedded yet, for later questions; how many that was.

        With a disk the vectors go there only: memory keeps what questions use,
        so warming a large corpus does not grow the process.
        """
        absent = self._unknown(texts)
        if not absent:
            return 0
        new = dict(zip(absent, np.asarray(self.embeddings.embed_documents(absent), dtype=np.float32), strict=True))
        if self.disk is not None and self.disk.usable:  # still: a failure meanwhile leaves it to memory
            self.disk.put(new)
        else:
            self._remember(new)
        return len(absent)

    def absent(self, texts: Sequence[str]) -> int:
        """How many of the texts neither memory nor disk has a vector for (nothing is read into memory)."""
        return len(self._unknown(texts))

    def _unknown(self, texts: Sequence[str]) -> list[str]:
        """The distinct texts neither memory nor disk has a vector for; the disk's vectors are not read."""
        absent = self._not_in_memory(texts)
        if absent and self.disk is not None and self.disk.usable:
            known = self.disk.known(absent)
            absent = [t for t in absent if t not in known]
        return absent

    def many(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of many texts at once (an index), one row each, from memory, disk or the embedder.

        Unlike ``passages`` they are not kept in memory: the caller holds the
        matrix, and memory stays for what questions use.
        """
        with self._lock:
            found = {t: self._items[t] for t in dict.fromkeys(texts) if t in self._items}
        rest = [t for t in dict.fromkeys(texts) if t not in found]
        if rest and self.disk is not None:
            found.update(self.disk.get(rest))
        missing = [t for t in rest if t not in found]
        if missing:
            new = dict(zip(missing, np.asarray(self.embeddings.embed_documents(missing), dtype=np.float32), strict=True))
            found.update(new)
            if self.disk is not None and self.disk.usable:
                self.disk.put(new)
        return np.vstack([found[t] for t in texts]).astype(np.float32, copy=False) if texts else np.zeros((0, 0), dtype=np.float32)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passage-side vectors of the texts, one row each (dim 0 rows for no texts)."""
        missing = self.missing(texts)
        if missing:
            vectors = np.asarray(self.embeddings.embed_documents(missing), dtype=np.float32)
            new = dict(zip(missing, vectors, strict=True))
            self._remember(new)
            if self.disk is not None:
                self.disk.put(new)
        with self._lock:
            rows = []
            for text in texts:
                vector = self._items.get(text)
                if vector is None:  # evicted by a concurrent request meanwhile
                    vector = np.asarray(self.embeddings.embed_documents([text])[0], dtype=np.float32)
                else:
                    self._items.move_to_end(text)
                rows.append(vector)
        return np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def _remember(self, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            for text, vector in items.items():
                self._items[text] = vector
                self._items.move_to_end(text)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
