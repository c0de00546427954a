"""HTML reports built from the store alone: a page per experiment (its tables as CSV and figures as
PNG and SVG beside it), pages across data sets, and an index.

The report renders: every table comes from `harness.stats`, every run from the store. Jinja2
templates render them with autoescaping on, so every user-supplied string (variant, dataset,
column names) is escaped. What the report cannot know by itself comes from its caller: the
experiment objects whose own sections a page shows, and which experiments form the default
suite.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from .. import stats
from ..core import OK, Definition, Results
from ..stats.across import Suites, find_groups
from ..store import Store
from . import atomic
from .render import TEMPLATES, Exports, SectionBuilder, build_sections, render_section, slug, write_csv
from .sections import SECTIONS

__all__ = ["SECTIONS", "Exports", "SectionBuilder", "render_section", "slug", "write_all", "write_csv",
           "write_experiment_report", "write_index"]


def write_experiment_report(
    store: Store, experiment: str, reports_dir: Path, run_id: str | None = None, definition: Definition | None = None,
    sections: Sequence[SectionBuilder] | None = None,
) -> Path:
    """Write reports/<experiment>/index.html, folds.csv and summary.csv (and every section's
    CSV) from the store; return the page's path. `definition` is the experiment object whose
    own `report_sections` the page shows (None: none); `sections` default to `SECTIONS`."""
    results = store.results(experiment, run_id, definition)
    folder = Path(reports_dir) / slug(experiment)
    folder.mkdir(parents=True, exist_ok=True)
    rendered = build_sections(results, folder, SECTIONS if sections is None else sections)
    export = results.splits.drop(columns=["weights", "loss", "val_loss", "metrics"])
    metrics = pd.json_normalize(results.splits["metrics"].tolist())
    write_csv(pd.concat([export, metrics], axis=1), folder / "folds.csv")
    write_csv(stats.summary(results), folder / "summary.csv")
    page = folder / "index.html"
    atomic.write_text(page, TEMPLATES.get_template("experiment.html").render(
        results=results, run=results.run, sections=rendered,
        started=time.strftime("%Y-%m-%d %H:%M", time.localtime(results.started)),
        engines=sorted(set(results.splits["engine"])), n_splits=int(results.splits["split"].nunique()),
    ))
    return page


def write_across(runs: Sequence[Results], reports_dir: Path, suite: Suites = ()) -> list[dict[str, Any]]:
    """A page across data sets for every group of experiments sharing their variants
    (`harness.stats.across.find_groups`; `suite`: the declared suites, name -> experiments, whose groups
    come first); their headlines for the index."""
    from . import across

    template = TEMPLATES.get_template("across.html")
    return [across.write_group(group, reports_dir, template) for group in find_groups(runs, suite)]


def write_index(store: Store, reports_dir: Path, suite: Suites = ()) -> Path:
    """reports/index.html: every experiment's latest run with its headline result, and a page
    across data sets for every group of experiments sharing their variants (`suite`:
    the declared suites, name -> experiments, whose groups come first)."""
    entries, runs = [], []
    progress = store.run_progress()
    for experiment, run_id in sorted(store.latest_run_ids().items()):
        run = store.runs(experiment).set_index("run_id").loc[run_id]
        newer = progress[(progress["experiment"] == experiment) & (progress["started_at"] > run["started_at"])]
        newer = newer[newer["status"] != "finished"].tail(1)
        shown = progress[progress["run_id"] == run_id].iloc[0]
        results = store.results(experiment, run_id, weights=False, data=False)
        runs.append(results)
        record, splits = results.run, results.splits
        headline = stats.headline(results)  # with the paired tests and their Holm verdicts
        entries.append(
            {
                "name": experiment,
                "href": f"{slug(experiment)}/index.html",
                "description": record.description,
                "dataset": run["dataset"],
                "score": record.score,
                "greater": results.greater_is_better,
                "best": headline["best"],
                "baseline": headline["baseline"],
                "difference": headline["difference"],
                "comparisons": headline["comparisons"],
                "baseline_name": results.baseline,
                "variants": headline["variants"],
                "references": headline["references"],
                "splits": int(splits["split"].nunique()),
                "failed": int((splits["status"] != OK).sum()),
                "seconds": float(splits["seconds"].sum()),
                "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(run["started_at"])),
                "quick": record.quick,
                # a newer run that has not finished (still running, or killed: running it again resumes it)
                "pending": None if newer.empty else _progress(newer.iloc[0]),
                # the run shown, when none has finished (interrupted, died, or running still)
                "unfinished": _progress(shown) if shown["status"] != "finished" else None,
            }
        )
    fdr = _index_fdr(entries)
    page = Path(reports_dir) / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    groups = write_across(runs, reports_dir, suite)
    write_csv(_index_table(entries), page.parent / "index.csv")
    atomic.write_text(page, TEMPLATES.get_template("index.html").render(entries=entries, groups=groups, fdr=fdr))
    return page


def _progress(row: Any) -> dict[str, Any]:
    """What the index says of a run that has not finished: when it started, its jobs stored of
    those planned, its status (running, interrupted, died) and its last heartbeat."""
    return {"started": time.strftime("%Y-%m-%d %H:%M", time.localtime(row["started_at"])), "stored": int(row["stored"]),
            "planned": int(row["planned"]), "status": row["status"], "heartbeat": _clock(row["heartbeat"])}


def _clock(seconds: Any) -> str | None:
    """A time of day from the epoch seconds the store holds (None when it holds none)."""
    return None if seconds is None or pd.isna(seconds) else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def _index_fdr(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Benjamini–Hochberg over every comparison with a baseline that the index's pages make
    (each page's Holm adjustment covers its own only): each entry gets its best variant's
    q-value (`q_index`); returns the counts the index states."""
    keys, p_values = [], []
    for entry in entries:
        for name, p in entry.get("comparisons", []):
            keys.append((entry["name"], name))
            p_values.append(p)
    q = dict(zip(keys, stats.benjamini_hochberg(p_values))) if keys else {}
    for entry in entries:
        best = entry["best"]["variant"] if entry["best"] else None
        entry["q_index"] = q.get((entry["name"], best), math.nan) if best != entry["baseline_name"] else math.nan
    tested = [v for v in q.values() if math.isfinite(v)]
    return {"comparisons": len(keys), "tested": len(tested), "pages": len(entries),
            "discoveries": sum(1 for v in tested if v < stats.ALPHA)}


def _index_table(entries: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The index's table as data (index.csv)."""
    def get(entry: dict[str, Any], which: str, key: str) -> Any:
        return entry[which][key] if entry[which] else None

    return pd.DataFrame([{
        "experiment": e["name"], "dataset": e["dataset"], "score": e["score"], "greater_is_better": e["greater"],
        "variants": e["variants"], "reference_models": e["references"], "splits": e["splits"],
        "best_variant": get(e, "best", "variant"), "best_mean": get(e, "best", "mean"),
        "best_stdev": get(e, "best", "stdev"), "baseline_mean": get(e, "baseline", "mean"),
        "best_minus_baseline": e["difference"],
        "verdict": get(e, "best", "verdict") if e["best"] and e["best"]["variant"] != e["baseline_name"] else None,
        "q_bh_index": e.get("q_index"),
        "failed_splits": e["failed"], "train_seconds": e["seconds"], "started": e["started"], "quick": e["quick"],
    } for e in entries])


def write_all(store: Store, reports_dir: Path, definitions: Mapping[str, Definition] | None = None,
              suite: Suites = ()) -> Path:
    """Rewrite every experiment's page from its latest run, then the index. `definitions`: the
    experiment objects by name whose own sections their pages show; `suite`: as `write_index`."""
    for experiment, run_id in store.latest_run_ids().items():
        write_experiment_report(store, experiment, reports_dir, run_id, (definitions or {}).get(experiment))
    return write_index(store, reports_dir, suite)
