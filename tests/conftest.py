"""Shared fixtures: an isolated copy of the corpus and a store built from it once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.config import Settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


def make_settings(tmp: Path, corpus: Path, **extra: object) -> Settings:
    """Settings pointing at temporary folders, immune to the developer's .env."""
    values: dict = {"corpus_dir": corpus, "store_dir": tmp / "store", "llm_backend": "extractive", "chroma_host": None}
    values.update(extra)
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="session")
def corpus_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("corpus") / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture(scope="session")
def built_settings(tmp_path_factory: pytest.TempPathFactory, corpus_copy: Path) -> Settings:
    """A store of the real corpus, built once and shared by read-only tests."""
    from assistant.indexing import run_ingest

    settings = make_settings(tmp_path_factory.mktemp("built"), corpus_copy)
    summary = run_ingest(settings, progress=False, log=lambda m: None)
    assert summary.added > 0 and summary.failed == 0
    return settings


@pytest.fixture(scope="session")
def retriever(built_settings: Settings):
    from assistant.retrieval import Retriever

    return Retriever(built_settings)
