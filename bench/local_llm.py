"""Local-LLM benchmark: time to first token, tokens per second, and answer quality per GGUF.

    python bench/local_llm.py [--models smollm2 gemma3-270m] [--questions 10] [--json]

Quality is measured, not eyeballed: for each answer, the share of questions
with at least one valid citation, the share of sentences flagged unsupported
by the guard, whether the answer is in the question's language, and whether
it contains the expected fact (a keyword). Loopback only; no network.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.answer import Assistant, answer_stream  # noqa: E402
from assistant.config import load_settings  # noqa: E402
from assistant.indexing import ensure_store  # noqa: E402
from assistant.retrieval import Retriever  # noqa: E402
from assistant.text import detect_language  # noqa: E402

QUESTIONS = [
    ("What is Akash Network?", ["auction", "Cosmos", "Kubernetes", "المزاد"]),
    ("ما هي شبكة أكاش؟", ["المزاد", "Cosmos", "Kubernetes", "سحابية"]),
    ("Which blockchain did Render Network move to?", ["Solana", "سولانا"]),
    ("إلى أي بلوك تشين انتقلت Render Network؟", ["سولانا", "Solana"]),
    ("Which project is built on Arbitrum?", ["Aethir"]),
    ("أي مشروع يعمل على كاردانو؟", ["Iagon"]),
    ("Which blockchain do io.net and Nosana use?", ["Solana", "سولانا"]),
    ("What does Ritual's Infernet do?", ["smart contract", "العقود الذكية", "models"]),
    ("لماذا يصعب تحويل البيانات اللامركزية إلى توكنات؟", ["البيانات", "توكنات"]),
    ("What does crypto do for AI training?", ["trading", "assets", "الأصول", "compute"]),
]


def run_model(model: str, questions: list[tuple[str, list[str]]], max_tokens: int) -> dict:
    settings = load_settings(llm_backend="llamacpp", llm_model_path=model, llm_max_tokens=max_tokens)
    ensure_store(settings, log=lambda m: print(m, file=sys.stderr))
    assistant = Assistant(settings, retriever=Retriever(settings))
    load_started = time.perf_counter()
    assistant.llm()
    load_seconds = time.perf_counter() - load_started
    rows = []
    for question, expected in questions:
        started = time.perf_counter()
        first = None
        tokens = 0
        final = None
        for event in answer_stream(assistant, question, k=3):
            if event.kind == "token":
                tokens += 1
                if first is None:
                    first = time.perf_counter() - started
            else:
                final = event.response
        total = time.perf_counter() - started
        generating = total - (first or total)
        rows.append({
            "question": question,
            "ttft_s": round(first or total, 3),
            "tokens": tokens,
            "tokens_per_s": round(tokens / generating, 1) if generating > 0 and tokens > 1 else None,
            "cited": bool(final.citations),
            "unsupported": len(final.unsupported),
            "right_language": detect_language(final.answer) == final.language,
            "has_fact": any(k.lower() in final.answer.lower() for k in expected),
            "backend": final.backend,
            "answer": final.answer[:300],
        })
    n = len(rows)
    return {
        "model": model,
        "load_s": round(load_seconds, 2),
        "ttft_p50_s": sorted(r["ttft_s"] for r in rows)[n // 2],
        "tokens_per_s_mean": round(sum(r["tokens_per_s"] or 0 for r in rows) / max(1, sum(bool(r["tokens_per_s"]) for r in rows)), 1),
        "cited_rate": round(sum(r["cited"] for r in rows) / n, 2),
        "right_language_rate": round(sum(r["right_language"] for r in rows) / n, 2),
        "fact_rate": round(sum(r["has_fact"] for r in rows) / n, 2),
        "unsupported_sentences": sum(r["unsupported"] for r in rows),
        "rows": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["smollm2", "gemma3-270m"], help="shipped names or GGUF paths")
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [run_model(m, QUESTIONS[: args.questions], args.max_tokens) for m in args.models]
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return 0
    print(f"{'model':<16}{'load s':>8}{'TTFT p50':>10}{'tok/s':>8}{'cited':>7}{'lang ok':>9}{'fact':>6}{'unsupp.':>9}")
    for r in results:
        print(f"{r['model']:<16}{r['load_s']:>8}{r['ttft_p50_s']:>10}{r['tokens_per_s_mean']:>8}{r['cited_rate']:>7}"
              f"{r['right_language_rate']:>9}{r['fact_rate']:>6}{r['unsupported_sentences']:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
