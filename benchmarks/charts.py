"""A job's chart artifact: its PNG and the SVG its report inlines, from one figure."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from benchmarks.harness import Row, paired
from quantrun.models import charts


def _figure() -> Figure:
    losses = np.random.default_rng(7).normal(0, 1e4, 500)  # portfolio_var's 2-year history
    return charts.pnl_distribution(
        title="10-day P&L (historical); 99.0% VaR 23,456, CVaR 31,234",
        xlabel="Profit and loss (currency)",
        markers={"-VaR": -23_456.0, "-CVaR": -31_234.0},
        samples=losses,
    )


def _each_laid_out_by_savefig(fig: Figure) -> None:
    """The reference: each format saved with ``bbox_inches="tight"``, which lays the
    figure out again for each (what charts.py did before)."""
    FigureCanvasAgg(fig)
    fig.savefig(io.BytesIO(), format="png", dpi=charts.PNG_DPI, bbox_inches="tight")
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "quantrun"}):
        fig.savefig(io.StringIO(), format="svg", bbox_inches="tight", metadata={"Date": None})


def bench_chart_artifact() -> Row:
    return paired(
        "chart artifact: PNG + report SVG of a P&L histogram",
        "charts/s",
        lambda: charts.png_and_svg(_figure()),
        1,
        "each format laid out by savefig",
        lambda: _each_laid_out_by_savefig(_figure()),
        1,
    )
