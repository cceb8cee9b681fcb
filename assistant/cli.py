"""Command line: ``python -m assistant {ingest,retrieve,eval,compare,ask}``.

Each subcommand parses its flags into Settings overrides and calls one
function of the package, so the CLI, ``ingest.py`` and ``app.py`` share code.
Errors a person can fix are printed as one readable line and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.config import load_settings


def _dump(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def read_history(path: str | None) -> list[dict[str, str]]:
    """A JSON list of {"role", "content"} turns from a file ('-' for stdin)."""
    if not path:
        return []
    raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    data = json.loads(raw)
    if not isinstance(data, list) or not all(isinstance(t, dict) and "content" in t for t in data):
        raise ValueError(f"{path}: history must be a JSON list of {{\"role\", \"content\"}} objects")
    return [{"role": str(t.get("role", "user")), "content": str(t["content"])} for t in data]


def add_store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", dest="corpus_dir", help="corpus folder (CORPUS_DIR)")
    parser.add_argument("--store", dest="store_dir", help="Chroma folder (STORE_DIR)")


def ingest_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="ingest.py", description="Build or refresh the passage store from corpus/.")
    add_store_flags(parser)
    parser.add_argument("--rebuild", action="store_true", help="drop the store and index everything again")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


# Exit status of an ingest that indexed the other files but skipped some of a type it reads that it could not
# read (all skipped files are named in its output): a script or a scheduled job notices, unlike with 0; 1 stays
# for an ingest that stopped.
INGEST_SKIPPED_FILES = 2


def cmd_ingest(args: argparse.Namespace) -> int:
    from assistant.indexing import run_ingest

    settings = load_settings(corpus_dir=args.corpus_dir, store_dir=args.store_dir)

    def log(message: str) -> None:
        print(message, file=sys.stderr)

    summary = run_ingest(settings, rebuild=args.rebuild, progress=not (args.quiet or args.json), log=log)
    if args.json:
        print(json.dumps(summary.to_json(), ensure_ascii=False))
    else:
        print(summary.to_text())
    return INGEST_SKIPPED_FILES if unreadable(summary.errors) else 0


def unreadable(errors: list[dict[str, str]]) -> list[str]:
    """The skipped files of a type ingest reads: broken ones, not an image or a LICENSE left in the folder."""
    from assistant.corpus import SUPPORTED_SUFFIXES

    return [e["source"] for e in errors if Path(e["source"]).suffix.lower() in SUPPORTED_SUFFIXES]


def cmd_retrieve(args: argparse.Namespace) -> int:
    from assistant.grounding import Citation
    from assistant.retrieval import Retriever

    settings = load_settings(store_dir=args.store_dir, top_k=args.k, retrieval_mode=args.mode)
    history = read_history(args.history)
    retriever = Retriever(settings)
    result = retriever.search(args.question, history)
    if args.json:
        _dump(result.to_json())
        return 0
    print(f"query: {result.query}")
    if result.relevance is not None:
        print(f"relevance: {result.relevance:.2f} (standard deviations above off-topic questions)")
    scores = [hit.score for hit in result.hits]
    if scores != sorted(scores, reverse=True):
        print("order: re-ranked by each passage's best sentence (RERANK_PASSAGES); scores are the retrieval's before it")
    for rank, hit in enumerate(result.hits, start=1):
        meta = hit.doc.metadata
        where = Citation.from_hit(rank, hit).locator()
        print(f"\n[{rank}] score {hit.score:.4f} · {meta.get('source')} · {meta.get('section') or meta.get('title') or '-'}" + (f" · {where}" if where else ""))
        print(hit.text)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from assistant.evaluation import eval_store, format_report, run_eval

    settings = load_settings(store_dir=args.store_dir, retrieval_mode=args.mode)
    if args.corpus_dir:
        corpus = Path(args.corpus_dir)
        if not corpus.is_dir():
            raise FileNotFoundError(f"corpus folder not found: {corpus}")
        settings = eval_store(settings, corpus)
    report = run_eval(settings, [Path(p) for p in args.sets or ["tests/eval/qa.jsonl"]], k=args.k, baseline=args.baseline,
                      backend=args.backend)
    if args.json:
        _dump(report)
        return 0
    print(format_report(report["summary"]))
    if "baseline" in report:
        base = report["baseline"]
        print()
        print(format_report(base, f"naive baseline (1000/200 splitter, dense, question only) · {base['chunks']} chunks"))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from assistant.evaluation import compare_reports, format_comparison

    reports = []
    for name in (args.before, args.after):
        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(f"report not found: {path}")
        try:
            reports.append(json.loads(path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not an `eval --json` report ({exc})") from exc
    diff = compare_reports(*reports, names=(args.before, args.after))
    if args.json:
        _dump(diff)
        return 0
    print(format_comparison(diff, listed=args.list))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.answer import answer_stream, build_assistant

    settings = load_settings(store_dir=args.store_dir, llm_backend=args.backend, top_k=args.k)
    history = read_history(args.history)
    assistant = build_assistant(settings)
    final = None
    for event in answer_stream(assistant, args.question, history):
        if event.kind == "token" and not args.json:
            print(event.text, end="", flush=True)
        elif event.kind == "final":
            final = event.response
    assert final is not None
    if args.json:
        _dump(final.to_json())
        return 0
    print()
    if final.status != "answered":
        print(f"\nstatus: {final.status}" + (f" ({final.reason})" if final.reason else ""))
    if final.notice:
        print(f"\n({final.notice})")
    if final.unsupported:
        print("\nNot supported by the cited passages:")
        for sentence in final.unsupported:
            print(f"  - {sentence}")
    if final.citations:
        print("\nSources:")
        for c in final.citations:
            where = c.locator()
            print(f"  [{c.marker}] {c.source} · {c.section or c.title or '-'}" + (f" · {where}" if where else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assistant", description="Bilingual RAG assistant on decentralized AI.")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest_parser(sub.add_parser("ingest", help="build or refresh the store")).set_defaults(func=cmd_ingest)

    p = sub.add_parser("retrieve", help="show the passages found for a question")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=None, help="passages to return (TOP_K)")
    p.add_argument("--history", help="JSON file with earlier turns [{role, content}]")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default=None)
    p.add_argument("--store", dest="store_dir")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_retrieve)

    p = sub.add_parser("eval", help="retrieval and answer metrics on a question set")
    p.add_argument("--set", dest="sets", action="append", help="JSONL question set (repeat to join sets; default tests/eval/qa.jsonl)")
    p.add_argument("--corpus", dest="corpus_dir", help="evaluate on this corpus folder (ingested into a temporary store)")
    p.add_argument("--baseline", action="store_true", help="also score a naive dense baseline in the same run")
    p.add_argument("--answers", action="store_true",
                   help="score the answers (gold answer quoted/cited, status, length); always on, every question goes through the full answer path")
    p.add_argument("--backend", choices=["extractive", "openai", "llamacpp"], default=None,
                   help="who writes the answers (default: quoted, whatever LLM_BACKEND says; other LLM_* settings apply)")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default=None)
    p.add_argument("--store", dest="store_dir")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("compare", help="two `eval --json` reports side by side, question by question")
    p.add_argument("before", help="report of the run before the change")
    p.add_argument("after", help="report of the run after it")
    p.add_argument("--list", action="store_true", help="also list each question whose answer, status, rank, quote or citation changed")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("ask", help="answer a question with citations")
    p.add_argument("question")
    p.add_argument("--history", help="JSON file with earlier turns [{role, content}]")
    p.add_argument("--backend", choices=["extractive", "openai", "llamacpp"], default=None)
    p.add_argument("--k", type=int, default=None)
    p.add_argument("--store", dest="store_dir")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand; known failures print one line to stderr and return 1."""
    from assistant.embeddings import EmbeddingError
    from assistant.indexing import IngestError
    from assistant.store import StoreError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (StoreError, IngestError, EmbeddingError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader stopped early (``| head``): nothing to report; stdout goes nowhere so exit's flush stays quiet
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
