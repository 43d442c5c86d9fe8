"""Choose which passage features also enter the combiner as margins, by greedy forward selection.

    .venv/bin/python bench/select_margins.py --cache /tmp/statementbot-calibrate.pkl

A margin is a passage's value of a feature minus the best of the other retrieved
passages' (`qa.extractive.MARGINS`). Starting from the shipped features, each round
adds the margin that most raises the **tune** halves' objective (combiners refitted and
thresholds chosen exactly as `bench/calibrate.py` does); it stops when none does.
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

from qa.extractive import MARGINS, PASSAGE_FEATURES  # noqa: E402


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
            column = matrix[:, features.index(name)]
            best_other = [max(np.delete(column, i), default=0.0) for i in range(len(column))]
            extra.append(column - np.array(best_other))
        for index, passage in enumerate(item.passages):
            passage.features = np.concatenate([matrix[index], [values[index] for values in extra]])


def objectives(items: Sequence[calibrate.Collected]) -> tuple[float, float]:
    """(tune, check) objective of a fit on the tune halves."""
    tune = [item for item in items if item.half == "tune"]
    passage, _ = calibrate.fit_combiner(*calibrate.passage_design(tune))
    sentence, _ = calibrate.fit_combiner(*calibrate.sentence_design(tune))
    params = calibrate.choose_thresholds(tune, passage, sentence)
    scores = []
    for half in ("tune", "check"):
        by_set: dict[str, list[calibrate.Collected]] = {}
        for item in items:
            if item.half == half:
                by_set.setdefault(item.set_name, []).append(item)
        scores.append(calibrate.objective(calibrate.merged([calibrate.replay(g, params) for g in by_set.values()])))
    return scores[0], scores[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/statementbot-calibrate.pkl"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    with args.cache.open("rb") as handle:
        items = _CacheReader(handle).load()["collected"]
    shipped = [name for name in MARGINS if name != "margin"]
    # The cache holds the shipped margins as features; select among the others' margins from scratch.
    keep = [i for i, name in enumerate(PASSAGE_FEATURES) if name not in shipped]
    base = {id(p): p.features[keep] for item in items for p in item.passages}
    features = [PASSAGE_FEATURES[i] for i in keep]
    # Margins themselves, and the feature whose margin `margin` already is, are no candidates.
    candidates = [name for name in features if name not in MARGINS and name != MARGINS["margin"]]
    chosen: list[str] = []
    with_margins(items, [], base, features)
    best_tune, check = objectives(items)
    print(f"no margins beyond 'margin': tune {best_tune:.4f} check {check:.4f}")
    while True:
        trials = {}
        for name in candidates:
            if name in chosen:
                continue
            with_margins(items, [*chosen, name], base, features)
            trials[name] = objectives(items)
            print(f"  + {name:<24} tune {trials[name][0]:.4f} check {trials[name][1]:.4f}", flush=True)
        if not trials:
            break
        name, (tune, check) = max(trials.items(), key=lambda kv: kv[1][0])
        if tune <= best_tune + 1e-9:
            break
        chosen.append(name)
        best_tune = tune
        print(f"chose {name}: tune {tune:.4f} check {check:.4f}")
    print("margins chosen:", ", ".join(chosen) or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
