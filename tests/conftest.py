"""Shared fixtures: an isolated copy of the corpus and a store built from it once per session."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from contextlib import contextmanager
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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(cmd: list[str], probe: str, timeout: float, headers: dict[str, str] | None = None, **popen: object):
    """Start a server subprocess, wait until ``probe`` answers (bounded), always stop it."""
    proc = subprocess.Popen(cmd, stdout=popen.pop("stdout", subprocess.DEVNULL), stderr=subprocess.STDOUT, **popen)
    try:
        deadline = time.time() + timeout
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(probe, headers=headers or {}), timeout=2).read()
                break
            except Exception:
                if proc.poll() is not None:
                    raise RuntimeError(f"{cmd[0]} exited early with status {proc.returncode}") from None
                if time.time() > deadline:
                    raise RuntimeError(f"{' '.join(cmd[:3])} did not answer {probe} within {timeout:.0f} s") from None
                time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
