"""HTML reports built from the store alone: a page per experiment (its tables as CSV and figures as
PNG and SVG beside it), pages across data sets, and an index.

Tables are computed with pandas (harness.stats) and rendered by Jinja2 templates with
autoescaping on, so every user-supplied string (variant, dataset, column names) is escaped.
"""
from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any, Sequence

import jinja2
import numpy as np
import pandas as pd

from ..stored import Results, Section
from ..store import Store
from . import figures
from .formatting import fmt, hms
from .sections import SECTIONS, SectionBuilder, summary_table

__all__ = ["SECTIONS", "Exports", "SectionBuilder", "render_section", "write_all", "write_experiment_report", "write_index"]

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


_TEMPLATES.filters["fmt"] = fmt
_TEMPLATES.filters["hms"] = hms
_TEMPLATES.filters["slug"] = lambda name: slug(str(name))


def slug(name: str) -> str:
    """A folder or file name for an experiment or an export."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "experiment"


#: a cell a spreadsheet would run as a formula begins with one of these (OWASP's list)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula, with a leading apostrophe (shown as
    text there); numbers and other text as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A table as CSV, every text cell and column name neutralised against formula injection
    (`spreadsheet_safe`): a variant named '=HYPERLINK(…)' stays text when opened in Excel."""
    safe = frame.copy()
    safe.columns = [spreadsheet_safe(str(c)) for c in safe.columns]
    for position, dtype in enumerate(safe.dtypes):
        if dtype == object or isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype)):
            safe.isetitem(position, safe.iloc[:, position].astype(object).map(spreadsheet_safe))
    safe.to_csv(path, index=False)


def _cell(value: Any, digits: int) -> dict[str, Any]:
    """A table cell: its text, and whether it reads as text (left-aligned) or as a number."""
    if isinstance(value, str):
        return {"text": value, "number": bool(_NUMERIC.match(value))}
    if value is None or isinstance(value, (bool, np.bool_)):
        return {"text": "" if value is None else str(value), "number": False}
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and digits == 0 and value == value):
        return {"text": str(int(value)), "number": True}
    if isinstance(value, (float, np.floating)):
        return {"text": fmt(float(value), digits), "number": True}
    return {"text": str(value), "number": False}


_NUMERIC = re.compile(r"^[\[(]?[-+−–#]?\d")


class Exports:
    """The file names of one page's exports (every table as CSV, every figure as PNG and SVG),
    unique within the page's folder."""

    def __init__(self, folder: Path, taken: Sequence[str] = ("index.html", "folds.csv", "summary.csv")) -> None:
        self.folder = Path(folder)
        self.used = set(taken)

    def name(self, stem: str, extension: str) -> str:
        base = slug(Path(stem).stem if stem.endswith(f".{extension}") else stem).lower()[:80]
        name, i = f"{base}.{extension}", 2
        while name in self.used:
            name, i = f"{base}-{i}.{extension}", i + 1
        self.used.add(name)
        return name

    def figure(self, figure: Any, stem: str) -> dict[str, str | None]:
        """Save a matplotlib Figure as PNG and SVG (and close it); a base64 PNG string as PNG."""
        png = self.name(stem, "png")
        if isinstance(figure, str):
            (self.folder / png).write_bytes(base64.b64decode(figure))
            return {"png": png, "svg": None}
        svg = self.name(stem, "svg")
        figures.save(figure, self.folder / png, self.folder / svg)
        return {"png": png, "svg": svg}


def render_section(section: Section, folder: Path, level: int = 2, exports: Exports | None = None,
                   parent: str = "") -> dict[str, Any]:
    """A Section as the template draws it: its figure saved beside the page as PNG and SVG, its
    table's cells formatted and the table written beside the page as CSV (named after the
    section, and its parent's title for a subsection), subsections rendered one level down."""
    exports = exports or Exports(folder)
    stem = f"{parent} {section.title}".strip()
    figure = None
    if section.figure is not None:
        figure = exports.figure(section.figure, stem)
    table = csv = None
    if section.table is not None:
        frame = section.table
        columns = [str(c) for c in frame.columns]
        rows = [[_cell(v, section.digits.get(c, 4)) for c, v in zip(columns, row)]
                for row in frame.itertuples(index=False, name=None)]
        classes = list(section.row_classes or [""] * len(rows))
        if section.highlight is not None:
            classes = [("best " + c).strip() if row and row[0]["text"] == section.highlight else c
                       for row, c in zip(rows, classes)]
        table = {"columns": columns, "rows": list(zip(classes, rows))}
        csv = exports.name(section.csv or stem, "csv")
        write_csv(frame, exports.folder / csv)
    return {"title": section.title, "text": section.text, "note": section.note, "figure": figure, "table": table,
            "csv": csv, "definitions": list(section.items), "preformatted": section.preformatted, "error": section.error,
            "collapsed": section.collapsed, "open": section.open, "level": min(level, 4),
            "subsections": [render_section(sub, folder, level + 1, exports, section.title) for sub in section.subsections]}


def build_sections(results: Results, folder: Path, builders: Sequence[SectionBuilder]) -> list[dict[str, Any]]:
    """Every builder's sections, rendered; a builder that raises says why on the page instead
    of losing the report."""
    rendered, exports = [], Exports(folder)
    for builder in builders:
        try:
            made = builder(results)
            made = [] if made is None else [made] if isinstance(made, Section) else list(made)
            rendered += [render_section(section, folder, exports=exports) for section in made]
        except Exception as exc:  # noqa: BLE001 - reported on the page
            name = getattr(builder, "__name__", "section").replace("_", " ")
            rendered.append(render_section(Section(name, error=f"{type(exc).__name__}: {exc}"), folder, exports=exports))
    return rendered


def _find_experiment(name: str) -> Any:
    """The built-in experiment called `name`, or None (a user's file is not known by name)."""
    from ..registry import builtin

    try:
        cls = builtin().get(name)
    except Exception:  # a broken experiments/ module must not stop the other reports
        return None
    return cls() if cls else None


def write_experiment_report(
    store: Store, experiment: str, reports_dir: Path, run_id: str | None = None, exp: Any = None,
    sections: Sequence[SectionBuilder] | None = None,
) -> Path:
    """Write reports/<experiment>/index.html, folds.csv and summary.csv (and every section's
    CSV) from the store; return the page's path. `exp` (whose own `report_sections` the page
    shows) defaults to the built-in experiment of that name; `sections` to `SECTIONS`."""
    results = Results.load(store, experiment, run_id, exp if exp is not None else _find_experiment(experiment))
    folder = Path(reports_dir) / slug(experiment)
    folder.mkdir(parents=True, exist_ok=True)
    rendered = build_sections(results, folder, SECTIONS if sections is None else sections)
    export = results.splits.drop(columns=["weights", "loss", "val_loss", "metrics"])
    metrics = pd.json_normalize(results.splits["metrics"].tolist())
    write_csv(pd.concat([export, metrics], axis=1), folder / "folds.csv")
    write_csv(summary_table(results), folder / "summary.csv")
    page = folder / "index.html"
    page.write_text(_TEMPLATES.get_template("experiment.html").render(
        results=results, settings=results.settings, sections=rendered,
        started=time.strftime("%Y-%m-%d %H:%M", time.localtime(results.started)),
        engines=sorted(set(results.splits["engine"])), n_splits=int(results.splits["split"].nunique()),
    ), encoding="utf-8")
    return page


def _default_suite_names() -> list[str]:
    from ..registry import default_suite

    try:
        return [cls.name for cls in default_suite()]
    except Exception:  # a broken experiments/ module must not stop the reports
        return []


def write_across(runs: Sequence[Results], reports_dir: Path) -> list[dict[str, Any]]:
    """A cross-data-set page for every group of experiments sharing their variants (see
    harness.report.across); their headlines, default suite first, for the index."""
    from . import across

    template = _TEMPLATES.get_template("across.html")
    return [across.write_group(group, reports_dir, template)
            for group in across.find_groups(runs, _default_suite_names())]


def write_index(store: Store, reports_dir: Path) -> Path:
    """reports/index.html: every experiment's latest run with its headline result, and a page
    across data sets for every group of experiments sharing their variants."""
    entries, runs = [], []
    progress = store.run_progress()
    for experiment, run_id in sorted(store.latest_run_ids().items()):
        run = store.runs(experiment).set_index("run_id").loc[run_id]
        newer = progress[(progress["experiment"] == experiment) & (progress["started_at"] > run["started_at"])]
        newer = newer[newer["status"] != "finished"].tail(1)
        results = Results.load(store, experiment, run_id, weights=False, data=False)
        runs.append(results)
        settings, splits = results.settings, results.splits
        summary = summary_table(results)  # with the paired tests and their Holm verdicts
        base_row = summary[summary["variant"] == results.baseline]
        # the headline ranks the networks; reference models are on the experiment's page
        networks = summary[summary["variant"].isin(results.networks)]
        entries.append(
            {
                "name": experiment,
                "href": f"{slug(experiment)}/index.html",
                "description": settings.get("description", ""),
                "dataset": run["dataset"],
                "score": settings["score"],
                "greater": results.greater_is_better,
                "best": networks.iloc[0].to_dict() if len(networks) else None,
                "baseline": base_row.iloc[0].to_dict() if len(base_row) else None,
                "baseline_name": results.baseline,
                "variants": len(networks),
                "references": len(summary) - len(networks),
                "splits": int(splits["split"].nunique()),
                "failed": int((splits["status"] != "ok").sum()),
                "seconds": float(splits["seconds"].sum()),
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
    groups = write_across(runs, reports_dir)
    write_csv(_index_table(entries), page.parent / "index.csv")
    page.write_text(_TEMPLATES.get_template("index.html").render(entries=entries, groups=groups), encoding="utf-8")
    return page


def _index_table(entries: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The index's table as data (index.csv)."""
    def get(entry: dict[str, Any], which: str, key: str) -> Any:
        return entry[which][key] if entry[which] else None

    return pd.DataFrame([{
        "experiment": e["name"], "dataset": e["dataset"], "score": e["score"], "greater_is_better": e["greater"],
        "variants": e["variants"], "reference_models": e["references"], "splits": e["splits"],
        "best_variant": get(e, "best", "variant"), "best_mean": get(e, "best", "mean"),
        "best_stdev": get(e, "best", "stdev"), "baseline_mean": get(e, "baseline", "mean"),
        "best_minus_baseline": (e["best"]["mean"] - e["baseline"]["mean"]) if e["best"] and e["baseline"] else None,
        "verdict": get(e, "best", "verdict") if e["best"] and e["best"]["variant"] != e["baseline_name"] else None,
        "failed_splits": e["failed"], "train_seconds": e["seconds"], "started": e["started"], "quick": e["quick"],
    } for e in entries])


def write_all(store: Store, reports_dir: Path) -> Path:
    """Rewrite every experiment's page from its latest run, then the index."""
    for experiment, run_id in store.latest_run_ids().items():
        write_experiment_report(store, experiment, reports_dir, run_id)
    return write_index(store, reports_dir)
