"""``python -m assistant eval``: retrieval quality measured, not assumed.

A question set is JSONL: ``{"id", "lang", "question", "history", "gold_keywords",
"answerable"}`` (unknown keys ignored; optional ``kind``). A passage is relevant
when its text contains every gold keyword verbatim. The JSON report carries
every question's results so anyone can recompute the metrics.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.text import detect_language

KINDS = ("direct", "cross-lingual", "follow-up")


def load_question_set(path: Path) -> list[dict[str, Any]]:
    """Parse a JSONL set; a bad line is an error naming the line, not a silent skip."""
    questions = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise ValueError(f"{path}:{number}: each line needs at least a \"question\" string")
        item.setdefault("id", f"line-{number}")
        item.setdefault("history", [])
        item.setdefault("gold_keywords", [])
        item.setdefault("answerable", bool(item["gold_keywords"]))
        item.setdefault("lang", detect_language(item["question"]))
        item["kind"] = item.get("kind") or question_kind(item)
        questions.append(item)
    return questions


def question_kind(item: dict[str, Any]) -> str:
    """follow-up when it has history; cross-lingual when question and gold keywords differ in script."""
    if item.get("history"):
        return "follow-up"
    gold = " ".join(item.get("gold_keywords") or [])
    if gold and any("\u0600" <= ch <= "\u06ff" for ch in gold) and item.get("lang") != "ar":
        return "cross-lingual"
    return "direct"


def is_relevant(text: str, gold_keywords: Sequence[str]) -> bool:
    """A passage is relevant when it contains every gold keyword verbatim."""
    return bool(gold_keywords) and all(k in text for k in gold_keywords)


def first_relevant_rank(results: Sequence[dict[str, Any]], gold_keywords: Sequence[str]) -> int | None:
    for rank, result in enumerate(results, start=1):
        if is_relevant(result["text"], gold_keywords):
            return rank
    return None


def metrics(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """recall@1/3/5 and MRR over answerable rows; each row has ``rank`` (None = not found)."""
    rows = [r for r in rows if r["answerable"]]
    n = len(rows)
    if not n:
        return {"n": 0}
    out: dict[str, Any] = {"n": n}
    for k in (1, 3, 5):
        out[f"recall@{k}"] = round(sum(1 for r in rows if r["rank"] is not None and r["rank"] <= k) / n, 4)
    out["mrr"] = round(sum(1 / r["rank"] for r in rows if r["rank"]) / n, 4)
    return out


def summarize(rows: Sequence[dict[str, Any]], k: int, mode: str) -> dict[str, Any]:
    """Metrics overall, per language and per kind, plus refusal rates."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    langs = sorted({r["lang"] for r in rows})
    return {
        "mode": mode,
        "k": k,
        "questions": len(rows),
        "overall": metrics(rows),
        "by_lang": {lang: metrics(r for r in rows if r["lang"] == lang) for lang in langs},
        "by_kind": {kind: metrics(r for r in rows if r["kind"] == kind) for kind in KINDS},
        "refusal": {
            "unanswerable": len(unanswerable),
            "refusal_rate": round(sum(r["refused"] for r in unanswerable) / len(unanswerable), 4) if unanswerable else None,
            "answerable": len(answerable),
            "false_refusal_rate": round(sum(r["refused"] for r in answerable) / len(answerable), 4) if answerable else None,
        },
    }


def run_eval(settings: Settings, path: Path, k: int = 5, retriever: Any = None) -> dict[str, Any]:
    """Run every question through the retriever and return {"summary", "questions"}."""
    from assistant.retrieval import Retriever

    retriever = retriever or Retriever(settings)
    questions = load_question_set(path)
    rows, report = [], []
    for item in questions:
        result = retriever.search(item["question"], item.get("history") or [], k=k)
        results = [{"id": h.id, "score": round(h.score, 6), "text": h.text} for h in result.hits]
        rank = first_relevant_rank(results, item["gold_keywords"]) if item["answerable"] else None
        rows.append({"lang": item["lang"], "kind": item["kind"], "answerable": bool(item["answerable"]), "rank": rank, "refused": result.refused})
        report.append({"id": item["id"], "query": result.query, "refused": result.refused, "rank": rank, "results": results})
    return {"summary": summarize(rows, k, settings.retrieval_mode), "questions": report}


def format_report(summary: dict[str, Any]) -> str:
    """A small table for people."""
    lines = [f"mode {summary['mode']} · k {summary['k']} · {summary['questions']} questions", ""]
    lines.append(f"{'group':<16}{'n':>4}{'R@1':>8}{'R@3':>8}{'R@5':>8}{'MRR':>8}")
    groups = [("all", summary["overall"])] + list(summary["by_lang"].items()) + list(summary["by_kind"].items())
    for name, m in groups:
        if not m.get("n"):
            continue
        lines.append(f"{name:<16}{m['n']:>4}{m['recall@1']:>8.3f}{m['recall@3']:>8.3f}{m['recall@5']:>8.3f}{m['mrr']:>8.3f}")
    ref = summary["refusal"]
    if ref["refusal_rate"] is not None:
        lines.append(f"\nrefused {ref['refusal_rate']:.0%} of {ref['unanswerable']} unanswerable questions")
    if ref["false_refusal_rate"] is not None:
        lines.append(f"refused {ref['false_refusal_rate']:.0%} of {ref['answerable']} answerable questions (false refusals)")
    return "\n".join(lines)
