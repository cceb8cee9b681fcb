"""The eval command on a tiny set whose metrics are known in advance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from assistant.evaluation import (compare_reports, contains_all, first_relevant_rank, format_comparison, load_question_set, metrics,
                                  question_kind, run_eval)
from assistant.text import words
from conftest import ROOT


def test_metric_arithmetic() -> None:
    rows = [
        {"answerable": True, "rank": 1},
        {"answerable": True, "rank": 3},
        {"answerable": True, "rank": None},
        {"answerable": False, "rank": None},
    ]
    m = metrics(rows)
    assert m["n"] == 3 and m["recall@1"] == round(1 / 3, 4) and m["recall@3"] == round(2 / 3, 4)
    assert m["mrr"] == round((1 + 1 / 3) / 3, 4)
    results = [{"text": "a b"}, {"text": "x سولانا y Render"}]
    assert first_relevant_rank(results, ["سولانا", "Render"]) == 2
    assert first_relevant_rank(results, ["سولانا", "Ethereum"]) is None
    assert contains_all("تقدم تسعيرًا قائمًا على المزاد\nالعكسي", ["تسعيرا قائما على المزاد العكسى"])  # diacritics, ى, line break
    quoted = metrics([{"answerable": True, "rank": 1, "quotes_fact": True}, {"answerable": True, "rank": 2, "quotes_fact": False}])
    assert quoted["quotes_fact"] == 0.5


def test_kind_is_derived() -> None:
    assert question_kind({"history": [{"role": "user", "content": "x"}]}) == "follow-up"
    assert question_kind({"lang": "en", "gold_keywords": ["سولانا"]}) == "cross-lingual"
    assert question_kind({"lang": "ar", "gold_keywords": ["سولانا"]}) == "direct"


def test_eval_on_small_set(built_settings, tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    lines = [
        {"id": "q1", "lang": "en", "question": "Which blockchain did Render Network move to?", "gold_keywords": ["سولانا"], "answerable": True, "extra": 1},
        {"id": "q2", "lang": "ar", "question": "ما هي شبكة أكاش؟", "gold_keywords": ["المزاد العكسي"], "answerable": True},
        {"id": "q3", "lang": "en", "question": "What is the capital of France?", "gold_keywords": [], "answerable": False},
        {"id": "q4", "lang": "en", "question": "Akash?", "gold_keywords": ["this keyword is nowhere"], "answerable": True},
    ]
    qa.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    assert len(load_question_set(qa)) == 4
    report = run_eval(built_settings, qa, k=5, baseline=True)
    s = report["summary"]
    assert s["overall"]["n"] == 3 and s["overall"]["recall@5"] == round(2 / 3, 4)
    assert s["status"]["unanswerable"] == {"n": 1, "answered": 0.0, "unsure": 0.0, "refused": 1.0}
    by_id = {q["id"]: q for q in report["questions"]}
    assert by_id["q4"]["rank"] is None and by_id["q1"]["rank"] is not None
    assert by_id["q2"]["status"] == "answered" and by_id["q2"]["cites_fact"] is True
    assert by_id["q3"]["status"] == "refused" and by_id["q3"]["quotes_fact"] is None
    assert by_id["q3"]["answer_words"] is None and by_id["q2"]["answer_words"] == len(words(by_id["q2"]["answer"])) > 0
    given = [q["answer_words"] for q in report["questions"] if q["answer_words"] is not None and q["id"] != "q3"]
    assert s["overall"]["answer_words"] == round(sum(given) / len(given), 1)
    # the naive baseline ran on the same questions, with the same metric
    assert report["baseline"]["questions"] == 4 and report["baseline"]["chunks"] > 0
    # the metrics can be recomputed from the JSON alone
    for q in report["questions"]:
        gold = next(x for x in lines if x["id"] == q["id"])["gold_keywords"]
        assert q["rank"] == first_relevant_rank(q["results"], gold) or not gold


def test_eval_scores_what_the_model_answered_not_what_it_wrote(built_settings, tmp_path: Path) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from assistant.answer import Assistant

    qa = tmp_path / "qa.jsonl"
    lines = [{"id": "grounded", "lang": "en", "question": "Which blockchain did Render Network move to?", "gold_keywords": ["Solana"],
              "answerable": True},
             {"id": "invented", "lang": "en", "question": "What is Akash Network?", "gold_keywords": ["Cosmos"], "answerable": True}]
    qa.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    replies = ["Render Network moved to Solana to improve performance [1].", "Akash Network is a moon base, says Cosmos magazine."]
    settings = built_settings.model_copy(update={"llm_backend": "openai"})
    report = run_eval(settings, qa, assistant=Assistant(settings, llm=FakeListChatModel(responses=replies)))
    by_id = {q["id"]: q for q in report["questions"]}
    assert report["summary"]["backend"] == "openai"
    assert by_id["grounded"]["answer"] == replies[0] and by_id["grounded"]["backend"] == "openai"
    assert by_id["grounded"]["status"] == "answered" and by_id["grounded"]["quotes_fact"] is True
    # the invented answer names the gold word but cites nothing: it is set aside, and the quoted passages are scored
    invented = by_id["invented"]
    assert invented["generated"] == replies[1] and invented["backend"] == "extractive" and invented["status"] == "unsure"
    assert replies[1] not in invented["answer"] and invented["quotes_fact"] is contains_all(invented["answer"], ["Cosmos"])
    assert report["summary"]["status"]["answerable"]["unsure"] == 0.5


def test_eval_cli_json(built_settings, tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"id": "x", "lang": "en", "question": "What is Akash Network?", "gold_keywords": ["Akash"], "answerable": True}) + "\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "assistant", "eval", "--set", str(qa), "--store", str(built_settings.store_dir), "--answers", "--json"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    data = json.loads(out.stdout)
    assert set(data) == {"summary", "questions"} and data["summary"]["overall"]["recall@1"] == 1.0
    assert {"id", "lang", "kind", "answerable", "query", "status", "reason", "answer", "results"} <= set(data["questions"][0])
    assert data["questions"][0]["status"] in {"answered", "unsure", "refused"}
    assert (data["questions"][0]["lang"], data["questions"][0]["answerable"]) == ("en", True)


def test_eval_cli_ingests_another_corpus_into_a_temporary_store(tmp_path: Path) -> None:
    """`eval --corpus DIR` on a corpus the assistant has never seen, without touching the main store."""
    corpus = tmp_path / "wiki"
    corpus.mkdir()
    for name in ("arcd-002.md", "arcd-004.md", "arcd-006.md"):
        (corpus / name).write_text((ROOT / "tests" / "eval" / "arcd" / "corpus" / name).read_text(encoding="utf-8"), encoding="utf-8")
    qa = tmp_path / "qa.jsonl"
    gold = "القمر الطبيعي الوَحيد للأرض"
    qa.write_text(json.dumps({"id": "m", "lang": "en", "question": "What is the Moon?", "gold_keywords": [gold], "answerable": True},
                             ensure_ascii=False) + "\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "assistant", "eval", "--corpus", str(corpus), "--set", str(qa), "--json"],
                         capture_output=True, text=True, check=True, cwd=tmp_path, env={**os.environ, "STORE_DIR": str(tmp_path / "unused")})
    data = json.loads(out.stdout)
    assert data["questions"][0]["rank"] == 1 and data["questions"][0]["status"] != "refused"
    assert not (tmp_path / "unused").exists()
    assert {"id", "score", "text"} <= set(data["questions"][0]["results"][0])


def _row(qid: str, question: str, rank: int | None, status: str = "answered", *, lang: str | None = None,
         answerable: bool | None = True, quotes: bool | None = True, answer: str = "a") -> dict:
    row = {"id": qid, "question": question, "rank": rank, "status": status, "quotes_fact": quotes, "cites_fact": quotes, "answer": answer}
    if lang is not None:
        row["lang"] = lang
    if answerable is not None:
        row["answerable"] = answerable
    return row


def test_compare_reports_counts_changes_and_their_uncertainty() -> None:
    """30 of 40 English questions move from rank 2 to rank 1, 10 Arabic ones stay: the English gain comes with
    an interval clear of zero, the Arabic one is exactly zero; status moves are counted per group."""
    before = [_row(f"e{i}", "What is it?", 2, lang="en") for i in range(40)]
    after = [_row(f"e{i}", "What is it?", 1 if i < 30 else 2, lang="en", answer="b" if i < 30 else "a") for i in range(40)]
    before += [_row(f"a{i}", "ما هو؟", 1, lang="ar") for i in range(10)]
    after += [_row(f"a{i}", "ما هو؟", 1, lang="ar", status="unsure" if i == 0 else "answered") for i in range(10)]
    before.append(_row("u", "What is the capital of France?", None, "refused", lang="en", answerable=False, quotes=None))
    after.append(_row("u", "What is the capital of France?", None, "unsure", lang="en", answerable=False, quotes=None))
    before.append(_row("gone", "Only before?", 1, lang="en"))
    diff = compare_reports({"questions": before}, {"questions": after})
    assert (diff["questions"], diff["only_before"], diff["only_after"]) == (51, 1, 0)
    en, ar = diff["by_lang"]["en"], diff["by_lang"]["ar"]
    assert en["n"] == 40 and en["recall@1"]["diff"] == 0.75 and (en["recall@1"]["better"], en["recall@1"]["worse"]) == (30, 0)
    assert 0.5 < en["recall@1"]["ci95"][0] <= 0.75 <= en["recall@1"]["ci95"][1] <= 1.0
    assert en["mrr"]["before"] == 0.5 and en["mrr"]["after"] == 0.875
    assert ar["recall@1"]["diff"] == 0.0 and ar["recall@1"]["ci95"] == [0.0, 0.0]
    assert diff["status"] == {"answerable": {"answered -> unsure": 1}, "unanswerable": {"refused -> unsure": 1}}
    assert len(diff["changed"]) == 32 and sum(c["answer_changed"] for c in diff["changed"]) == 30
    table = format_comparison(diff, listed=True)
    assert "recall@1" in table and "answered -> unsure 1" in table and "a0: status answered -> unsure" in table


def test_compare_reports_of_an_older_format_read_the_language_from_the_script() -> None:
    """Reports written before rows carried "lang" and "answerable": Arabic script is Arabic, and a question no
    run found or quoted anything for is not counted in recall."""
    before = [_row("x", "ما هو أكاش؟", 2, answerable=None), _row("y", "What is Akash?", 1, answerable=None),
              _row("z", "Capital of France?", None, "refused", answerable=None, quotes=None)]
    after = [_row("x", "ما هو أكاش؟", 1, answerable=None), _row("y", "What is Akash?", 1, answerable=None),
             _row("z", "Capital of France?", None, "refused", answerable=None, quotes=None)]
    diff = compare_reports({"questions": before}, {"questions": after})
    assert diff["guessed"] and "older report" in format_comparison(diff)
    assert diff["by_lang"]["ar"]["n"] == 1 and diff["by_lang"]["ar"]["recall@1"]["diff"] == 1.0
    assert diff["by_lang"]["en"]["n"] == 1 and diff["by_lang"]["en"]["recall@1"]["diff"] == 0.0
    assert diff["by_lang"]["en"]["recall@1"]["ci95"] is None  # one question: no interval means anything
    # refused in both and never found: guessed unanswerable, unless the newer report's row says otherwise
    refused = _row("w", "What is Akash?", None, "refused", answerable=None, quotes=None)
    assert "en" not in compare_reports({"questions": [refused]}, {"questions": [refused]})["by_lang"] or \
        compare_reports({"questions": [refused]}, {"questions": [refused]})["by_lang"]["en"]["n"] == 0
    newer = compare_reports({"questions": [refused]}, {"questions": [{**refused, "lang": "en", "answerable": True}]})
    assert newer["by_lang"]["en"]["n"] == 1 and newer["by_lang"]["en"]["recall@1"]["before"] == 0.0


def test_compare_agrees_with_the_reports_own_figures_and_counts_a_refusal_as_not_quoting() -> None:
    """Recall and MRR as ``metrics`` computes them on the same rows; a quoted answer that becomes a refusal is a
    lost quote (the summary, leaving refusals out, would not show it)."""
    import random

    rng = random.Random(3)
    rows = [(f"q{i}", rng.choice([1, 2, 3, None]), rng.choice([1, None])) for i in range(60)]
    before = [_row(q, "What?", r1, lang="en", quotes=r1 == 1) for q, r1, _ in rows]
    after = [_row(q, "What?", r2, lang="en", quotes=r2 == 1) for q, _, r2 in rows]
    diff = compare_reports({"questions": before}, {"questions": after})["by_lang"]["en"]
    for report, side in ((before, "before"), (after, "after")):
        expected = metrics([{**r, "answer_words": None} for r in report])
        assert diff["recall@1"][side] == expected["recall@1"] and diff["mrr"][side] == expected["mrr"]
    lost = compare_reports({"questions": [_row("r", "What?", 1, lang="en", quotes=True), _row("s", "What?", 1, lang="en", quotes=False)]},
                           {"questions": [_row("r", "What?", 1, "refused", lang="en", quotes=None),
                                          _row("s", "What?", 1, lang="en", quotes=False)]})
    assert (lost["by_lang"]["en"]["quotes_fact"]["before"], lost["by_lang"]["en"]["quotes_fact"]["after"]) == (0.5, 0.0)
    assert lost["by_lang"]["en"]["quotes_fact"]["worse"] == 1


def test_compare_refuses_reports_of_different_sets_and_bad_rows() -> None:
    import pytest

    good = {"questions": [_row("q", "What is Akash?", 1, lang="en")]}
    cases = [({"questions": [_row("q", "What is Render?", 1, lang="en")]}, "two different questions"),
             ({"questions": [_row("q", "What is Akash?", 1, lang="en")] * 2}, "appears twice"),
             ({"questions": [{"id": "q", "question": "What is Akash?", "rank": 1}]}, "no status"),
             ({"questions": [_row("q", "What is Akash?", "1", lang="en")]}, "rank '1'"),
             ({"questions": ["q"]}, "needs an \"id\""),
             ({"questions": [_row("q", "What is Akash?", 1, lang="ar")]}, "disagree on its lang"),
             ({"rows": []}, "no \"questions\" list")]
    for after, message in cases:
        with pytest.raises(ValueError, match=message):
            compare_reports(good, after)


def test_compare_cli(tmp_path: Path) -> None:
    before, after, broken = tmp_path / "before.json", tmp_path / "after.json", tmp_path / "broken.json"
    before.write_text(json.dumps({"questions": [_row("q", "What is Akash?", 3, lang="en")]}), encoding="utf-8")
    after.write_text(json.dumps({"questions": [_row("q", "What is Akash?", 1, lang="en")]}), encoding="utf-8")
    broken.write_text("{not json", encoding="utf-8")
    undecodable = tmp_path / "latin1.json"
    undecodable.write_bytes(b"{\"questions\": [\"\xe9\"]}")
    duplicated = tmp_path / "twice.json"
    duplicated.write_text(json.dumps({"questions": [_row("q", "What is Akash?", 1, lang="en")] * 2}), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "assistant", "compare", str(before), str(after), "--json"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    data = json.loads(out.stdout)
    assert data["by_lang"]["en"]["mrr"]["before"] == 0.3333 and data["by_lang"]["en"]["mrr"]["after"] == 1.0
    failed = subprocess.run([sys.executable, "-m", "assistant", "compare", str(before), str(broken)], capture_output=True, text=True, cwd=ROOT)
    assert failed.returncode == 1 and "broken.json: not an `eval --json` report" in failed.stderr
    many_before, many_after = tmp_path / "many-before.json", tmp_path / "many-after.json"  # --list: more than a pipe holds
    many_before.write_text(json.dumps({"questions": [_row(f"q{i}", f"What is project {i}?", 2, lang="en") for i in range(3000)]}))
    many_after.write_text(json.dumps({"questions": [_row(f"q{i}", f"What is project {i}?", 1, lang="en") for i in range(3000)]}))
    piped = subprocess.run(f"{sys.executable} -m assistant compare {many_before} {many_after} --list | head -c 1", shell=True,
                           capture_output=True, text=True, cwd=ROOT)
    assert piped.stdout and "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr
    for bad, message in ((undecodable, "latin1.json: not an `eval --json` report"), (duplicated, "twice.json: id 'q' appears twice")):
        failed = subprocess.run([sys.executable, "-m", "assistant", "compare", str(before), str(bad)], capture_output=True, text=True, cwd=ROOT)
        assert failed.returncode == 1 and message in failed.stderr and "Traceback" not in failed.stderr
