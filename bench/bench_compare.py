"""How long `compare` takes on two ~70-paragraph statements, warm (the store open, the model loaded).

A is a long real statement from the archive (or the bundled sample when the archive is
not here), B an edited copy of it (`qa/compare_eval.py`). Both are ingested once into a
store kept between runs. Prints the cold first call and the median of the warm calls,
split into reading from the store and aligning.

    .venv/bin/python bench/bench_compare.py [--archive ../shared/corpus/archive] [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qa.compare import Comparer, assign, features  # noqa: E402
from qa.compare_eval import edit_statement, load_statement  # noqa: E402

DATA_DIR = Path("/tmp/statementbot-bench-compare")
# The Global COVID-19 Summit statement of September 2021: 72 paragraphs.
LONG_STATEMENT = "2021-09/2021-09-24-global-covid-19-summit-ending-the-pandemic-and-building-back-better.md"
DONOR = "2023-05/2023-05-20-quad-leaders-joint-statement.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=REPO.parent / "shared" / "corpus" / "archive")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    from bot.runtime import build_service
    from bot.settings import Settings

    if (args.archive / LONG_STATEMENT).exists():
        original = load_statement(args.archive / LONG_STATEMENT)
        donors = [p.text for p in load_statement(args.archive / DONOR).paragraphs]
    else:
        original = load_statement(REPO / "bot" / "samples" / "uk-japan-defence-ministerial-2025.txt")
        donors = [p.text for p in original.paragraphs[:3]]
    edited = edit_statement(original, donors, seed=1).edited
    service = build_service(Settings(data_dir=DATA_DIR))
    try:
        for document in (original, edited):
            # Idempotent: an unchanged document costs no embedding, a changed one is brought up to date.
            started = time.perf_counter()
            report = service.indexer.ingest_document(document)
            if report.embedded:
                print(
                    f"ingested {document.id} ({len(document.paragraphs)} paragraphs) in "
                    f"{time.perf_counter() - started:.1f} s"
                )
        comparer = Comparer(service.store)
        started = time.perf_counter()
        comparison = service.compare(original.id, edited.id)
        cold = time.perf_counter() - started
        totals, cpu, reads, aligns = [], [], [], []
        for _ in range(args.runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            service.compare(original.id, edited.id)
            totals.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            started = time.perf_counter()
            _pa, inputs_a = comparer._load(original.id)
            _pb, inputs_b = comparer._load(edited.id)
            read = time.perf_counter()
            assign(features(inputs_a, inputs_b).score(comparer.params), comparer.params.threshold)
            reads.append(read - started)
            aligns.append(time.perf_counter() - read)
    finally:
        service.close()
    counts = comparison.counts()
    print(f"A: {len(original.paragraphs)} paragraphs, B: {len(edited.paragraphs)} paragraphs; {counts}")
    print(f"compare cold (first call):  {cold * 1000:.0f} ms")
    print(
        f"compare warm, median of {args.runs}: {statistics.median(totals) * 1000:.0f} ms "
        f"(max {max(totals) * 1000:.0f} ms)"
    )
    print(f"compare warm, CPU time of this process, median: {statistics.median(cpu) * 1000:.0f} ms")
    if hasattr(os, "getloadavg"):
        print(f"(machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall time waits for CPU)")
    print(f"  reading paragraphs and sentence vectors: {statistics.median(reads) * 1000:.0f} ms")
    print(f"  features + assignment + diffs:           {statistics.median(aligns) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
