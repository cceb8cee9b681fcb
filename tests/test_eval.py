"""The eval command on a tiny set whose metrics are known in advance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from assistant.evaluation import first_relevant_rank, load_question_set, metrics, question_kind, run_eval
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


def test_kind_is_derived() -> None:
    assert question_kind({"history": [{"role": "user", "content": "x"}]}) == "follow-up"
    assert question_kind({"lang": "en", "gold_keywords": ["سولانا"]}) == "cross-lingual"
    assert question_kind({"lang": "ar", "gold_keywords": ["سولانا"]}) == "direct"


def test_eval_on_small_set(built_settings, retriever, tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    lines = [
        {"id": "q1", "lang": "en", "question": "Which blockchain did Render Network move to?", "gold_keywords": ["سولانا"], "answerable": True, "extra": 1},
        {"id": "q2", "lang": "ar", "question": "ما هي شبكة أكاش؟", "gold_keywords": ["المزاد العكسي"], "answerable": True},
        {"id": "q3", "lang": "en", "question": "What is the capital of France?", "gold_keywords": [], "answerable": False},
        {"id": "q4", "lang": "en", "question": "Akash?", "gold_keywords": ["this keyword is nowhere"], "answerable": True},
    ]
    qa.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    assert len(load_question_set(qa)) == 4
    report = run_eval(built_settings, qa, k=5, retriever=retriever)
    s = report["summary"]
    assert s["overall"]["n"] == 3 and s["overall"]["recall@5"] == round(2 / 3, 4)
    assert s["refusal"]["refusal_rate"] == 1.0 and s["refusal"]["unanswerable"] == 1
    by_id = {q["id"]: q for q in report["questions"]}
    assert by_id["q4"]["rank"] is None and by_id["q1"]["rank"] is not None
    # the metrics can be recomputed from the JSON alone
    for q in report["questions"]:
        gold = next(x for x in lines if x["id"] == q["id"])["gold_keywords"]
        assert q["rank"] == first_relevant_rank(q["results"], gold) or not gold


def test_eval_cli_json(built_settings, tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"id": "x", "lang": "en", "question": "What is Akash Network?", "gold_keywords": ["Akash"], "answerable": True}) + "\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "assistant", "eval", "--set", str(qa), "--store", str(built_settings.store_dir), "--json"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    data = json.loads(out.stdout)
    assert set(data) == {"summary", "questions"} and data["summary"]["overall"]["recall@1"] == 1.0
    assert {"id", "query", "refused", "results"} <= set(data["questions"][0])
    assert {"id", "score", "text"} <= set(data["questions"][0]["results"][0])
