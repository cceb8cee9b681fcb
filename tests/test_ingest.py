"""Ingest end to end: incremental behaviour, bad files, embedder mismatch, the CLI contract."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import store as store_mod
from assistant.embeddings import get_embeddings
from assistant.indexing import IngestError, is_marker, run_ingest
from conftest import CORPUS, ROOT, make_settings

QUIET = {"progress": False, "log": lambda m: None}


def _small_corpus(tmp: Path) -> Path:
    corpus = tmp / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "decentralizing-ai-overview.ar.md", corpus)
    (corpus / "notes.md").write_text("# ملاحظة\n\nهذه ملاحظة قصيرة عن الحوسبة اللامركزية.\n", encoding="utf-8")
    (corpus / "extra.txt").write_text("A short English note about GPU markets.\n", encoding="utf-8")
    return corpus


def _ids_by_source(settings) -> dict[str, set[str]]:
    got = store_mod.get_client(settings).get_collection(settings.collection).get(include=["metadatas"])
    out: dict[str, set[str]] = {}
    for doc_id, meta in zip(got["ids"], got["metadatas"], strict=True):
        out.setdefault(meta["source"], set()).add(doc_id)
    return out


def test_incremental_add_modify_delete(tmp_path: Path) -> None:
    corpus = _small_corpus(tmp_path)
    settings = make_settings(tmp_path, corpus)
    first = run_ingest(settings, **QUIET)
    assert first.files == 3 and first.failed == 0 and first.added == first.embedded > 3
    before = _ids_by_source(settings)

    again = run_ingest(settings, **QUIET)
    assert (again.added, again.updated, again.deleted, again.embedded) == (0, 0, 0, 0)
    assert again.unchanged == first.added

    # add one file
    (corpus / "new.md").write_text("# جديد\n\nملف جديد عن أسواق الحوسبة.\n", encoding="utf-8")
    added = run_ingest(settings, **QUIET)
    after_add = _ids_by_source(settings)
    assert added.added == len(after_add["new.md"]) == added.embedded
    assert {k: v for k, v in after_add.items() if k != "new.md"} == before

    # modify one file: only its chunks change
    (corpus / "notes.md").write_text("# ملاحظة\n\nنص معدل تماما عن الوكلاء.\n", encoding="utf-8")
    modified = run_ingest(settings, **QUIET)
    after_mod = _ids_by_source(settings)
    assert modified.updated == 1 and modified.added == 0 and modified.deleted == 0 and modified.embedded == 1
    assert after_mod["notes.md"].isdisjoint(after_add["notes.md"])
    assert {k: v for k, v in after_mod.items() if k != "notes.md"} == {k: v for k, v in after_add.items() if k != "notes.md"}

    # delete one file: its chunks disappear, nothing else moves
    (corpus / "extra.txt").unlink()
    deleted = run_ingest(settings, **QUIET)
    after_del = _ids_by_source(settings)
    assert "extra.txt" not in after_del and deleted.deleted == len(after_mod["extra.txt"]) and deleted.embedded == 0
    assert {k: v for k, v in after_del.items()} == {k: v for k, v in after_mod.items() if k != "extra.txt"}
    keys = store_mod.get_record_manager(settings).list_keys()
    assert sorted(k for k in keys if not is_marker(k)) == sorted(i for ids in after_del.values() for i in ids)  # no orphans
    assert sorted(k.split("#")[0] for k in keys if is_marker(k)) == sorted(after_del)  # one "done" marker per file


BAD_FILES = {
    "empty.md": b"",
    "binary.md": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "latin1.md": "café résumé".encode("latin-1"),
    "frontmatter.md": "---\ntitle: [unclosed\n---\n\nنص\n".encode(),
    "image.pdf": b"%PDF-1.4 fake",
    "photo.jpg": b"\xff\xd8\xff\xe0 JFIF",
}


def test_bad_files_are_named_skipped_and_store_kept(tmp_path: Path) -> None:
    corpus = _small_corpus(tmp_path)
    settings = make_settings(tmp_path, corpus)
    run_ingest(settings, **QUIET)
    before = _ids_by_source(settings)
    for name, data in BAD_FILES.items():
        (corpus / name).write_bytes(data)
    # a previously good file becomes broken: its old passages must survive
    (corpus / "notes.md").write_bytes(b"\xff\xfe broken")
    messages: list[str] = []
    summary = run_ingest(settings, progress=False, log=messages.append)
    reasons = {e["source"]: e["reason"] for e in summary.errors}
    assert set(reasons) == set(BAD_FILES) | {"notes.md"}
    assert "empty" in reasons["empty.md"] and "binary" in reasons["binary.md"]
    assert "UTF-8" in reasons["latin1.md"] and "front matter" in reasons["frontmatter.md"]
    assert "not a readable PDF" in reasons["image.pdf"] and "unsupported" in reasons["photo.jpg"]
    assert summary.failed == 7 and all(any(name in m for m in messages) for name in reasons)
    assert _ids_by_source(settings) == before  # nothing lost


def test_nothing_ingestible_is_an_error_and_keeps_store(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "empty.md").write_text("   \n", encoding="utf-8")
    settings = make_settings(tmp_path, corpus)
    with pytest.raises(IngestError, match="empty.md"):
        run_ingest(settings, **QUIET)


def test_embedder_mismatch_stops_with_rebuild_hint(tmp_path: Path) -> None:
    corpus = _small_corpus(tmp_path)
    settings = make_settings(tmp_path, corpus)
    run_ingest(settings, **QUIET)
    collection = store_mod.get_client(settings).get_collection(settings.collection)
    meta = dict(collection.metadata)
    meta.update(embedder_backend="sentence-transformers", embedder_model="all-MiniLM-L6-v2", embedder_dim=384)
    collection.modify(metadata=meta)
    with pytest.raises(store_mod.EmbedderMismatchError) as err:
        store_mod.open_store(settings, get_embeddings(settings))
    text = str(err.value)
    assert "all-MiniLM-L6-v2" in text and "multilingual-e5-small" in text and "python ingest.py --rebuild" in text
    rebuilt = run_ingest(settings, rebuild=True, **QUIET)
    assert rebuilt.added > 0
    store_mod.open_store(settings, get_embeddings(settings))  # no error after the rebuild


def test_chroma_default_embedding_function_never_runs(built_settings, monkeypatch) -> None:
    from chromadb.utils import embedding_functions

    def boom(*a, **k):
        raise AssertionError("Chroma's default embedding function was called (it would download a model)")

    monkeypatch.setattr(embedding_functions.DefaultEmbeddingFunction, "__call__", boom)
    from assistant.retrieval import Retriever

    assert Retriever(built_settings).search("Akash", k=1).hits


def test_ingest_cli_json_twice(tmp_path: Path) -> None:
    corpus = _small_corpus(tmp_path)
    cmd = [sys.executable, str(ROOT / "ingest.py"), "--corpus", str(corpus), "--store", str(tmp_path / "s"), "--json"]
    runs = [json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=tmp_path).stdout) for _ in range(2)]
    for run in runs:
        assert {"files", "added", "updated", "deleted", "unchanged", "failed", "seconds"} <= set(run)
    assert runs[0]["added"] > 0 and runs[1]["added"] == 0 and runs[1]["updated"] == 0
    assert runs[1]["unchanged"] == runs[0]["added"]


def test_ingest_cli_exits_2_when_it_skipped_a_file(tmp_path: Path) -> None:
    """The readable files are indexed, the broken one named; the exit status tells a script that one was skipped."""
    corpus = _small_corpus(tmp_path)
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7 this is not a PDF")
    cmd = [sys.executable, str(ROOT / "ingest.py"), "--corpus", str(corpus), "--store", str(tmp_path / "s"), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 2, done.stderr
    run = json.loads(done.stdout)
    assert run["failed"] == 1 and run["added"] > 0 and [e["source"] for e in run["errors"]] == ["broken.pdf"]
    (corpus / "broken.pdf").unlink()
    (corpus / "diagram.png").write_bytes(b"\x89PNG\r\n")  # a file of a type ingest does not read: named, no failure status
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert again.returncode == 0 and [e["source"] for e in json.loads(again.stdout)["errors"]] == ["diagram.png"]


def test_file_groups_keep_files_whole() -> None:
    from langchain_core.documents import Document

    from assistant.indexing import file_groups

    sizes = {"a.md": 3, "b.md": 1, "c.md": 5, "d.md": 2, "e.md": 1}
    per_file = {src: [Document(page_content=f"{src} {i}", metadata={"source": src}) for i in range(n)] for src, n in sizes.items()}
    groups = file_groups(per_file, 4)
    assert [d.page_content for g in groups for d in g] == [d.page_content for c in per_file.values() for d in c]
    assert all(len(g) >= 4 for g in groups[:-1])
    for src in sizes:  # every file lies in exactly one group
        assert sum(any(d.metadata["source"] == src for d in g) for g in groups) == 1


def test_grouped_ingest_reembeds_only_the_edited_file(tmp_path: Path, monkeypatch) -> None:
    """Files share a store write; editing one must not re-embed or drop its group's other files."""
    import assistant.indexing as indexing

    monkeypatch.setattr(indexing, "GROUP_CHUNKS", 6)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(12):
        sections = "\n\n".join(f"## قسم {s}\n\nالملف {n} القسم {s}: سوق الحوسبة اللامركزية رقم {n * 10 + s}." for s in range(3))
        (corpus / f"f{n:02d}.md").write_text(f"# ملف {n}\n\n{sections}\n", encoding="utf-8")
    settings = make_settings(tmp_path, corpus)
    first = run_ingest(settings, **QUIET)
    assert first.added == first.embedded == 36
    before = _ids_by_source(settings)

    edited = corpus / "f05.md"  # in the middle of a group
    edited.write_text(edited.read_text(encoding="utf-8").replace("القسم 1:", "القسم الأول المعدل:"), encoding="utf-8")
    again = run_ingest(settings, **QUIET)
    after = _ids_by_source(settings)
    assert (again.embedded, again.updated, again.added, again.deleted, again.unchanged) == (1, 1, 0, 0, 35)
    assert {k: v for k, v in after.items() if k != "f05.md"} == {k: v for k, v in before.items() if k != "f05.md"}
    assert len(after["f05.md"]) == 3 and len(after["f05.md"] & before["f05.md"]) == 2


def test_unchanged_files_are_neither_chunked_nor_indexed_again(tmp_path: Path, monkeypatch) -> None:
    import assistant.indexing as indexing

    corpus = _small_corpus(tmp_path)
    settings = make_settings(tmp_path, corpus)
    first = run_ingest(settings, **QUIET)
    chunked: list[str] = []
    real = indexing.chunk_document
    monkeypatch.setattr(indexing, "chunk_document", lambda doc, *a, **k: chunked.append(doc.source) or real(doc, *a, **k))

    again = run_ingest(settings, **QUIET)
    assert chunked == [] and (again.files, again.unchanged, again.added, again.deleted) == (3, first.added, 0, 0)

    (corpus / "notes.md").write_text("# ملاحظة\n\nنص معدل عن الوكلاء.\n", encoding="utf-8")
    edited = run_ingest(settings, **QUIET)
    assert chunked == ["notes.md"] and (edited.updated, edited.embedded, edited.unchanged) == (1, 1, first.added - 1)
    assert run_ingest(settings, **QUIET).unchanged == first.added and chunked == ["notes.md"]


def test_new_chunk_settings_rechunk_every_file(tmp_path: Path) -> None:
    corpus = _small_corpus(tmp_path)
    run_ingest(make_settings(tmp_path, corpus), **QUIET)
    smaller = make_settings(tmp_path, corpus, chunk_size=64, chunk_overlap=8)
    changed = run_ingest(smaller, **QUIET)
    assert changed.embedded > 0 and changed.unchanged < changed.embedded
    clean = make_settings(tmp_path / "clean", corpus, chunk_size=64, chunk_overlap=8)
    run_ingest(clean, **QUIET)
    # ids include the writer (each store's own record database), so compare what is cited
    assert _passages(smaller) == _passages(clean)  # no chunk of the old size is left


def _passages(settings) -> list[tuple[str, int, int, str]]:
    got = store_mod.get_client(settings).get_collection(settings.collection).get(include=["metadatas", "documents"])
    return sorted((m["source"], m["start_line"], m["end_line"], d) for m, d in zip(got["metadatas"], got["documents"], strict=True))
