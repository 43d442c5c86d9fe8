"""Ingestion throughput and the cost of a no-op re-ingest.

    python bench/bench_ingest.py                          # 100 files x 20 paragraphs
    python bench/bench_ingest.py --files 20 --paragraphs 10 --cli

Generates a deterministic corpus of statement files (title, date, preamble,
numbered paragraphs of 2-4 varied sentences) in a temporary directory, ingests
it with the real Indexer, Embedder and embedded Chroma, and prints:

* paragraphs/s of the first ingest (model already loaded; the load is printed
  on its own), with the share of time spent in the model;
* the wall time of a no-op re-ingest of the same corpus in the same process
  (what a bot's /ingest or a second `ingest` call costs once running);
* with --cli, the wall time of `statementbot ingest` on the unchanged corpus
  as a subprocess (imports and store opening included; no model load).

Targets: >= 40 paragraphs/s, no-op < 2 s. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vectorstore.embeddings import Embedder  # noqa: E402 - after the path tweak, so the bench runs from a checkout
from vectorstore.indexing import Indexer  # noqa: E402
from vectorstore.store import ParagraphStore  # noqa: E402

TARGET_PARAGRAPHS_PER_S = 40.0
TARGET_NOOP_S = 2.0

_SUBJECTS = [
    "The Ministers",
    "Both governments",
    "The two leaders",
    "The United Kingdom and Japan",
    "The Defence Ministers",
    "The participants",
    "The Foreign Secretaries",
    "Senior officials",
]
_VERBS = [
    "welcomed",
    "reaffirmed their commitment to",
    "noted the progress of",
    "agreed to accelerate",
    "expressed serious concern about",
    "highlighted the importance of",
    "looked forward to",
    "condemned",
    "recognised the value of",
    "committed to strengthening",
]
_OBJECTS = [
    "maritime security cooperation in the Indo-Pacific",
    "the Global Combat Air Programme",
    "joint exercises between their armed forces",
    "cyber resilience and information sharing",
    "the free and open international order based on the rule of law",
    "support for Ukraine's sovereignty and territorial integrity",
    "defence industrial collaboration and supply chains",
    "space domain awareness and satellite communications",
    "the Reciprocal Access Agreement",
    "nuclear non-proliferation and disarmament",
    "women, peace and security initiatives",
    "humanitarian assistance and disaster relief",
    "critical minerals and economic security",
    "research on emerging technologies including artificial intelligence",
]
_QUALIFIERS = [
    "",
    " by the end of {year}",
    " in the coming months",
    " through the High-Level Steering Panel",
    " at the next ministerial meeting in {city}",
    ", including through regular staff talks",
    " in close coordination with NATO allies",
    " with a view to concluding an agreement by {year}",
]
_CITIES = ["Tokyo", "London", "Canberra", "Brussels", "Manila", "Ottawa"]


def _sentence(rng: random.Random) -> str:
    qualifier = rng.choice(_QUALIFIERS).format(year=rng.randint(2024, 2035), city=rng.choice(_CITIES))
    return f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}{qualifier}."


def write_corpus(directory: Path, files: int, paragraphs: int, seed: int) -> int:
    """Statement files with numbered paragraphs of 2-4 sentences; returns the paragraph count (preambles included)."""
    rng = random.Random(seed)
    total = 0
    for number in range(files):
        day = rng.randint(1, 28)
        month = rng.choice(["January", "March", "May", "July", "September", "November"])
        lines = [
            f"Joint Statement {number}: {rng.choice(_OBJECTS).capitalize()}",
            "",
            f"{day} {month} {rng.randint(2019, 2025)}",
            "",
            f"The Ministers met in {rng.choice(_CITIES)} on {day} {month}. {_sentence(rng)}",
            "",
        ]
        for label in range(1, paragraphs + 1):
            body = " ".join(_sentence(rng) for _ in range(rng.randint(2, 4)))
            # Hard wraps and the odd page break mid-paragraph, as real statements have.
            words = body.split(" ")
            cut = rng.randint(1, len(words) - 1)
            wrap = "\n\n" if rng.random() < 0.1 else "\n"
            lines.append(f"{label}. {' '.join(words[:cut])}{wrap}{' '.join(words[cut:])}")
        (directory / f"statement-{number:03d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        total += paragraphs + 1
    return total


class TimedEmbedder(Embedder):
    """The real Embedder, also counting the seconds spent in the model."""

    seconds = 0.0

    def encode(self, texts):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return super().encode(texts)
        finally:
            self.seconds += time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--paragraphs", type=int, default=20, help="numbered paragraphs per file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cli", action="store_true", help="also time `statementbot ingest` (no-op) as a subprocess")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sb-bench-ingest-") as tmp:
        corpus, data_dir = Path(tmp) / "corpus", Path(tmp) / "data"
        corpus.mkdir()
        paragraphs = write_corpus(corpus, args.files, args.paragraphs, args.seed)
        print(f"corpus: {args.files} files, {paragraphs} paragraphs (preambles included), seed {args.seed}")

        embedder = TimedEmbedder()
        started = time.perf_counter()
        embedder.encode(["warm up"])
        print(f"model load: {time.perf_counter() - started:.1f} s")
        embedder.seconds = 0.0
        store = ParagraphStore.open_embedded(data_dir, embedder)
        try:
            started = time.perf_counter()
            report = Indexer(store).ingest_paths([corpus])
            elapsed = time.perf_counter() - started
            if not report.ok or report.added != paragraphs:
                raise SystemExit(f"ingest went wrong: {report.to_json()}")
            rate = paragraphs / elapsed
            print(
                f"ingest: {elapsed:.1f} s, {rate:.1f} paragraphs/s "
                f"({report.embedded} texts embedded, {report.embedded / embedder.seconds:.0f} texts/s in the model; "
                f"model {100 * embedder.seconds / elapsed:.0f}% of the time)"
                f"  target >= {TARGET_PARAGRAPHS_PER_S:.0f}: {'met' if rate >= TARGET_PARAGRAPHS_PER_S else 'MISSED'}"
            )

            before = embedder.texts_embedded
            started = time.perf_counter()
            again = Indexer(store).ingest_paths([corpus])
            noop = time.perf_counter() - started
            if again.embedded or embedder.texts_embedded != before or again.unchanged != paragraphs:
                raise SystemExit(f"the re-ingest was not a no-op: {again.to_json()}")
            print(
                f"no-op re-ingest: {noop:.2f} s  target < {TARGET_NOOP_S:.0f} s: "
                f"{'met' if noop < TARGET_NOOP_S else 'MISSED'}"
            )
        finally:
            store.close()

        if args.cli:
            env = {k: v for k, v in os.environ.items() if not k.startswith("STATEMENTBOT_")}
            env["STATEMENTBOT_DATA_DIR"] = str(data_dir)
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                subprocess.run(
                    [str(Path(sys.executable).parent / "statementbot"), "ingest", str(corpus), "--json"],
                    check=True,
                    env=env,
                    capture_output=True,
                )
                runs.append(time.perf_counter() - started)
            print(f"no-op `statementbot ingest` subprocess: best {min(runs):.2f} s, median {np.median(runs):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
