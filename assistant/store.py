"""The Chroma vector store, local or remote, and the ingest record manager beside it.

Chroma's own default embedding function downloads a model, so it is never
used: langchain-chroma passes ``embedding_function=None`` and vectors always
come from our embedder. The collection metadata records which embedder made
the vectors; opening the store with another one stops with a message instead
of silently returning nonsense neighbours.

Ingest writes through langchain-chroma (LangChain's indexing API needs its
``VectorStore``). Readers query the collection itself (``open_collection``):
a search by a vector we computed needs nothing the wrapper adds, and importing
langchain-chroma (with LangChain's retriever and tracing modules) cost about
0.4 s of every app start.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError
from langchain_core.embeddings import Embeddings
from langchain_core.stores import BaseStore

from assistant.chunking import text_hash
from assistant.config import Settings
from assistant.embeddings import ProgressEmbeddings, describe

if TYPE_CHECKING:
    from langchain_chroma import Chroma

_SIGNATURE_KEYS = ("embedder_backend", "embedder_model", "embedder_dim")


Derived = TypeVar("Derived")


class StoreError(RuntimeError):
    """A store problem a person can fix; the message says how."""


class EmbedderMismatchError(StoreError):
    """The store was built with another embedder than the one configured."""


class StoreMissingError(StoreError):
    """No store (or an empty one) where the settings point."""

    @classmethod
    def at(cls, settings: Settings) -> StoreMissingError:
        return cls(f"No store found at {location(settings)}. Run `python ingest.py` to build it.")


_Location = tuple[str | None, int, str | None]  # (server host, port, local folder)
_CLIENTS: dict[_Location, chromadb.ClientAPI] = {}
_CLIENTS_LOCK = threading.Lock()


def _location(settings: Settings) -> _Location:
    if settings.server_mode:
        return (settings.chroma_host, settings.chroma_port, None)
    return (None, settings.chroma_port, str(Path(settings.store_dir).resolve()))


def _new_client(where: _Location) -> chromadb.ClientAPI:
    host, port, path = where
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if host:
        return chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
    Path(path or ".").mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=path or ".", settings=chroma_settings)


def get_client(settings: Settings) -> chromadb.ClientAPI:
    """One Chroma client per location and process (clients hold connections and caches)."""
    where = _location(settings)
    with _CLIENTS_LOCK:
        if where not in _CLIENTS:
            _CLIENTS[where] = _new_client(where)
        return _CLIENTS[where]


def reopen_client(settings: Settings) -> chromadb.ClientAPI:
    """A fresh client after another process wrote to a local store.

    An embedded Chroma client keeps its vector index in memory and does not
    see another process's writes; asking it for their ids even fails ("Error
    finding id"). Chroma shares one "System" per folder between its clients;
    its public ``clear_system_cache()`` forgets those, so the next client for
    the folder reads it again. Nothing is stopped: clients already handed out
    keep working on what they had, so requests in flight are not disturbed,
    and the clients this module holds for other locations are kept as they
    are. ``tests/test_caches.py`` pins this behaviour of chromadb 1.5.9.
    Server mode needs none of this: the server sees every write.
    """
    if settings.server_mode:
        return get_client(settings)
    where = _location(settings)
    with _CLIENTS_LOCK:
        old = _CLIENTS.pop(where, None)
        if old is not None:
            old.clear_system_cache()
        _CLIENTS[where] = _new_client(where)
        return _CLIENTS[where]


def location(settings: Settings) -> str:
    """Where the store lives, for messages."""
    if settings.server_mode:
        return f"Chroma server {settings.chroma_host}:{settings.chroma_port}, collection '{settings.collection}'"
    return f"{settings.store_dir} (collection '{settings.collection}')"


def record_db_url(settings: Settings) -> str:
    """Record manager location: RECORD_DB_URL, else a SQLite file on this machine.

    In folder mode the file sits beside the store. In server mode it sits next
    to where the local store would be (``data/`` by default), named after the
    collection's id on the server rather than the host string: reaching the
    same server as ``localhost`` and as ``127.0.0.1`` must not start a second
    bookkeeping (a second writer, that re-embeds and never cleans up the
    first one's passages). Machines that share a RECORD_DB_URL are one writer;
    see ``docs/deploy.md``.
    """
    if settings.record_db_url:
        return settings.record_db_url
    if settings.server_mode:
        path = _server_records_path(settings)
    else:
        path = Path(settings.store_dir) / "ingest-records.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.resolve()}"


def _server_records_path(settings: Settings) -> Path:
    collection = get_collection(settings)
    if collection is None:
        raise StoreMissingError(f"No collection at {location(settings)} yet: its ingest records begin with its first ingest.")
    path = Path(settings.store_dir).parent / f"records-{settings.collection}-{collection.id}.sqlite"
    _adopt_legacy_records(settings, collection, path)
    return path


def _adopt_legacy_records(settings: Settings, collection: chromadb.Collection, path: Path) -> None:
    """Start from the records kept before they were named after the collection (named after the host string).

    Without them the first ingest after the upgrade would not know the
    passages it wrote, so it could never replace or delete them. They are
    copied only if they describe this collection: some of their ids are in it.
    """
    tag = hashlib.sha1(f"{settings.chroma_host}:{settings.chroma_port}".encode()).hexdigest()[:8]
    legacy = Path(settings.store_dir).parent / f"records-{settings.chroma_host}-{settings.chroma_port}-{tag}.sqlite"
    if path.exists() or not legacy.exists():
        return
    from langchain_classic.indexes import SQLRecordManager

    old = SQLRecordManager(namespace=f"chroma/{settings.collection}", db_url=f"sqlite:///{legacy.resolve()}")
    keys = old.list_keys(limit=500)
    old.engine.dispose()
    if keys and collection.get(ids=keys, include=[])["ids"]:
        shutil.copyfile(legacy, path)


def get_record_manager(settings: Settings):  # -> SQLRecordManager
    """LangChain's SQL record manager: which chunk ids are stored, per source file."""
    from langchain_classic.indexes import SQLRecordManager

    manager = SQLRecordManager(namespace=f"chroma/{settings.collection}", db_url=record_db_url(settings))
    manager.create_schema()
    return manager


def ingest_writer(records) -> str:
    """The id of the writer this bookkeeping stands for, created with it; ingest marks every vector it writes with it.

    A vector whose mark is not ours was written by another machine, by
    another bookkeeping, or by another program, and ingest never deletes it.
    The id lives in the record database itself, so machines sharing a
    RECORD_DB_URL are one writer, and a lost records file is a new writer
    (which keeps, rather than deletes, what it does not know).
    """
    from langchain_classic.indexes import SQLRecordManager

    holder = SQLRecordManager(namespace=f"{records.namespace}/writer", engine=records.engine)
    if not holder.list_keys():
        holder.update([uuid.uuid4().hex[:16]])
    return sorted(holder.list_keys())[0]  # two first runs racing on one shared database agree on one


def iter_records(collection: chromadb.Collection, include: Sequence[str], where: dict[str, Any] | None = None,
                 page: int = 5000) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """Every (id, text, metadata) of a collection, page by page: the one paging loop of the project."""
    offset = 0
    while True:
        got = collection.get(where=where, include=list(include), limit=page, offset=offset)
        yield from _records(got)
        if len(got["ids"]) < page:
            return
        offset += page


def _records(got: Mapping[str, Any]) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """(id, text, metadata) of one ``Collection.get`` answer; None or {} for what it did not include."""
    ids = got["ids"]
    documents = got.get("documents") or [None] * len(ids)
    metadatas = got.get("metadatas") or [None] * len(ids)
    for doc_id, text, meta in zip(ids, documents, metadatas, strict=True):
        yield doc_id, text, dict(meta or {})


def records_by_id(collection: chromadb.Collection, ids: Sequence[str], include: Sequence[str],
                  batch: int = 5000) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """The (id, text, metadata) of these ids, asked in batches (a few out of a large collection)."""
    for start in range(0, len(ids), batch):
        yield from _records(collection.get(ids=list(ids[start:start + batch]), include=list(include)))


def get_collection(settings: Settings) -> chromadb.Collection | None:
    """The raw collection (never with Chroma's downloading default embedder), or None if absent."""
    try:
        return get_client(settings).get_collection(settings.collection, embedding_function=None)
    except NotFoundError:
        return None


def collection_signature(settings: Settings) -> dict[str, Any] | None:
    """The embedder recorded on the collection, or None when the collection does not exist."""
    collection = get_collection(settings)
    if collection is None:
        return None
    meta = collection.metadata or {}
    return {key: meta.get(key) for key in _SIGNATURE_KEYS}


def check_signature(settings: Settings, embeddings: ProgressEmbeddings) -> None:
    """Stop with a clear message when the store's vectors come from another embedder."""
    stored = collection_signature(settings)
    if stored is None or stored.get("embedder_backend") is None:
        return
    wanted = embeddings.signature()
    if any(stored[k] != wanted[k] for k in _SIGNATURE_KEYS):
        raise EmbedderMismatchError(
            f"The store at {location(settings)} was built with {describe(stored)}, "
            f"but the configured embedder is {describe(wanted)}. "
            "Vectors from different models cannot be compared: run `python ingest.py --rebuild` "
            "to rebuild the store with the configured embedder, or set EMBED_BACKEND/EMBED_MODEL back."
        )


class StoredVectors(BaseStore[str, list[float]]):
    """The collection's own vectors as an embedding cache for passage texts, looked up by ``text_hash``.

    A passage whose text is already stored (its lines moved, its file was
    renamed, another writer stored it) gets that vector instead of a model
    call. Used through LangChain's ``CacheBackedEmbeddings``: index() writes
    every vector to the collection anyway, so ``mset`` has nothing to do, and
    there is no second store to size, prune or share between machines.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def mget(self, keys: Sequence[str]) -> list[list[float] | None]:
        hashes = [text_hash(text) for text in keys]
        collection = get_collection(self.settings)
        found: dict[str, list[float]] = {}
        wanted = sorted(set(hashes))
        for start in range(0, len(wanted) if collection is not None else 0, 500):
            got = collection.get(where={"text_hash": {"$in": wanted[start:start + 500]}}, include=["metadatas", "embeddings"])
            for meta, vector in zip(got["metadatas"], got["embeddings"], strict=True):
                found.setdefault(str((meta or {}).get("text_hash")), [float(x) for x in vector])
        return [found.get(h) for h in hashes]

    def mset(self, key_value_pairs: Sequence[tuple[str, list[float]]]) -> None:
        """Nothing to do: index() stores the vectors in the collection itself."""

    def mdelete(self, keys: Sequence[str]) -> None:
        """Nothing to do: vectors leave the cache when ingest deletes their passages."""

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        return iter(())


def reusing_embeddings(settings: Settings, embeddings: Embeddings) -> Embeddings:
    """``embeddings`` for passages, but a text already in the collection is not embedded again."""
    from langchain_classic.embeddings import CacheBackedEmbeddings

    return CacheBackedEmbeddings(embeddings, StoredVectors(settings))


def open_store(settings: Settings, embeddings: ProgressEmbeddings, *, create: bool = False,
               passages: Embeddings | None = None) -> Chroma:
    """The LangChain Chroma store; checks the embedder, creates the collection only if asked.

    ``passages`` (ingest: the run's counter around ``embeddings``) embeds the
    passages written, through ``reusing_embeddings`` so stored texts are not
    embedded again.
    """
    from langchain_chroma import Chroma

    check_signature(settings, embeddings)
    if not create and collection_signature(settings) is None:
        raise StoreMissingError.at(settings)
    metadata = {**embeddings.signature(), "state": "new"}
    return Chroma(
        collection_name=settings.collection,
        embedding_function=reusing_embeddings(settings, passages) if passages is not None else embeddings,
        client=get_client(settings),
        collection_metadata=metadata,
        collection_configuration={"hnsw": {"space": "cosine"}},
        create_collection_if_not_exists=True,
    )


def require_collection(settings: Settings) -> chromadb.Collection:
    """The raw collection, or ``StoreMissingError`` naming where it was looked for."""
    collection = get_collection(settings)
    if collection is None:
        raise StoreMissingError.at(settings)
    return collection


def open_collection(settings: Settings, embeddings: ProgressEmbeddings) -> chromadb.Collection:
    """The collection for reading: checks the embedder like ``open_store``, never creates anything."""
    check_signature(settings, embeddings)
    return require_collection(settings)


_generation = 0  # bumped by every change this process makes to any collection
_writing = 0  # ingests running in this process right now
_writing_lock = threading.Lock()


@contextmanager
def writing() -> Iterator[None]:
    """Mark an ingest running in this process: readers here see its writes and must not reopen the client."""
    global _writing
    with _writing_lock:
        _writing += 1
    try:
        yield
    finally:
        with _writing_lock:
            _writing -= 1
        _bump()  # readers rebuild what they derive from the store once, after the ingest


def writing_here() -> bool:
    """Is an ingest of this process writing now?"""
    return _writing > 0


def local_generation() -> int:
    """Changes made by this process (ingest, rebuild); lets readers skip asking the store."""
    return _generation


def _bump() -> None:
    global _generation
    _generation += 1


def store_state(settings: Settings) -> str | None:
    """An opaque token that changes whenever an ingest changes the collection.

    Caches of derived indexes (BM25) key on it, so they are rebuilt once per
    store state and never per query, in this process or in another one.
    """
    collection = get_collection(settings)
    if collection is None:
        return None
    return f"{(collection.metadata or {}).get('state')}:{collection.count()}"


def next_state(settings: Settings, token: str) -> str | None:
    """The state ``store_state`` will report once ``mark_state(settings, token)`` is recorded (None: no collection).

    Ingest saves the files a start derives under it before marking it, so a
    running app that sees the new state finds them instead of building them too.
    """
    collection = get_collection(settings)
    return None if collection is None else f"{token}:{collection.count()}"


def _set_metadata(settings: Settings, key: str, value: str) -> None:
    """Change one key of the collection's metadata, keeping the others."""
    collection = get_client(settings).get_collection(settings.collection, embedding_function=None)
    meta = dict(collection.metadata or {})
    meta[key] = value
    meta.pop("hnsw:space", None)  # not modifiable after creation; configuration holds it
    collection.modify(metadata=meta)


def mark_state(settings: Settings, token: str) -> None:
    """Record a new store state after an ingest changed something."""
    _set_metadata(settings, "state", token)
    _bump()


def clear_records(settings: Settings) -> int:
    """Forget every stored chunk of the collection in its records; how many keys there were.

    In server mode the records are found through the collection, so this
    must run while it still exists; without one there is nothing to clear.
    """
    try:
        manager = get_record_manager(settings)
    except StoreMissingError:
        return 0
    keys = manager.list_keys()
    if keys:
        manager.delete_keys(keys)
    return len(keys)


def delete_collection(settings: Settings) -> None:
    """Drop the collection and its ingest records (for --rebuild)."""
    clear_records(settings)
    try:
        get_client(settings).delete_collection(settings.collection)
    except NotFoundError:
        pass
    _bump()


CALIBRATION_KEY = "calibration"


def read_calibration(settings: Settings) -> str | None:
    """The answerability calibration recorded on the collection (JSON), if any."""
    collection = get_collection(settings)
    return None if collection is None else (collection.metadata or {}).get(CALIBRATION_KEY)


def write_calibration(settings: Settings, raw: str) -> None:
    """Record the calibration beside the embedder signature, so every app instance reads the same one."""
    _set_metadata(settings, CALIBRATION_KEY, raw)


class StoreView(Generic[Derived]):
    """The store as one reading process sees it: its collection, its state, and what it derives from it.

    ``derive(state)`` builds what readers need from the passages (the keyword
    index, the alias table, the calibration; see ``retrieval.Snapshot``) and
    runs only when the state changes. Asking the store for its state costs a
    round trip (two in server mode), so it is asked at most every
    ``state_check_seconds``: an ingest in this process is seen at once (it
    bumps the local generation), one in another process within that interval.
    The reopen policy lives here too: an embedded Chroma client does not see
    another process's writes, so a change this process did not make reopens
    it; a change this process is making (an in-app re-ingest) never does.
    """

    def __init__(self, settings: Settings, embeddings: ProgressEmbeddings, derive: Callable[[str], Derived]) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.collection = open_collection(settings, embeddings)
        self._derive = derive
        self._current: Derived | None = None
        self._state: str | None = None
        self._checked: tuple[float, int] = (float("-inf"), -1)  # (monotonic time, local generation)
        self._lock = threading.Lock()

    def current(self) -> Derived:
        """What is derived from the current store state, rebuilt only when the state changed."""
        current = self._current
        checked_at, checked_generation = self._checked
        if current is not None and writing_here():
            return current  # an ingest of this process is writing: keep serving; it bumps the generation when done
        if (current is not None and checked_generation == local_generation()
                and time.monotonic() - checked_at < self.settings.state_check_seconds):
            return current
        generation = local_generation()
        state = store_state(self.settings) or ""
        if current is None or self._state != state:
            with self._lock:
                if self._current is None or self._state != state:
                    if self._current is not None and generation == checked_generation:
                        reopen_client(self.settings)  # another process wrote: this client cannot see it
                        self.collection = open_collection(self.settings, self.embeddings)
                        state = store_state(self.settings) or ""
                    self._current, self._state = self._derive(state), state
                current = self._current
        self._checked = (time.monotonic(), generation)
        return current
