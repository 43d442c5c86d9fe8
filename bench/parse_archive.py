"""Load and parse a whole archive of statements, without embedding, and print what it found.

    python bench/parse_archive.py                                  # ../shared/corpus/archive
    python bench/parse_archive.py PATH... [--failures 20]

Runs the real loaders and parser on every supported file under the paths (the
same discovery as `statementbot ingest`), then prints: documents, paragraphs,
seconds and files/s; failures (each with its reason, 0 expected); document ids
given to more than one file (0 expected: a long file name must never clash);
the share of Markdown documents whose title and date came from front matter
(100% expected on the archive); and what the loaders left out (end markers,
page furniture). No store is opened and no model is loaded.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from errors import UnreadableDocument  # noqa: E402 - after the path tweak, so the bench runs from a checkout
from ingest.loaders import discover, load_path  # noqa: E402
from ingest.parser import parse_loaded  # noqa: E402

DEFAULT_ARCHIVE = ROOT.parent / "shared" / "corpus" / "archive"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[DEFAULT_ARCHIVE])
    parser.add_argument("--failures", type=int, default=20, help="how many failures to list")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    found = discover(args.paths)
    failures: list[UnreadableDocument] = list(found.failures)
    ids: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    paragraphs = documents = markdown = from_front_matter = dated = numbered = 0
    for path in found.files:
        try:
            loaded = load_path(path)
            document = parse_loaded(loaded)
        except UnreadableDocument as error:
            failures.append(error)
            continue
        documents += 1
        paragraphs += len(document.paragraphs)
        numbered += document.numbered
        dated += document.date is not None
        ids[document.id] += 1
        removed.update(loaded.removed)
        if loaded.format == "md":
            markdown += 1
            from_front_matter += bool(loaded.title and loaded.date)
    elapsed = time.perf_counter() - started

    clashes = {doc_id: count for doc_id, count in ids.items() if count > 1}
    print(f"files:                 {len(found.files)} ({len(found.skipped)} skipped)")
    print(f"documents:             {documents}")
    print(f"paragraphs:            {paragraphs} ({paragraphs / max(documents, 1):.1f} per document)")
    print(f"numbered documents:    {numbered}")
    print(f"with a date:           {dated} ({100 * dated / max(documents, 1):.1f}%)")
    if markdown:
        share = 100 * from_front_matter / markdown
        print(f"title+date from front matter: {from_front_matter}/{markdown} Markdown documents ({share:.1f}%)")
    print(f"time:                  {elapsed:.1f} s ({len(found.files) / max(elapsed, 1e-9):.0f} files/s)")
    print(f"failures:              {len(failures)}")
    for failure in failures[: args.failures]:
        print(f"  {failure}")
    print(f"id clashes:            {len(clashes)}")
    for doc_id, count in sorted(clashes.items())[: args.failures]:
        print(f"  {doc_id}: {count} files")
    print("left out by loaders:   " + (", ".join(f"{count} {kind}" for kind, count in sorted(removed.items())) or "-"))
    return 1 if failures or clashes else 0


if __name__ == "__main__":
    raise SystemExit(main())
