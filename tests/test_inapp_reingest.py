"""A re-ingest inside the running app, with chats going on: nothing breaks, nothing is miscounted."""

from __future__ import annotations

import shutil
import threading

from conftest import CORPUS, make_settings

from assistant import store as store_mod
from assistant.answer import Assistant, answer
from assistant.indexing import run_ingest

QUESTIONS = ["ما هي شبكة أكاش؟", "Which blockchain did Render Network move to?", "What is the capital of France?"]


def _corpus(root):
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    return corpus


def _change(corpus) -> None:
    """New files and an edited one: enough writes for the ingest to take a while."""
    for name in ("akash-network.md", "nosana.md", "dynex.md"):
        text = (corpus / "projects" / name).read_text(encoding="utf-8")
        (corpus / f"copy-{name}").write_text(text.replace("# ", "# Copy of ", 1) + "\nThe quillfeather protocol pays this copy in tokens.\n", encoding="utf-8")
    path = corpus / "projects" / "render-network.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nA new closing sentence about rendering.\n", encoding="utf-8")


def test_chats_during_an_in_app_reingest(tmp_path, monkeypatch) -> None:
    # The same change ingested with no chat going on gives the reference counts.
    quiet = make_settings(tmp_path / "quiet", _corpus(tmp_path / "quiet"))
    run_ingest(quiet, progress=False, log=lambda m: None)
    _change(quiet.corpus_dir)
    reference = run_ingest(quiet, progress=False, log=lambda m: None)

    settings = make_settings(tmp_path / "busy", _corpus(tmp_path / "busy"), state_check_seconds=0)
    run_ingest(settings, progress=False, log=lambda m: None)
    assistant = Assistant(settings)
    answer(assistant, QUESTIONS[0])  # the app has served a chat before the re-ingest
    reopened = []
    real_reopen = store_mod.reopen_client
    monkeypatch.setattr(store_mod, "reopen_client", lambda s: reopened.append(1) or real_reopen(s))
    _change(settings.corpus_dir)

    done = threading.Event()
    summary = {}
    problems: list[str] = []
    answers = []

    def ingest() -> None:
        try:
            summary["run"] = run_ingest(settings, progress=False, log=lambda m: None)
        finally:
            done.set()

    def chat() -> None:
        i = 0
        while not done.is_set() or i < len(QUESTIONS):
            question = QUESTIONS[i % len(QUESTIONS)]
            try:
                response = answer(assistant, question)
                answers.append(response)
                if not response.answer or response.status not in {"answered", "unsure", "refused"}:
                    problems.append(f"{question}: {response.status} {response.answer!r}")
            except Exception as exc:  # noqa: BLE001 - every failure is collected and reported
                problems.append(f"{question}: {type(exc).__name__}: {exc}")
            i += 1

    threads = [threading.Thread(target=ingest)] + [threading.Thread(target=chat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    assert problems == [] and len(answers) >= 2 * len(QUESTIONS)
    run = summary["run"]
    assert (run.added, run.updated, run.deleted, run.embedded) == (reference.added, reference.updated, reference.deleted, reference.embedded)
    assert reopened == []  # the app's own ingest never made it drop its Chroma client
    after = assistant.retriever.search("What does the quillfeather protocol pay?", k=3)
    assert after.hits and after.hits[0].doc.metadata["source"].startswith("copy-")  # the new passages are served afterwards
