"""How long PDF, Word and HTML files take to become text, converted and then read from the cache.

    python bench/formats.py                       # the test fixtures, 5 rounds
    python bench/formats.py docs/*.pdf --rounds 3 --out results.json

Ingest converts each such file once per content (``assistant.formats.ConversionCache``);
a re-ingest of an unchanged file costs a hash and a JSON read. This prints both per
file and per page, so a folder of long PDFs can be sized before it is dropped in.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.formats import CONVERTERS, ConversionCache  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "formats"


def measure(path: Path, rounds: int) -> dict:
    data = path.read_bytes()
    suffix = path.suffix.lower()
    times, converted = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        converted = CONVERTERS[suffix](data)
        times.append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as folder:
        cache = ConversionCache(Path(folder))
        cache.convert(data, suffix)
        started = time.perf_counter()
        for _ in range(rounds):
            cache.convert(data, suffix)
        cached = (time.perf_counter() - started) / rounds
    pages = max(len(converted.page_lines), 1)
    median = statistics.median(times)
    return {"file": path.name, "bytes": len(data), "pages": pages, "characters": len(converted.text),
            "convert_s": round(median, 4), "ms_per_page": round(1000 * median / pages, 1),
            "pages_per_s": round(pages / median, 1), "cached_ms": round(1000 * cached, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, help="PDF, DOCX or HTML files (default: the test fixtures that convert)")
    parser.add_argument("--rounds", type=int, default=5, help="conversions per file; the median is reported")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)
    files = args.files or [FIXTURES / "library.pdf", FIXTURES / "library.html"]
    rows = [measure(path, args.rounds) for path in files if path.suffix.lower() in CONVERTERS]
    print(f"{'file':32} {'pages':>5} {'chars':>7} {'convert s':>10} {'ms/page':>8} {'cached ms':>10}")
    for r in rows:
        print(f"{r['file'][:32]:32} {r['pages']:>5} {r['characters']:>7} {r['convert_s']:>10.3f} {r['ms_per_page']:>8.1f} {r['cached_ms']:>10.2f}")
    if args.out:
        args.out.write_text(json.dumps({"rounds": args.rounds, "files": rows}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
