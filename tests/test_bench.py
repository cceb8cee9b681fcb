"""The benchmark script runs end to end at its smallest size and writes results a script can read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_bench_tiny_writes_valid_json(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--size", "tiny", "--queries", "20", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=600, cwd=ROOT)
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["size"] == "tiny" and results["chunks"] == 40 and results["ingest"]["added"] == 40
    assert results["embedder"]["chunks_per_s"] > 0 and results["ingest_vs_embedder"] > 0
    # the incremental re-ingest embeds exactly the chunks whose ids changed
    assert results["incremental"]["embedded"] == results["incremental"]["expected_changed_chunks"] >= 1
    for mode in ("dense", "hybrid"):
        assert 0 < results["retrieval"][mode]["p50_ms"] <= results["retrieval"][mode]["p95_ms"]
    assert results["app"]["cold_start_to_first_answer_s"] > 0 and results["app"]["peak_rss_mb"] > 0
