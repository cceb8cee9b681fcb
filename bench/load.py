"""Concurrent chats against the app through gradio_client, loopback only, bounded in time.

    python bench/load.py [--clients 20] [--seconds 60] [--url http://127.0.0.1:7860/] [--json]

Without --url it starts ``app.py`` (extractive backend) on a free 127.0.0.1 port
with the configured store and stops it at the end. Every answer is compared
with a single-client run of the same question: the target is 0 errors and 0
differences, with p50/p95 latency reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.procs import free_port, is_loopback, serving  # noqa: E402  (after the path insert)

QUESTIONS = [
    "What is Akash Network?",
    "ما هي شبكة أكاش؟",
    "Which blockchain did Render Network move to?",
    "إلى أي بلوك تشين انتقلت Render Network؟",
    "Which project is built on Arbitrum?",
    "لماذا يصعب تحويل البيانات اللامركزية إلى توكنات؟",
    "What is the capital of France?",
    "Which blockchain do io.net and Nosana use?",
]
MAX_REQUESTS_PER_CLIENT = 10_000


def _key(result: dict) -> tuple:
    return (result.get("answer"), tuple(c["id"] for c in result.get("citations", [])), result.get("refused"))


def run_load(url: str, clients: int, seconds: float, questions: list[str] = QUESTIONS) -> dict:
    """Drive ``clients`` concurrent API users for ``seconds``; returns latency and correctness figures."""
    from gradio_client import Client

    single = Client(url, verbose=False)
    reference = {q: _key(single.predict(q, [], 5, api_name="/ask")) for q in questions}

    latencies: list[float] = []
    errors: list[str] = []
    mismatches: list[str] = []
    lock = threading.Lock()
    deadline = time.time() + seconds

    def worker(index: int) -> None:
        try:
            client = Client(url, verbose=False)
        except Exception as exc:  # counted, never raised
            with lock:
                errors.append(f"connect: {type(exc).__name__}")
            return
        for n in range(MAX_REQUESTS_PER_CLIENT):
            if time.time() >= deadline:
                return
            question = questions[(index + n) % len(questions)]
            started = time.perf_counter()
            try:
                result = client.predict(question, [], 5, api_name="/ask")
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {str(exc)[:80]}")
                continue
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if _key(result) != reference[question]:
                    mismatches.append(question)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    wall = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(q: float) -> float | None:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1) if ordered else None

    return {
        "clients": clients, "seconds": seconds, "requests": len(latencies), "errors": len(errors),
        "error_samples": errors[:5], "mismatches": len(mismatches), "p50_ms": pct(0.5), "p95_ms": pct(0.95),
        "requests_per_s": round(len(latencies) / wall, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--url", help="an app already running on 127.0.0.1; default: start one")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.url is not None:
        if not is_loopback(args.url):
            print("error: load tests only target this machine (127.0.0.1 / localhost)", file=sys.stderr)
            return 2
        result = run_load(args.url, args.clients, args.seconds)
    else:
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        env = {**os.environ, "LLM_BACKEND": "extractive"}
        try:
            with serving([sys.executable, str(ROOT / "app.py"), "--port", str(port)], url, 300, cwd=ROOT, env=env):
                result = run_load(url, args.clients, args.seconds)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['clients']} clients × {result['seconds']:.0f} s: {result['requests']} answers, "
              f"{result['errors']} errors, {result['mismatches']} differences from a single client, "
              f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, {result['requests_per_s']} answers/s")
    return 0 if result["errors"] == 0 and result["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
