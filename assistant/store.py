"""The Chroma vector store, local or remote, and the ingest record manager beside it.

Chroma's own default embedding function downloads a model, so it is never
used: langchain-chroma passes ``embedding_function=None`` and vectors always
come from our embedder. The collection metadata records which embedder made
the vectors; opening the store with another one stops with a message instead
of silently returning nonsense neighbours.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError
from langchain_chroma import Chroma

from assistant.config import Settings
from assistant.embeddings import ProgressEmbeddings, describe

_SIGNATURE_KEYS = ("embedder_backend", "embedder_model", "embedder_dim")


class StoreError(RuntimeError):
    """A store problem a person can fix; the message says how."""


class EmbedderMismatchError(StoreError):
    """The store was built with another embedder than the one configured."""


class StoreMissingError(StoreError):
    """No store (or an empty one) where the settings point."""


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
    """Record manager location: explicit URL, else a SQLite file beside the local store.

    In server mode the file sits next to where the local store would be
    (``data/`` by default), named after the server, so two servers never share
    bookkeeping. A team that runs ingest
    from several machines sets RECORD_DB_URL to a shared database.
    """
    if settings.record_db_url:
        return settings.record_db_url
    if settings.server_mode:
        tag = hashlib.sha1(f"{settings.chroma_host}:{settings.chroma_port}".encode()).hexdigest()[:8]
        path = Path(settings.store_dir).parent / f"records-{settings.chroma_host}-{settings.chroma_port}-{tag}.sqlite"
    else:
        path = Path(settings.store_dir) / "ingest-records.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.resolve()}"


def get_record_manager(settings: Settings):  # -> SQLRecordManager
    """LangChain's SQL record manager: which chunk ids are stored, per source file."""
    from langchain_classic.indexes import SQLRecordManager

    manager = SQLRecordManager(namespace=f"chroma/{settings.collection}", db_url=record_db_url(settings))
    manager.create_schema()
    return manager


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


def open_store(settings: Settings, embeddings: ProgressEmbeddings, *, create: bool = False) -> Chroma:
    """The LangChain Chroma store; checks the embedder, creates the collection only if asked."""
    check_signature(settings, embeddings)
    if not create and collection_signature(settings) is None:
        raise StoreMissingError(
            f"No store found at {location(settings)}. Run `python ingest.py` to build it."
        )
    metadata = {**embeddings.signature(), "state": "new"}
    return Chroma(
        collection_name=settings.collection,
        embedding_function=embeddings,
        client=get_client(settings),
        collection_metadata=metadata,
        collection_configuration={"hnsw": {"space": "cosine"}},
        create_collection_if_not_exists=True,
    )


_generation = 0  # bumped by every change this process makes to any collection


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


def mark_state(settings: Settings, token: str) -> None:
    """Record a new store state after an ingest changed something."""
    collection = get_client(settings).get_collection(settings.collection, embedding_function=None)
    meta = dict(collection.metadata or {})
    meta["state"] = token
    meta.pop("hnsw:space", None)  # not modifiable after creation; configuration holds it
    collection.modify(metadata=meta)
    _bump()


def delete_collection(settings: Settings) -> None:
    """Drop the collection and its ingest records (for --rebuild)."""
    client = get_client(settings)
    try:
        client.delete_collection(settings.collection)
    except NotFoundError:
        pass
    _bump()
    manager = get_record_manager(settings)
    keys = manager.list_keys()
    if keys:
        manager.delete_keys(keys)
