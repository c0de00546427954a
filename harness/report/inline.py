"""Results shown inline in Jupyter (`Results._repr_html_`): the comparison table and the
split-score figure, in one self-contained piece of HTML (the figure as an embedded PNG)."""
from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import matplotlib.pyplot as plt

from ..core import Results
from . import figures
from .render import TEMPLATES, cell
from .sections import comparison, fold_scores


def figure_png(figure: plt.Figure) -> str:
    """A matplotlib figure as base64 PNG (closed afterwards)."""
    buffer = io.BytesIO()
    try:
        figures.plain_log_ticks(figure)
        figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    finally:
        plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def page_link(page: Path | None) -> str | None:
    """The report page as a link a notebook can follow: relative to the working folder (which
    Jupyter serves) when it lies inside it, else a file URI."""
    if page is None or not Path(page).exists():
        return None
    page = Path(page).resolve()
    try:
        return Path(os.path.relpath(page, Path.cwd())).as_posix() if page.is_relative_to(Path.cwd()) else page.as_uri()
    except ValueError:  # another drive
        return page.as_uri()


def results_html(results: Results) -> str:
    table = comparison(results)
    frame = table.table
    columns = [str(c) for c in frame.columns]
    rows = [[cell(v, table.digits.get(c, 4)) for c, v in zip(columns, row)]
            for row in frame.itertuples(index=False, name=None)]
    scores = fold_scores(results)
    return TEMPLATES.get_template("inline.html").render(
        results=results, columns=columns, rows=rows, best=table.highlight, note=table.note,
        figure=figure_png(scores.figure) if scores.figure is not None else None,
        link=page_link(results.page), page=str(results.page) if results.page else None,
    )
