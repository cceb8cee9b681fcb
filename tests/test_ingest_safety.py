"""Ingest never deletes what it did not write, against a real Chroma server.

Several writers can share one collection: two machines with their own
record databases, one machine reaching the server under two host strings, or
a program that is not this one. Each test checks that every passage a writer
should have is still stored after the others ran.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, make_settings

from assistant import store as store_mod
from assistant.chunking import chunk_document
from assistant.corpus import scan_corpus
from assistant.embeddings import get_embeddings
from assistant.indexing import run_ingest
from assistant.procs import free_port, serving

QUIET = {"progress": False, "log": lambda m: None}
Passage = tuple[str, int, int, str]  # source, start_line, end_line, text


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("chroma-safety")
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    cmd = [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    with serving(cmd, f"http://127.0.0.1:{port}/api/v2/heartbeat", 60):
        yield port


def _corpus(root: Path, *projects: str) -> Path:
    root.mkdir(parents=True)
    for name in projects:
        shutil.copy(CORPUS / "projects" / name, root / name)
    return root


def _expected(settings) -> set[Passage]:
    """The passages the corpus folder yields today, as the store should cite them."""
    embeddings = get_embeddings(settings)
    out: set[Passage] = set()
    for doc in scan_corpus(Path(settings.corpus_dir)).documents:
        for c in chunk_document(doc, settings.chunk_size, settings.chunk_overlap, embeddings.count_tokens):
            out.add((c.metadata["source"], c.metadata["start_line"], c.metadata["end_line"], c.page_content))
    return out


def _stored(settings) -> list[Passage]:
    got = store_mod.get_collection(settings).get(include=["metadatas", "documents"])
    return [(m.get("source"), m.get("start_line"), m.get("end_line"), d)
            for m, d in zip(got["metadatas"], got["documents"], strict=True) if m]


def _missing(expected: set[Passage], settings) -> list[Passage]:
    return sorted(expected - set(_stored(settings)))


def _server(tmp: Path, corpus: Path, port: int, collection: str, **extra: object):
    return make_settings(tmp, corpus, chroma_host=extra.pop("host", "127.0.0.1"), chroma_port=port,
                         collection=collection, **extra)


def test_two_record_databases_on_one_server_lose_nothing(tmp_path: Path, chroma_server: int) -> None:
    """Two machines, each with its own records, ingest into one collection: neither deletes the other's passages."""
    a_corpus = _corpus(tmp_path / "a" / "corpus", "akash-network.md", "render-network.md", "nosana.md")
    b_corpus = _corpus(tmp_path / "b" / "corpus", "io-net.md", "aethir.md", "nosana.md")  # nosana.md: on both
    a = _server(tmp_path / "a", a_corpus, chroma_server, "two_writers", record_db_url=f"sqlite:///{tmp_path / 'a.sqlite'}")
    b = _server(tmp_path / "b", b_corpus, chroma_server, "two_writers", record_db_url=f"sqlite:///{tmp_path / 'b.sqlite'}")

    run_ingest(a, **QUIET)
    run_ingest(b, **QUIET)
    assert not _missing(_expected(a), a), "machine B's ingest deleted machine A's passages"
    run_ingest(a, **QUIET)
    assert not _missing(_expected(b), b), "machine A's re-ingest deleted machine B's passages"

    # each machine changes its own corpus; the other's passages stay, its own stale ones go
    akash = a_corpus / "akash-network.md"
    akash.write_text(akash.read_text(encoding="utf-8") + "\nAkash added a new GPU auction tier.\n", encoding="utf-8")
    (b_corpus / "aethir.md").unlink()
    (b_corpus / "nosana.md").unlink()
    run_ingest(a, **QUIET)
    run_ingest(b, **QUIET)
    assert not _missing(_expected(a) | _expected(b), a)
    stored = _stored(a)
    assert not any(p[0] == "aethir.md" for p in stored)  # B deleted its file: its passages are gone
    assert {p for p in stored if p[0] == "akash-network.md"} == {p for p in _expected(a) if p[0] == "akash-network.md"}


def test_host_string_change_and_broken_file_lose_nothing(tmp_path: Path, chroma_server: int) -> None:
    """The same server as 127.0.0.1, then as localhost, with a file that fails to parse meanwhile."""
    corpus = _corpus(tmp_path / "corpus", "akash-network.md", "render-network.md", "cudos.md")
    first = _server(tmp_path, corpus, chroma_server, "host_change")
    messages: list[str] = []
    run_ingest(first, progress=False, log=messages.append)
    assert any("RECORD_DB_URL is unset" in m and "stored twice" in m for m in messages)  # says what local records imply
    before = _stored(first)
    assert any(p[0] == "cudos.md" for p in before)

    (corpus / "cudos.md").write_bytes(b"\xff\xfe not UTF-8 any more")
    renamed = _server(tmp_path, corpus, chroma_server, "host_change", host="localhost")
    again = run_ingest(renamed, **QUIET)
    assert again.failed == 1 and [e["source"] for e in again.errors] == ["cudos.md"]
    assert not sorted(set(before) - set(_stored(renamed))), "the broken file's passages were deleted"
    assert again.embedded == 0, "another host string for the same server re-embedded the corpus"

    # even with bookkeeping that knows nothing (records lost), a broken file keeps its passages
    fresh = _server(tmp_path, corpus, chroma_server, "host_change", host="localhost",
                    record_db_url=f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    run_ingest(fresh, **QUIET)
    assert not sorted(set(before) - set(_stored(fresh)))


def test_foreign_vectors_in_the_collection_survive(tmp_path: Path, chroma_server: int) -> None:
    """Vectors another program put into the collection are not ours to delete, whatever their metadata says."""
    corpus = _corpus(tmp_path / "corpus", "akash-network.md", "render-network.md", "dynex.md")
    settings = _server(tmp_path, corpus, chroma_server, "foreign", record_db_url=f"sqlite:///{tmp_path / 'r.sqlite'}")
    run_ingest(settings, **QUIET)
    collection = store_mod.get_collection(settings)
    dim = get_embeddings(settings).dim
    foreign = {
        "someone-else-1": {"source": "akash-network.md", "note": "same source as one of ours"},
        "dynex.md#00000000000000000000": {"source": "dynex.md"},  # looks like one of our ids
        "someone-else-2": {"origin": "crm export"},
    }
    collection.add(ids=list(foreign), embeddings=[[1.0] + [0.0] * (dim - 1)] * len(foreign),
                   metadatas=list(foreign.values()), documents=["foreign text"] * len(foreign))

    akash = corpus / "akash-network.md"
    akash.write_text(akash.read_text(encoding="utf-8").replace("Akash", "Akash Network", 1), encoding="utf-8")
    (corpus / "dynex.md").unlink()
    run_ingest(settings, **QUIET)
    run_ingest(settings, **QUIET)
    left = set(store_mod.get_collection(settings).get(ids=list(foreign), include=[])["ids"])
    assert left == set(foreign), f"ingest deleted vectors it did not write: {sorted(set(foreign) - left)}"
    assert not _missing(_expected(settings), settings)
