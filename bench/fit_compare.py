"""Fit the alignment weights and the "no counterpart" threshold of `compare`, and print the figures.

Tune set: edited copies (see `qa/compare_eval.py`) of real joint statements of 2021-2022
from the archive; check set: edited copies of joint statements of 2023-2024, never seen
while fitting. The real successive statements checked by hand
(`tests/data/compare/real_pairs.json`) are measured with the fitted values, not fitted on.

Grid search: four weights on a simplex grid (step 0.1), thresholds 0.30-0.95 (step 0.01). The
objective is the number of edited pairs reported exactly, then pair F1; among the
thresholds that reach the best, the middle one is kept (the widest margin both ways).

    .venv/bin/python bench/fit_compare.py [--archive ../shared/corpus/archive] [--write]

Sentence vectors are cached in /tmp/statementbot-fit-compare.npz (MiniLM, as ingested).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from itertools import product
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qa.compare import PARAMS_PATH, AlignmentParams, assign, features  # noqa: E402
from qa.compare_eval import (  # noqa: E402
    Tally,
    align_inputs,
    edit_statement,
    load_real_pairs,
    load_statement,
    real_truth,
    sentence_texts,
)

REAL_PAIRS = REPO / "tests" / "data" / "compare" / "real_pairs.json"
CACHE = Path("/tmp/statementbot-fit-compare.npz")
PER_SET = 14
SEEDS = (1, 2)
MIN_PARAGRAPHS, MAX_PARAGRAPHS = 8, 80


def pick(archive: Path, years: tuple[str, ...], exclude: set[str]) -> list[Path]:
    """Joint statements of the given years with 8-80 paragraphs, in a fixed pseudo-random order."""
    files = [
        p
        for p in sorted(archive.glob("*/*.md"))
        if p.name[:4] in years and "joint" in p.name and str(p.relative_to(archive)) not in exclude
    ]
    files.sort(key=lambda p: hashlib.sha256(p.name.encode()).hexdigest())
    chosen = []
    for path in files:
        try:
            document = load_statement(path)
        except Exception as error:  # noqa: BLE001 - a statement the loader refuses is simply not used
            print(f"  skipped {path.name}: {error}", file=sys.stderr)
            continue
        if MIN_PARAGRAPHS <= len(document.paragraphs) <= MAX_PARAGRAPHS:
            chosen.append(path)
        if len(chosen) == PER_SET:
            break
    return chosen


class Vectors:
    """Sentence vectors by text, cached on disk between runs."""

    def __init__(self) -> None:
        self.known: dict[str, np.ndarray] = {}
        if CACHE.exists():
            data = np.load(CACHE, allow_pickle=False)
            self.known = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
        self._embedder = None

    def ensure(self, texts: list[str]) -> dict[str, np.ndarray]:
        missing = [t for t in texts if t not in self.known]
        if missing:
            if self._embedder is None:
                from vectorstore.embeddings import Embedder

                self._embedder = Embedder()
            started = time.perf_counter()
            self.known.update(zip(missing, self._embedder.encode(missing), strict=True))
            print(f"  embedded {len(missing)} sentences in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            texts_all = list(self.known)
            np.savez(CACHE, texts=np.array(texts_all), vectors=np.stack([self.known[t] for t in texts_all]))
        return self.known


def edited_cases(paths: list[Path], vectors: Vectors) -> list[tuple[np.ndarray, ...]]:
    """(paragraph, sentence, lexical, truth mask) per edited pair."""
    documents = [load_statement(p) for p in paths]
    cases = []
    for index, document in enumerate(documents):
        # Donors: paragraphs of the other statements of the same set (new text on neighbouring topics).
        donors = [p.text for j, d in enumerate(documents) if j != index for p in d.paragraphs if len(p.text) > 80]
        for seed in SEEDS:
            pair = edit_statement(document, donors, seed)
            known = vectors.ensure(sentence_texts([pair.original, pair.edited]))
            f = features(align_inputs(pair.original, known), align_inputs(pair.edited, known))
            cases.append((f, pair.truth))
    return cases


def evaluate(cases: list, params: AlignmentParams) -> Tally:
    tally = Tally()
    for f, truth in cases:
        tally.add(set(assign(f.score(params), params.threshold)), truth)
    return tally


def real_cases(archive: Path, vectors: Vectors) -> list:
    cases = []
    for pair in load_real_pairs(REAL_PAIRS):
        a, b = load_statement(archive / pair.a), load_statement(archive / pair.b)
        known = vectors.ensure(sentence_texts([a, b]))
        f = features(align_inputs(a, known), align_inputs(b, known))
        truth = real_truth(pair, [p.text for p in a.paragraphs], [p.text for p in b.paragraphs])
        cases.append((f, truth))
    return cases


def fit(cases: list) -> tuple[AlignmentParams, Tally]:
    steps = [round(0.1 * i, 1) for i in range(11)]
    thresholds = [round(0.30 + 0.01 * i, 2) for i in range(66)]
    best_key: tuple[int, float] | None = None
    best: list[AlignmentParams] = []
    for wp, ws, wl in product(steps, steps, steps):
        wb = round(1.0 - wp - ws - wl, 1)
        if wb < 0:
            continue
        for threshold in thresholds:
            params = AlignmentParams(wp, ws, wl, wb, threshold)
            tally = evaluate(cases, params)
            f1 = 2 * tally.precision * tally.recall / ((tally.precision + tally.recall) or 1.0)
            key = (tally.exact, round(f1, 6))
            if best_key is None or key > best_key:
                best_key, best = key, [params]
            elif key == best_key:
                best.append(params)
    # Among the ties, the weights with the most tied thresholds, and the middle threshold of those.
    by_weights: dict[tuple[float, float, float, float], list[float]] = {}
    for p in best:
        by_weights.setdefault((p.paragraph, p.sentence, p.lexical, p.phrase), []).append(p.threshold)
    weights, tied = max(by_weights.items(), key=lambda item: len(item[1]))
    chosen = AlignmentParams(*weights, threshold=sorted(tied)[len(tied) // 2])
    return chosen, evaluate(cases, chosen)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=REPO.parent / "shared" / "corpus" / "archive")
    parser.add_argument("--write", action="store_true", help=f"write the fitted values to {PARAMS_PATH.name}")
    args = parser.parse_args()
    real = load_real_pairs(REAL_PAIRS) if REAL_PAIRS.exists() else []
    exclude = {p.a for p in real} | {p.b for p in real}
    vectors = Vectors()
    tune_paths = pick(args.archive, ("2021", "2022"), exclude)
    check_paths = pick(args.archive, ("2023", "2024"), exclude)
    print(f"tune: {len(tune_paths)} statements x {len(SEEDS)} edits; check: {len(check_paths)} x {len(SEEDS)}")
    tune, check = edited_cases(tune_paths, vectors), edited_cases(check_paths, vectors)
    started = time.perf_counter()
    params, tune_tally = fit(tune)
    print(f"fitted in {time.perf_counter() - started:.1f} s: {params}")
    check_tally = evaluate(check, params)
    real_tally = evaluate(real_cases(args.archive, vectors), params) if real else Tally()
    figures = {"tune_edited": tune_tally.to_json(), "check_edited": check_tally.to_json(), "real": real_tally.to_json()}
    for name, value in figures.items():
        print(f"{name:12} {json.dumps(value)}")
    if args.write:
        payload = {
            "params": {
                "paragraph": params.paragraph,
                "sentence": params.sentence,
                "lexical": params.lexical,
                "phrase": params.phrase,
                "threshold": params.threshold,
            },
            "fitted_by": "bench/fit_compare.py",
            "tune": [str(p.relative_to(args.archive)) for p in tune_paths],
            "check": [str(p.relative_to(args.archive)) for p in check_paths],
            "figures": figures,
        }
        PARAMS_PATH.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {PARAMS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
