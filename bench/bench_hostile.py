"""Hostile input costs: store bytes per input byte, and a missing paragraph's lookup at scale.

    python bench/bench_hostile.py                      # both figures
    python bench/bench_hostile.py --documents 5000     # the lookup at 5,000 documents (the target's size)

Prints:

* **bytes stored per input byte**: the growth of an embedded store's folder when one file
  is ingested, for the bundled sample statement (ordinary paragraphs), for one paragraph of
  ordinary sentences at half and at the length limit (the case that grew the store
  ~1,000-fold when every window kept the whole paragraph), for one paragraph of very short
  sentences at the length limit, and for a file of the most paragraphs allowed, each one
  short sentence. Each line also gives the records (vectors) stored, bytes per vector, and
  the BM25 cache (`lexical.sqlite3`, rebuilt from the store when it changes) per input
  byte. Target: <= 10 for the long paragraphs; the many-paragraph file is bounded by
  the per-vector floor (two vectors per paragraph), not by the 10x target.
* with ``--archive N``: the longest paragraph and the most paragraphs in N archive statements,
  which the per-file limits must stay well above;
* **missing paragraph lookup**: the time of `HybridRetriever.reference_in` for "¶0999" (no
  document has it) and for "¶3" (every document has it) over N cheap synthetic documents
  (random vectors, no model), median of 20. Target: <= 50 ms at 5,000 documents.

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.models import Chunk, Paragraph, Span  # noqa: E402 - after the path tweak, so the bench runs from a checkout
from vectorstore.embeddings import Embedder  # noqa: E402
from vectorstore.indexing import MAX_PARAGRAPH_CHARS, MAX_PARAGRAPHS_PER_FILE, Indexer  # noqa: E402
from vectorstore.lexical import LexicalIndex  # noqa: E402
from vectorstore.retrieval import HybridRetriever  # noqa: E402
from vectorstore.store import DocumentRecord, ParagraphStore, paragraph_key  # noqa: E402

SAMPLE = ROOT / "bot" / "samples" / "uk-japan-defence-ministerial-2025.txt"
ARCHIVE = ROOT.parent / "shared" / "corpus" / "archive"
TARGET_GROWTH = 10.0
TARGET_LOOKUP_MS = 50.0


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def long_paragraph_file(folder: Path, chars: int = MAX_PARAGRAPH_CHARS) -> Path:
    """One numbered paragraph of varied sentences just under `chars` characters."""
    words = "quota tonnes cod haddock vessels inspection harbour licence season catch limit survey".split()
    sentences = []
    length = 0
    index = 0
    while length < chars - 400:
        picked = " ".join(words[(index * 7 + k) % len(words)] for k in range(9))
        sentence = f"The parties agreed in round {index} that the {picked} would be reviewed."
        sentences.append(sentence)
        length += len(sentence) + 1
        index += 1
    path = folder / f"long-paragraph-{chars // 1000}k.txt"
    path.write_text("Fisheries Statement\n\n1. " + " ".join(sentences) + "\n", encoding="utf-8")
    return path


def short_sentences_file(folder: Path, chars: int = MAX_PARAGRAPH_CHARS) -> Path:
    """One paragraph of very short sentences ("Item 12 agreed.") just under `chars` characters:
    the most sentences per input byte a paragraph within the window limit can have."""
    sentences = []
    length = 0
    while length < chars - 400:
        sentence = f"Item {len(sentences)} agreed."
        sentences.append(sentence)
        length += len(sentence) + 1
    path = folder / f"short-sentences-{chars // 1000}k.txt"
    path.write_text("Fisheries Statement\n\n1. " + " ".join(sentences) + "\n", encoding="utf-8")
    return path


def many_paragraphs_file(folder: Path, count: int = MAX_PARAGRAPHS_PER_FILE) -> Path:
    """The most paragraphs a file may have, each one short sentence: the most vectors per input byte.

    Unnumbered (blank-line) paragraphs: the parser reads printed numbers up to 999 only."""
    path = folder / f"many-paragraphs-{count}.txt"
    blocks = "\n\n".join(f"Item {n} agreed." for n in range(1, count + 1))
    path.write_text(f"Fisheries Statement\n\n{blocks}\n", encoding="utf-8")
    return path


def growth(embedder: Embedder, files: list[Path], *, sample: bool = True) -> None:
    """Each file ingested into a store that holds the sample already, so Chroma's fixed cost of a
    new store is not counted (the first line shows it, for the sample itself into an empty store)."""
    for path in [SAMPLE, *files] if sample else files:
        with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
            data_dir = Path(tmp) / "data"
            store = ParagraphStore.open_embedded(data_dir, embedder)
            indexer = Indexer(store)
            if path != SAMPLE:
                indexer.ingest_paths([SAMPLE])
            before = folder_bytes(data_dir)
            vectors_before = store.record_count()
            started = time.perf_counter()
            report = indexer.ingest_paths([path])
            seconds = time.perf_counter() - started
            vectors = store.record_count() - vectors_before
            lexical = LexicalIndex(store, data_dir / "lexical.sqlite3")
            lexical.ensure_fresh()
            store.close()
            after = folder_bytes(data_dir) - (data_dir / "lexical.sqlite3").stat().st_size
            size = path.stat().st_size
            assert report.ok, [f.user_message() for f in report.failed]
            ratio = (after - before) / size
            what = "into an empty store" if path == SAMPLE else "added to a store"
            flag = "" if ratio <= TARGET_GROWTH else f"  (over the {TARGET_GROWTH:g}x target)"
            print(
                f"bytes stored per input byte: {ratio:6.1f}  {path.name} {what} ({size:,} bytes in, "
                f"{after - before:,} stored, {report.added} paragraph(s), {report.embedded} texts embedded "
                f"in {seconds:.0f} s, {vectors:,} vectors stored, {(after - before) / max(vectors, 1):,.0f} bytes "
                f"per vector; BM25 cache {(data_dir / 'lexical.sqlite3').stat().st_size / size:.1f} per input byte)"
                f"{flag}"
            )


def lookup(embedder: Embedder, documents: int, paragraphs: int) -> None:
    rng = np.random.default_rng(13)
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        data_dir = Path(tmp) / "data"
        store = ParagraphStore.open_embedded(data_dir, embedder)
        started = time.perf_counter()
        records = []
        for start in range(0, documents, 200):
            chunks = []
            windows = {}
            for d in range(start, min(start + 200, documents)):
                doc_id = f"synthetic-{d:05d}"
                for p in range(1, paragraphs + 1):
                    text = f"Paragraph {p} of synthetic statement {d}."
                    paragraph = Paragraph(doc_id, str(p), p - 1, text, (Span(0, len(text)),))
                    windows[paragraph_key(doc_id, str(p), paragraph.hash)] = 1
                    chunks.append(Chunk(paragraph, 0, text, (0, 1)))
                records.append(
                    DocumentRecord(
                        id=doc_id,
                        title=f"Synthetic statement {d} on item 999",  # a title word that "¶999" must not match
                        date=date(2024, 1, 1),
                        source=f"/synthetic/{doc_id}.txt",
                        content_hash=f"{d:016x}",
                        paragraphs=paragraphs,
                        ingested_at="2026-01-01T00:00:00+00:00",
                        numbered=True,
                    )
                )
            vectors = rng.standard_normal((len(chunks), embedder.dimension)).astype(np.float32)
            store.add_chunks(chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), windows=windows)
        titles = rng.standard_normal((len(records), embedder.dimension)).astype(np.float32)
        store.put_documents(records, titles / np.linalg.norm(titles, axis=1, keepdims=True))
        built_s = time.perf_counter() - started
        print(f"built {documents:,} synthetic documents x {paragraphs} paragraphs in {built_s:.0f} s")
        retriever = HybridRetriever(store, LexicalIndex(store, data_dir / "lexical.sqlite3"))
        known = retriever.documents()
        doc_ids = list(known)
        for question, expect_found in (("What does ¶0999 say?", False), ("What does ¶3 say?", True)):
            times = []
            for _ in range(20):
                t = time.perf_counter()
                reference = retriever.reference_in(question, doc_ids, known)
                times.append((time.perf_counter() - t) * 1000)
            assert reference is not None
            assert bool(reference.hits) == expect_found
            median = statistics.median(times)
            flag = "" if median <= TARGET_LOOKUP_MS else f"  (over the {TARGET_LOOKUP_MS:g} ms target)"
            print(f"reference lookup {question!r} over {documents:,} documents: {median:.1f} ms median{flag}")
        store.close()


def archive_sizes(count: int) -> None:
    """The longest paragraph and the most paragraphs in `count` archive statements: what the limits must exceed."""
    import random

    from ingest.loaders import load_path
    from ingest.parser import parse_statement

    files = sorted(ARCHIVE.rglob("*.md"))
    if not files:
        print(f"no archive at {ARCHIVE}")
        return
    random.seed(13)
    longest: list[tuple[int, str]] = []
    most: list[tuple[int, str]] = []
    for path in random.sample(files, min(count, len(files))):
        loaded = load_path(path)
        document = parse_statement(loaded.text, source=loaded.source, title_hint=loaded.title_hint)
        longest.append((max((len(p.text) for p in document.paragraphs), default=0), path.name))
        most.append((len(document.paragraphs), path.name))
    longest.sort()
    most.sort()
    p99 = longest[int(len(longest) * 0.99)][0]
    print(
        f"archive sample of {len(longest)}: longest paragraph {longest[-1][0]:,} characters (p99 {p99:,}), "
        f"most paragraphs {most[-1][0]:,}; limits {MAX_PARAGRAPH_CHARS:,} and {MAX_PARAGRAPHS_PER_FILE:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--paragraphs", type=int, default=5, help="paragraphs per synthetic document")
    parser.add_argument("--skip-growth", action="store_true")
    parser.add_argument("--skip-lookup", action="store_true")
    parser.add_argument("--only", default="", metavar="TEXT", help="growth cases whose file name holds TEXT")
    parser.add_argument("--archive", type=int, default=0, metavar="N", help="also measure N archive statements")
    args = parser.parse_args()
    if args.archive:
        archive_sizes(args.archive)
    embedder = Embedder()
    if not args.skip_growth:
        with tempfile.TemporaryDirectory(prefix="bench-hostile-input-") as tmp:
            folder = Path(tmp)
            cases = [long_paragraph_file(folder, MAX_PARAGRAPH_CHARS // 2), long_paragraph_file(folder)]
            cases += [short_sentences_file(folder), many_paragraphs_file(folder)]
            growth(embedder, [path for path in cases if args.only in path.name], sample=args.only in SAMPLE.name)
    if not args.skip_lookup:
        lookup(embedder, args.documents, args.paragraphs)


if __name__ == "__main__":
    main()
