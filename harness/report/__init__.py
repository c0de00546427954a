"""HTML reports built from the store alone: one self-contained page per experiment, and an index.

Tables are computed with pandas (harness.stats) and rendered by Jinja2 templates with
autoescaping on, so every user-supplied string (variant, dataset, column names) is escaped.
"""
from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from .. import stats
from ..store import Store
from . import figures

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    value = float(value)
    if value != 0 and (abs(value) < 10 ** -(digits - 1) or abs(value) >= 1e6):
        return f"{value:.{max(digits - 1, 1)}e}"
    return f"{value:.{digits}f}"


def _hms(seconds: float) -> str:
    """Heaton's time format, e.g. 0:00:04.12."""
    seconds = float(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours)}:{int(minutes):02d}:{secs:05.2f}"


_TEMPLATES.filters["fmt"] = _fmt
_TEMPLATES.filters["hms"] = _hms


def slug(name: str) -> str:
    """A folder name for an experiment."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "experiment"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict(orient="records")


def experiment_context(store: Store, experiment: str, run_id: str) -> dict[str, Any]:
    """Everything the experiment page shows, computed from the stored run."""
    run = store.runs(experiment).set_index("run_id").loc[run_id]
    settings = run["settings"]
    folds = store.folds(run_id=run_id, with_weights=True)
    greater = bool(settings["greater_is_better"])
    sklearn_names = sklearn_baselines(settings, folds)
    order = list(settings.get("variant_order") or dict.fromkeys(folds["variant"]))
    order += [name for name in sklearn_names if name not in order]
    order += [name for name in dict.fromkeys(folds["variant"]) if name not in order]
    summary = stats.variant_summary(folds, greater, order)
    summary["kind"] = ["scikit-learn" if name in sklearn_names else "network" for name in summary["variant"]]
    # the networks are compared with the unregularized variant; baselines are compared with it too
    baseline = stats.baseline_variant([name for name in order if name not in sklearn_names] or order)
    paired = stats.paired_comparison(folds, baseline, greater, settings.get("test_train_ratio", 0.25))
    summary = summary.merge(paired, on="variant", how="left")
    best = summary.iloc[0]["variant"] if summary["mean"].notna().any() else None
    weights = stats.weight_summary(folds)
    ranked = list(summary["variant"])
    per_split = [
        {"variant": name, "rows": _records(stats.heaton_table(folds[folds["variant"] == name]))}
        for name in ranked
    ]
    failed = folds[folds["status"] != "ok"][["variant", "fold", "epochs", "reason"]]
    source_rows = []
    for row in settings.get("source_results", []):
        measured = None
        match = summary[summary["variant"] == row.get("variant")]
        if len(match) and row.get("stat"):
            measured = match.iloc[0][row["stat"]]
        source_rows.append({**row, "measured": measured})
    return {
        "experiment": experiment,
        "run_id": run_id,
        "run": run.to_dict(),
        "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(run["started_at"])),
        "settings": settings,
        "summary": _records(summary),
        "best": best,
        "baseline": baseline,
        "greater": greater,
        "per_split": per_split,
        "failed": _records(failed),
        "weights": _records(weights),
        "source_rows": source_rows,
        "engines": sorted(set(folds["engine"])),
        "n_folds": int(folds["fold"].nunique()) if len(folds) else 0,
        "total_seconds": float(folds["seconds"].sum()),
        "figure_scores": figures.score_distribution(folds, ranked, settings["score"]),
        "figure_curves": figures.loss_curves(
            folds, ranked, "test (recorded only)" if settings.get("test_curve") else "validation"),
        "figure_weights": figures.weight_bars(weights),
        "curve_panels_capped": len([n for n in ranked if n not in sklearn_names]) > figures.MAX_CURVE_PANELS,
        "max_curve_panels": figures.MAX_CURVE_PANELS,
        "folds": folds,
        "summary_frame": summary,
        "sklearn_names": sklearn_names,
    }


def sklearn_baselines(settings: dict[str, Any], folds: pd.DataFrame) -> list[str]:
    """Names of the run's scikit-learn baselines (`Experiment.baselines`): rows with no network,
    no epochs and no weights, listed after the variants."""
    names = [entry["name"] for entry in settings.get("baselines", [])]
    if "engine" in folds:
        names += [n for n in dict.fromkeys(folds.loc[folds["engine"] == "sklearn", "variant"]) if n not in names]
    return names


def _find_experiment(name: str) -> Any:
    """The built-in experiment called `name`, or None (a user's file is not known by name)."""
    from ..registry import builtin

    try:
        cls = builtin().get(name)
    except Exception:  # a broken experiments/ module must not stop the other reports
        return None
    return cls() if cls else None


def experiment_sections(exp: Any, folds: pd.DataFrame, folder: Path) -> list[dict[str, Any]]:
    """The experiment's own report sections, tables exported as CSV; a section that fails says
    why on the page instead of losing the report."""
    if exp is None:
        return []
    try:
        sections = exp.report_sections(folds)
    except Exception as exc:  # noqa: BLE001 - reported on the page
        return [{"title": "Experiment-specific analysis", "text": "", "figure": None, "table": None,
                 "csv": None, "error": f"{type(exc).__name__}: {exc}"}]
    rendered = []
    for section in sections:
        table = section.table
        if table is not None and section.csv:
            table.to_csv(folder / section.csv, index=False)
        rendered.append({
            "title": section.title, "text": section.text, "figure": section.figure, "csv": section.csv,
            "error": None,
            "table": None if table is None else {"columns": [str(c) for c in table.columns],
                                                  "rows": table.to_dict(orient="split")["data"]},
        })
    return rendered


def write_experiment_report(
    store: Store, experiment: str, reports_dir: Path, run_id: str | None = None, exp: Any = None,
) -> Path:
    """Write reports/<experiment>/index.html, folds.csv and summary.csv (and the experiment's
    own sections and their CSVs); return the page's path. `exp` defaults to the built-in
    experiment of that name, when there is one."""
    run_id = run_id or store.latest_run_ids()[experiment]
    context = experiment_context(store, experiment, run_id)
    folder = Path(reports_dir) / slug(experiment)
    folder.mkdir(parents=True, exist_ok=True)
    context["sections"] = experiment_sections(exp if exp is not None else _find_experiment(experiment),
                                              context["folds"], folder)
    export = context.pop("folds").drop(columns=["weights", "loss", "val_loss", "config", "metrics"])
    metrics = pd.json_normalize(store.folds(run_id=run_id)["metrics"].tolist())
    pd.concat([export.reset_index(drop=True), metrics], axis=1).to_csv(folder / "folds.csv", index=False)
    context.pop("summary_frame").to_csv(folder / "summary.csv", index=False)
    page = folder / "index.html"
    page.write_text(_TEMPLATES.get_template("experiment.html").render(**context), encoding="utf-8")
    return page


def write_index(store: Store, reports_dir: Path) -> Path:
    """reports/index.html: every experiment's latest run with its headline result."""
    entries = []
    progress = store.run_progress()
    for experiment, run_id in sorted(store.latest_run_ids().items()):
        run = store.runs(experiment).set_index("run_id").loc[run_id]
        newer = progress[(progress["experiment"] == experiment) & (progress["started_at"] > run["started_at"])]
        newer = newer[newer["status"] != "finished"].tail(1)
        settings = run["settings"]
        folds = store.folds(run_id=run_id)
        greater = bool(settings["greater_is_better"])
        summary = stats.variant_summary(folds, greater)
        baseline = stats.baseline_variant(settings.get("variant_order") or list(dict.fromkeys(folds["variant"])))
        base_row = summary[summary["variant"] == baseline]
        # the headline ranks the networks; scikit-learn baselines are on the experiment's page
        networks = summary[~summary["variant"].isin(sklearn_baselines(settings, folds))]
        entries.append(
            {
                "name": experiment,
                "href": f"{slug(experiment)}/index.html",
                "description": settings.get("description", ""),
                "dataset": run["dataset"],
                "score": settings["score"],
                "greater": greater,
                "best": networks.iloc[0].to_dict() if len(networks) else None,
                "baseline": base_row.iloc[0].to_dict() if len(base_row) else None,
                "variants": len(networks),
                "baselines": len(summary) - len(networks),
                "folds": int(folds["fold"].nunique()),
                "failed": int((folds["status"] != "ok").sum()),
                "seconds": float(folds["seconds"].sum()),
                "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(run["started_at"])),
                "quick": bool(settings.get("quick")),
                # a newer run that has not finished (still running, or killed: running it again resumes it)
                "pending": None if newer.empty else {
                    "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(newer.iloc[0]["started_at"])),
                    "stored": int(newer.iloc[0]["stored"]), "planned": int(newer.iloc[0]["planned"]),
                    "status": newer.iloc[0]["status"]},
            }
        )
    page = Path(reports_dir) / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(_TEMPLATES.get_template("index.html").render(entries=entries), encoding="utf-8")
    return page


def write_all(store: Store, reports_dir: Path) -> Path:
    """Rewrite every experiment's page from its latest run, then the index."""
    for experiment, run_id in store.latest_run_ids().items():
        write_experiment_report(store, experiment, reports_dir, run_id)
    return write_index(store, reports_dir)
