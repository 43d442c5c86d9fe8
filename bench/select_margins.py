"""Choose which passage features also enter the combiner as margins, by greedy forward selection.

    .venv/bin/python bench/select_margins.py --cache /tmp/statementbot-calibrate.pkl

A margin is a passage's value of a feature minus the best of the other retrieved
passages' (`qa.extractive.MARGINS`). Starting from the shipped features, each round
adds the margin that most raises the **tune** halves' objective (combiners refitted and
thresholds chosen exactly as `bench/calibrate.py` does); it stops when none does.
Two margins whose tune objectives lie within TIE of each other are told apart by the passage
combiner's cross-validated log loss on the tune half (lower wins), the criterion it is fitted by.
Check-half objectives are printed beside, never used to choose. Runs on the cache
`calibrate.py` collected, so nothing is retrieved or embedded again.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import calibrate  # noqa: E402

from qa.extractive import MARGINS, PASSAGE_FEATURES, margins_of  # noqa: E402

# Tune objectives this close are a tie: one question of the 244 answered differently moves them about as much.
TIE = 0.001


class _CacheReader(pickle.Unpickler):
    """Reads calibrate.py's cache, whose classes were pickled under `__main__` (it ran as a script)."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "__main__":
            return getattr(calibrate, name)
        return super().find_class(module, name)


def with_margins(
    items: Sequence[calibrate.Collected], names: Sequence[str], base: dict[int, np.ndarray], features: list[str]
) -> None:
    """Give every passage its base features (named `features`) plus the margins of `names`."""
    for item in items:
        if not item.passages:
            continue
        matrix = np.stack([base[id(p)] for p in item.passages])
        extra = []
        for name in names:
            extra.append(margins_of(matrix[:, features.index(name)]))
        for index, passage in enumerate(item.passages):
            passage.features = np.concatenate([matrix[index], [values[index] for values in extra]])


def objectives(items: Sequence[calibrate.Collected]) -> tuple[float, float, float]:
    """(tune, check) objective of a fit on the tune halves, and the passage combiner's CV log loss."""
    tune = [item for item in items if item.half == "tune"]
    passage, _c, loss = calibrate.fit_combiner_scored(*calibrate.passage_design(tune))
    sentence, _ = calibrate.fit_combiner(*calibrate.sentence_design(tune))
    params = calibrate.choose_thresholds(tune, passage, sentence)
    scores = []
    for half in ("tune", "check"):
        by_set: dict[str, list[calibrate.Collected]] = {}
        for item in items:
            if item.half == half:
                by_set.setdefault(item.set_name, []).append(item)
        scores.append(calibrate.objective(calibrate.merged([calibrate.replay(g, params) for g in by_set.values()])))
    return scores[0], scores[1], loss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/statementbot-calibrate.pkl"))
    parser.add_argument("--start", nargs="*", default=[], help="margins already chosen (resume a selection)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    with args.cache.open("rb") as handle:
        items = _CacheReader(handle).load()["collected"]
    shipped = [name for name in MARGINS if name != "margin"]
    # The cache holds the shipped margins as features; select among the others' margins from scratch.
    keep = [i for i, name in enumerate(PASSAGE_FEATURES) if name not in shipped]
    base = {id(p): p.features[keep] for item in items for p in item.passages}
    features = [PASSAGE_FEATURES[i] for i in keep]
    # Margins themselves are no candidates, nor are features whose margin is `margin` itself: the best
    # sentence cosine, and cosine_gap (that cosine minus one constant per question). A duplicate column
    # only halves its weight's penalty, which moved the tune objective by 0.005 without a new feature.
    duplicates = {MARGINS["margin"], "cosine_gap"}
    candidates = [name for name in features if name not in MARGINS and name not in duplicates]
    chosen: list[str] = list(args.start)
    with_margins(items, chosen, base, features)
    best_tune, check, _loss = objectives(items)
    print(f"margins {['margin', *chosen]}: tune {best_tune:.4f} check {check:.4f}")
    while True:
        trials = {}
        for name in candidates:
            if name in chosen:
                continue
            with_margins(items, [*chosen, name], base, features)
            trials[name] = objectives(items)
            tune, check, loss = trials[name]
            print(f"  + {name:<24} tune {tune:.5f} check {check:.4f} log loss {loss:.5f}", flush=True)
        if not trials:
            break
        top = max(tune for tune, _check, _loss in trials.values())
        tied = {name: value for name, value in trials.items() if value[0] >= top - TIE}
        name = min(tied, key=lambda n: tied[n][2])
        tune, check, _loss = trials[name]
        if tune <= best_tune + 1e-9:
            break
        chosen.append(name)
        best_tune = tune
        print(f"chose {name}: tune {tune:.4f} check {check:.4f} (tied within {TIE}: {', '.join(sorted(tied))})")
    print("margins chosen:", ", ".join(chosen) or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
