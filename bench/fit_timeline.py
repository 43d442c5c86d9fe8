"""Fit when a statement "addresses the topic" of a question over time, and print the figures.

A timeline answer keeps a statement when its best sentence for the topic reaches a
support and a similarity threshold (see `qa/timeline.py`). This script ingests a few
series of archive statements (Quad, AUKUS, G7, Camp David; 2021-2024) into a store it
keeps between runs, asks the hand-labelled timeline questions of
`tests/data/timeline/queries.json` (which statements address each topic, checked by
reading them), and grid-searches both thresholds on the tune questions (every other
question), maximising F0.5: a statement cited that does not address the topic is worse
than one left out. The check questions give the figures stored with the values.

    .venv/bin/python bench/fit_timeline.py [--archive ../shared/corpus/archive] [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import product
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qa.compare_eval import load_statement  # noqa: E402
from qa.timeline import PARAMS_PATH, TimelineAnswerer, TimelineParams, time_frame, topic_of  # noqa: E402

QUERIES = REPO / "tests" / "data" / "timeline" / "queries.json"
DATA_DIR = Path("/tmp/statementbot-fit-timeline")


def build(archive: Path, statements: list[str]):
    from bot.runtime import build_service
    from bot.settings import Settings

    service = build_service(Settings(data_dir=DATA_DIR))
    documents = [load_statement(archive / relative) for relative in statements]
    expected = {document.id for document in documents}
    # A store kept from an earlier run may hold the same statements under ids an older loader gave
    # them: those copies would count as statements that "do not address" the topic. Drop them.
    for stale in {r.id for r in service.documents()} - expected:
        service.remove(stale)
    stored = {r.id for r in service.documents()}
    for document in documents:
        if document.id not in stored:
            started = time.perf_counter()
            service.indexer.ingest_document(document)
            print(f"  ingested {document.id} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return service


def observations(service, queries: list[dict], ids: dict[str, str]) -> list:
    """Per question: (index, [(support, similarity, addresses)] per candidate, statements addressing it)."""
    from qa.extractive import ExtractiveAnswerer
    from vectorstore.retrieval import SearchFilter

    timeline = TimelineAnswerer(ExtractiveAnswerer(service.retriever), TimelineParams(0.0, 0.0, 0.0))
    found = []
    for index, query in enumerate(queries):
        start, end = time_frame(query["question"])
        search_filter = SearchFilter(date_from=start, date_to=end) if start or end else None
        entries = timeline.best_per_document(topic_of(query["question"]), search_filter)
        wanted = {ids[path] for path in query["addresses"]}
        rows = [
            (e.evidence.support, e.evidence.similarity, e.evidence.probability, e.evidence.paragraph.doc_id in wanted)
            for e in entries
        ]
        found.append((index, rows, len(wanted)))
    return found


def score(cases: list, params: TimelineParams) -> dict[str, float]:
    kept = right = relevant = 0
    for _index, rows, wanted in cases:
        relevant += wanted
        for support, similarity, probability, addresses in rows:
            if support >= params.support and similarity >= params.similarity and probability >= params.probability:
                kept += 1
                right += addresses
    precision = right / kept if kept else 1.0
    recall = right / relevant if relevant else 1.0
    f_half = 1.25 * precision * recall / (0.25 * precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f0.5": round(f_half, 4), "cited": kept}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=REPO.parent / "shared" / "corpus" / "archive")
    parser.add_argument("--write", action="store_true", help=f"write the fitted values to {PARAMS_PATH.name}")
    args = parser.parse_args()
    data = json.loads(QUERIES.read_text(encoding="utf-8"))
    service = build(args.archive, data["statements"])
    ids = {path: load_statement(args.archive / path).id for path in data["statements"]}
    try:
        cases = observations(service, data["queries"], ids)
    finally:
        service.close()
    tune = [c for c in cases if c[0] % 2 == 0]
    check = [c for c in cases if c[0] % 2 == 1]
    grid = [round(0.05 * i, 2) for i in range(21)]
    best = max(
        (TimelineParams(s, m, q) for s, m, q in product(grid, grid[:17], grid)),
        key=lambda p: (score(tune, p)["f0.5"], p.support, p.similarity, p.probability),
    )
    figures = {"tune": score(tune, best), "check": score(check, best), "all": score(cases, best)}
    print(f"fitted: {best}")
    for name, value in figures.items():
        print(f"{name:6} {json.dumps(value)}")
    if args.write:
        payload = {
            "params": {"support": best.support, "similarity": best.similarity, "probability": best.probability},
            "fitted_by": "bench/fit_timeline.py",
            "queries": str(QUERIES.relative_to(REPO)),
            "figures": figures,
        }
        PARAMS_PATH.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {PARAMS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
