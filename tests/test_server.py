"""Server mode for real: a Chroma server from the installed package on 127.0.0.1,
then ingest, an incremental re-ingest and retrieval through chromadb.HttpClient."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, make_settings

from assistant.indexing import run_ingest
from assistant.procs import free_port, serving
from assistant.retrieval import Retriever

QUIET = {"progress": False, "log": lambda m: None}


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    cmd = [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    with serving(cmd, f"http://127.0.0.1:{port}/api/v2/heartbeat", 60):
        yield port


def test_ingest_reingest_and_retrieve_against_server(tmp_path: Path, chroma_server: int) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(tmp_path, corpus, chroma_host="127.0.0.1", chroma_port=chroma_server,
                             record_db_url=f"sqlite:///{tmp_path / 'records.sqlite'}", collection="server_test")
    first = run_ingest(settings, **QUIET)
    assert first.added > 20 and first.failed == 0
    second = run_ingest(settings, **QUIET)
    assert (second.added, second.updated, second.deleted, second.embedded) == (0, 0, 0, 0)
    (corpus / "projects" / "opsec.md").unlink()
    third = run_ingest(settings, **QUIET)
    assert third.deleted == 1 and third.added == 0
    retriever = Retriever(settings)
    assert settings.server_mode and not (tmp_path / "store").exists()  # nothing was written locally
    result = retriever.search("Which blockchain did Render Network move to?", k=3)
    assert any("سولانا" in h.text for h in result.hits)
    assert not any(h.doc.metadata["source"] == "projects/opsec.md" for h in retriever.search("OpSec supercomputers", k=5).hits)
