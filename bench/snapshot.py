"""What a warm start saves: paging every passage out of Chroma against loading the saved snapshot file.

    python bench/snapshot.py --size 10k|100k [--server] [--repeat 3] [--json]

A warm start used to page every passage's text and metadata out of Chroma and
load only the BM25 arrays from the keyword cache; it now loads both from the
cache file (``assistant/keyword_cache.py``). This times the two paths on the
same store, alternately (so a machine shared with other jobs slows both
alike): the bench's synthetic passages with the metadata ingest gives them,
stored in a Chroma folder, or with ``--server`` in a ``chroma run`` child on
127.0.0.1. The vectors are random: paging does not depend on them, and no model
runs, so 100k passages take minutes rather than hours.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import fields
from pathlib import Path

import numpy as np

from run import SIZES, chroma_server, chunk_texts, make_corpus  # bench/run.py, beside this file



def timed(action) -> tuple[float, object]:
    """Seconds an action took, and its result."""
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def fill(collection, docs, seed: int) -> None:
    """The passages with the metadata ingest stores (its writer mark included), random unit vectors."""
    rng = np.random.default_rng(seed)
    for start in range(0, len(docs), 2000):
        batch = docs[start:start + 2000]
        vectors = rng.normal(size=(len(batch), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        collection.add(ids=[d.metadata["id"] for d in batch], documents=[d.page_content for d in batch],
                       metadatas=[{**d.metadata, "writer": "bench"} for d in batch], embeddings=vectors.tolist())


def old_warm(collection, cache: Path):
    """Before: page the passages, load only the BM25 arrays from the file."""
    from assistant import keyword_cache
    from assistant.lexical import BM25Arrays, BM25Index

    docs = keyword_cache.read_passages(collection)
    with np.load(cache, allow_pickle=False) as data:
        arrays = BM25Arrays(**{f.name: data[f.name] for f in fields(BM25Arrays)})
    return docs, BM25Index.from_arrays([str(d.id) for d in docs], arrays)


def measure(collection, cache: Path, repeat: int) -> dict:
    """Both warm paths, alternately, ``repeat`` times each; both must give the same passages."""
    from assistant import keyword_cache
    from assistant.lexical import BM25Index

    docs = keyword_cache.read_passages(collection)
    build, index = timed(lambda: BM25Index([str(d.id) for d in docs], [BM25Index.document_tokens(d.page_content, d.metadata) for d in docs]))
    keyword_cache.save(cache, "bench", docs, index)
    paged, loaded = [], []
    for _ in range(repeat):
        seconds, (old_docs, _) = timed(lambda: old_warm(collection, cache))
        paged.append(seconds)
        seconds, got = timed(lambda: keyword_cache.load(cache, "bench"))
        loaded.append(seconds)
        assert got is not None and [(d.id, d.page_content, d.metadata) for d in got[0]] == \
            [(d.id, d.page_content, d.metadata) for d in old_docs]
    return {"passages": len(docs), "bm25_build_s": round(build, 2), "file_mb": round(cache.stat().st_size / 2**20, 1),
            "paging_plus_bm25_load_s": [round(s, 2) for s in paged], "cached_snapshot_load_s": [round(s, 2) for s in loaded]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="10k")
    parser.add_argument("--server", action="store_true", help="a `chroma run` server on 127.0.0.1 instead of a folder")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from assistant.config import Settings
    from assistant.embeddings import get_embeddings

    work = Path(tempfile.mkdtemp(prefix="bench-snapshot-"))
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        make_corpus(corpus, SIZES[args.size], args.seed)
        settings = Settings(_env_file=None, corpus_dir=corpus, store_dir=work / "store")
        docs = chunk_texts(corpus, settings, get_embeddings(settings))
        with ExitStack() as stack:
            chroma = ChromaSettings(anonymized_telemetry=False)
            if args.server:
                port, _ = chroma_server(work / "chroma-server", stack)
                client = chromadb.HttpClient(host="127.0.0.1", port=port, settings=chroma)
            else:
                client = chromadb.PersistentClient(path=str(work / "store"), settings=chroma)
            collection = client.create_collection("bench", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
            fill(collection, docs, args.seed)
            result = {"size": args.size, "chroma": "server" if args.server else "folder",
                      **measure(collection, work / "keyword-index.npz", args.repeat)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['passages']} passages, Chroma {result['chroma']}: warm start read paging + BM25 file "
              f"{result['paging_plus_bm25_load_s']} s, cached snapshot {result['cached_snapshot_load_s']} s "
              f"(file {result['file_mb']} MB; building the BM25 index instead: {result['bm25_build_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
