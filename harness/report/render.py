"""How a page is rendered: the Jinja2 templates (autoescaping on), table cells, CSV exports
safe to open in a spreadsheet, and each `Section` turned into what the template draws, its
figure saved as PNG and SVG and its table as CSV beside the page."""
from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any, Callable, Sequence

import jinja2
import numpy as np
import pandas as pd

from ..core import Results, Section
from . import atomic, figures
from .formatting import fmt, hms

#: a function from `Results` to a `Section` (or a list of them, or None to leave it out)
SectionBuilder = Callable[[Results], "Section | Sequence[Section] | None"]

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


TEMPLATES.filters["fmt"] = fmt
TEMPLATES.filters["hms"] = hms
TEMPLATES.filters["slug"] = lambda name: slug(str(name))


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
    (`spreadsheet_safe`): a variant named '=HYPERLINK(…)' stays text when opened in Excel. The
    file is replaced whole (`atomic.replacing`)."""
    safe = frame.copy()
    safe.columns = [spreadsheet_safe(str(c)) for c in safe.columns]
    for position, dtype in enumerate(safe.dtypes):
        if dtype == object or isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype)):
            safe.isetitem(position, safe.iloc[:, position].astype(object).map(spreadsheet_safe))
    with atomic.replacing(path) as temporary:
        safe.to_csv(temporary, index=False)


def cell(value: Any, digits: int) -> dict[str, Any]:
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
            atomic.write_bytes(self.folder / png, base64.b64decode(figure))
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
        rows = [[cell(v, section.digits.get(c, 4)) for c, v in zip(columns, row)]
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
