"""What a tuned variant's nested cross-validation chose and why, from the stored rows alone.

- `choices`: per tuned variant and outer split, the candidate retrained on the outer split
  (stored with its refit), whether the inner rows alone choose the same (they must: nothing
  else reaches the choice), and its outer score;
- `inner_curves`: per tuned variant, outer split and candidate, the inner score's mean, sd
  and count over inner splits, with the chosen point marked;
- `stability`: per tuned variant, how often its most frequent choice was made and how far the
  choices spread along the grid.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from ..core import OK, REFIT, Results
from ..core.tuning import candidate_label, choose

CHOICE_COLUMNS = ["variant", "split", "chosen", "recomputed", "agrees", "score", "status"]


def _variants(results: Results) -> list[Any]:
    return [v for v in results.variants if v.search is not None]


def _candidate(text: Any) -> dict[str, Any] | None:
    return json.loads(text) if isinstance(text, str) and text else None


def axis(variant: Any) -> str | None:
    """The grid's one numeric axis, when it has one (then plots put strength on it)."""
    grid = variant.search.grid
    if len(grid) != 1:
        return None
    name, values = next(iter(grid.items()))
    return name if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) else None


def _scores(results: Results, variant: Any, split: int) -> dict[tuple[int, int], float | None]:
    """The inner scores of one outer split by (candidate index, inner split)."""
    points = [json.dumps(p) for p in variant.search.candidates()]
    rows = results.inner[(results.inner["variant"] == variant.name) & (results.inner["split"] == split)]
    found: dict[tuple[int, int], float | None] = {}
    for row in rows.itertuples():
        if row.candidate in points:
            ok = row.status == OK and row.score is not None and math.isfinite(row.score)
            found[(points.index(row.candidate), int(row.inner_split))] = float(row.score) if ok else None
    return found


def choices(results: Results) -> pd.DataFrame:
    """One row per tuned variant and outer split: `chosen` (the candidate its refit retrained, as
    'l2=0.001'), one column per grid axis with its value, `recomputed` (what the stored inner
    rows choose under the search's rule), `agrees`, and the refit's outer score and status."""
    if "tuning_choices" in results.derived:
        return results.derived["tuning_choices"].copy()
    rows = []
    for variant in _variants(results):
        refits = results.splits[(results.splits["variant"] == variant.name) & (results.splits["role"] == REFIT)]
        for refit in refits.itertuples():
            chosen = _candidate(refit.candidate)
            again = choose(variant.search, _scores(results, variant, int(refit.split)), results.greater_is_better)
            row = {"variant": variant.name, "split": int(refit.split),
                   "chosen": candidate_label(chosen) if chosen else "nothing",
                   "recomputed": candidate_label(again.candidate) if again.candidate else "nothing",
                   "agrees": (again.candidate or None) == chosen, "score": refit.score, "status": refit.status}
            for name in variant.search.grid:
                row[name] = chosen.get(name) if chosen else None
            rows.append(row)
    results.derived["tuning_choices"] = pd.DataFrame(rows) if rows else pd.DataFrame(columns=CHOICE_COLUMNS)
    return results.derived["tuning_choices"].copy()


def inner_curves(results: Results) -> pd.DataFrame:
    """One row per tuned variant, outer split and candidate: its label and position, the value
    on the grid's axis (when it has one), the inner score's mean, sd (ddof 1) and n over the
    inner splits that scored it, and whether it was chosen on that outer split."""
    picked = choices(results)
    rows = []
    for variant in _variants(results):
        points = variant.search.candidates()
        along = axis(variant)
        for split in sorted(set(results.inner.loc[results.inner["variant"] == variant.name, "split"])):
            scores = _scores(results, variant, int(split))
            chosen = picked.loc[(picked["variant"] == variant.name) & (picked["split"] == split), "chosen"]
            for index, point in enumerate(points):
                values = [v for (c, _), v in scores.items() if c == index and v is not None]
                if not any(c == index for c, _ in scores):
                    continue  # a halving search dropped it before scoring it here
                rows.append({"variant": variant.name, "split": int(split), "candidate": candidate_label(point),
                             "position": index, "value": point[along] if along else float(index),
                             "mean": float(np.mean(values)) if values else math.nan,
                             "sd": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
                             "n": len(values), "chosen": bool(len(chosen)) and chosen.iloc[0] == candidate_label(point)})
    return pd.DataFrame(rows)


def stability(results: Results) -> pd.DataFrame:
    """Per tuned variant: outer splits, distinct choices, the most frequent choice and its share,
    and (for a one-axis grid of strengths) the spread of the chosen values in grid steps."""
    picked = choices(results)
    rows = []
    for variant in _variants(results):
        mine = picked[(picked["variant"] == variant.name) & (picked["chosen"] != "nothing")]
        if mine.empty:
            continue
        counts = mine["chosen"].value_counts()
        along = axis(variant)
        steps = None
        if along:
            grid = sorted(variant.search.grid[along])
            positions = [grid.index(v) for v in mine[along]]
            steps = max(positions) - min(positions)
        rows.append({"variant": variant.name, "splits": len(mine), "distinct choices": int(counts.size),
                     "most frequent": counts.index[0], "share": float(counts.iloc[0] / len(mine)),
                     "spread (grid steps)": steps, "inner agrees": bool(mine["agrees"].all())})
    return pd.DataFrame(rows)
