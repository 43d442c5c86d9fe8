"""Fit the fusion weights of hybrid retrieval and store them in `vectorstore/fusion.json`.

    python bench/fit_fusion.py                      # real_dev + sample dev set, 150 archive look-alikes
    python bench/fit_fusion.py --lookalikes 0 --no-write

Builds (or reuses) a store in --data-dir holding the question sets' statements
and archive look-alikes beside them, then for every answerable question with a
gold phrase pools the candidates of the three retrievers exactly as
`HybridRetriever.search` does (with the filter the question's own scope
implies) and records each candidate's features: paragraph cosine, best sentence
cosine, BM25 relative to the query's best. The questions are split in two by
a hash of their id; the weights (on a simplex grid) that maximise MRR@10 of the
first gold paragraph on the tune half are written with the figures both halves
reach, next to reciprocal-rank fusion over the same pools as a baseline.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.runtime import build_service  # noqa: E402 - after the path tweak, so the bench runs from a checkout
from bot.settings import load_settings  # noqa: E402
from qa.evaluation import load_questions  # noqa: E402
from vectorstore.retrieval import FUSION_WEIGHTS_PATH, FusionWeights  # noqa: E402

SHARED = ROOT.parent / "shared"
DEFAULT_QUESTIONS = [SHARED / "eval/real_dev/questions.jsonl", SHARED / "eval/dev_questions.jsonl"]
DEFAULT_DOCS = [SHARED / "eval/real_dev/docs", ROOT / "bot/samples"]
DEFAULT_LOOKALIKES = str(SHARED / "corpus/archive/2023-0[3-6]/*.md")
DEPTH = 10  # MRR depth, as `statementbot eval` counts it
RRF_K = 60  # the usual reciprocal-rank constant, for the baseline only


@dataclass
class Pool:
    question_id: str
    tune: bool
    features: list[tuple[float, float, float]]
    gold: list[bool]


def reciprocal_rank(scores: list[float], gold: list[bool]) -> float:
    order = sorted(range(len(scores)), key=lambda i: -scores[i])[:DEPTH]
    for rank, index in enumerate(order, start=1):
        if gold[index]:
            return 1.0 / rank
    return 0.0


def fused(pool: Pool, w: tuple[float, float, float]) -> list[float]:
    return [w[0] * f[0] + w[1] * f[1] + w[2] * f[2] for f in pool.features]


def rrf(pool: Pool) -> list[float]:
    scores = [0.0] * len(pool.features)
    for column in range(3):
        ranked = sorted(
            (i for i, f in enumerate(pool.features) if column < 2 or f[2] > 0), key=lambda i: -pool.features[i][column]
        )
        for rank, index in enumerate(ranked):
            scores[index] += 1.0 / (RRF_K + rank + 1)
    return scores


def summary(pools: list[Pool], score: Callable[[Pool], list[float]]) -> dict[str, float]:
    ranks = [reciprocal_rank(score(p), p.gold) for p in pools]
    n = max(len(ranks), 1)
    return {
        "mrr": round(sum(ranks) / n, 4),
        "hit@1": round(sum(r == 1.0 for r in ranks) / n, 4),
        "questions": len(ranks),
    }


def main() -> int:  # noqa: PLR0915 - a benchmark reads top to bottom
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/statementbot-fit-fusion"))
    parser.add_argument("--questions", type=Path, nargs="+", default=DEFAULT_QUESTIONS)
    parser.add_argument("--docs", type=Path, nargs="+", default=DEFAULT_DOCS)
    parser.add_argument("--lookalikes", type=int, default=150, help="archive statements ingested beside the docs")
    parser.add_argument("--glob", default=DEFAULT_LOOKALIKES, help="where look-alikes come from")
    parser.add_argument("--step", type=float, default=0.05, help="grid step of the weights")
    parser.add_argument("--no-write", action="store_true", help="print the fit, leave fusion.json alone")
    args = parser.parse_args()

    service = build_service(load_settings(data_dir=args.data_dir))
    paths = [p for p in args.docs if p.exists()]
    if args.lookalikes:
        import glob

        paths += [Path(p) for p in sorted(glob.glob(args.glob))[: args.lookalikes]]
    started = time.perf_counter()
    report = service.ingest_paths(paths)
    seconds = time.perf_counter() - started
    print(f"store: {len(service.documents())} documents, {report.embedded} texts embedded in {seconds:.0f} s")

    pools: list[Pool] = []
    pooled_gold = 0
    for path in args.questions:
        if not path.exists():
            continue
        for question in load_questions(path):
            if question.unanswerable or not question.gold:
                continue
            cleaned, search_filter = service.prepare_question(question.question, None, None, None)
            result = service.retriever.search(cleaned, k=1, search_filter=search_filter)
            if result.exact or not result.candidates:
                continue  # exact references bypass fusion
            keys = list(result.candidates)
            texts = service.retriever.paragraphs_by_key(keys, version=result.corpus_version)
            phrases = [" ".join(g.split()).lower() for g in question.gold]
            gold = [
                key in texts and any(ph in " ".join(texts[key].text.split()).lower() for ph in phrases) for key in keys
            ]
            pooled_gold += any(gold)
            tag = f"{path.parent.name}/{question.id}"
            tune = int(hashlib.sha256(tag.encode()).hexdigest(), 16) % 2 == 0
            pools.append(Pool(tag, tune, [result.candidates[k].features() for k in keys], gold))
    tune = [p for p in pools if p.tune]
    check = [p for p in pools if not p.tune]
    print(f"questions: {len(pools)} ({len(tune)} tune, {len(check)} check); gold in the pool for {pooled_gold}")

    steps = round(1 / args.step)
    best: tuple[float, float, tuple[float, float, float]] | None = None
    for a, b in itertools.product(range(steps + 1), repeat=2):
        if a + b > steps:
            continue
        w = (a / steps, b / steps, (steps - a - b) / steps)
        s = summary(tune, lambda p, w=w: fused(p, w))
        key = (s["mrr"], s["hit@1"], w)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    weights = best[2]
    figures = {
        "tune": summary(tune, lambda p: fused(p, weights)),
        "check": summary(check, lambda p: fused(p, weights)),
        "rrf_tune": summary(tune, rrf),
        "rrf_check": summary(check, rrf),
    }
    # The weights shipped now, on the same pools: what writing the new ones changes.
    shipped = FusionWeights(**json.loads(FUSION_WEIGHTS_PATH.read_text(encoding="utf-8"))["weights"])
    current = (shipped.paragraph, shipped.sentence, shipped.lexical)
    figures["shipped_tune"] = summary(tune, lambda p: fused(p, current))
    figures["shipped_check"] = summary(check, lambda p: fused(p, current))
    result = {
        "weights": dict(zip(("paragraph", "sentence", "lexical"), (round(x, 4) for x in weights), strict=True)),
        "fitted_by": "bench/fit_fusion.py",
        "objective": f"MRR@{DEPTH} of the first gold paragraph among the pooled candidates, tune half",
        "corpus": {"documents": len(service.documents()), "lookalikes": args.lookalikes, "glob": args.glob},
        "question_sets": [str(p.relative_to(SHARED)) if p.is_relative_to(SHARED) else str(p) for p in args.questions],
        "figures": figures,
    }
    print(json.dumps(result, indent=2))
    FusionWeights(**result["weights"])  # the shape retrieval reads
    if not args.no_write:
        FUSION_WEIGHTS_PATH.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {FUSION_WEIGHTS_PATH.relative_to(ROOT)}")
    service.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
