"""Headless charts for job artifacts (matplotlib's Agg canvas, no pyplot state).

Each chart function returns a ``Figure``; ``png`` renders it for the artifact and
``svg`` as a self-contained SVG element for a report (text drawn as paths: no font
needed; no metadata, no external reference). Nothing here touches files, so it is safe
in any thread.

matplotlib is imported when the first chart is drawn, not with this module: the catalog
imports it, and matplotlib's import (~0.4 s of CPU) was paid by every process that only
validates or lists jobs (the API, the CLI) at each start.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PNG_DPI = 110
PAD_INCHES = 0.1  # matplotlib's savefig.pad_inches around a tight box


def _tight_box(fig: Figure, dpi: float) -> Any:
    """The figure's tight bounding box, padded, laid out once at ``dpi``: what
    ``bbox_inches="tight"`` computes, which savefig would otherwise draw the figure again
    for, once per format."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    fig.draw_without_rendering()
    renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
    return fig.get_tightbbox(renderer).padded(PAD_INCHES)


def png(fig: Figure, box: Any = None) -> bytes:
    box = box if box is not None else _tight_box(fig, PNG_DPI)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PNG_DPI, bbox_inches=box)
    return buf.getvalue()


_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


def svg(fig: Figure, box: Any = None) -> str:
    """The figure as one ``<svg>`` element to inline in HTML: no XML prologue or
    doctype, no metadata block, glyphs as paths, ids stable from one run to the next."""
    import matplotlib

    box = box if box is not None else _tight_box(fig, PNG_DPI)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "quantrun"}):
        fig.savefig(buf, format="svg", bbox_inches=box, metadata={"Date": None})
    return _METADATA.sub("", _PROLOGUE.sub("", buf.getvalue(), count=1))


def png_and_svg(fig: Figure) -> tuple[bytes, str]:
    """Both renderings of one figure, laid out once (a third faster than each alone)."""
    box = _tight_box(fig, PNG_DPI)
    return png(fig, box), svg(fig, box)


SERIES = "quantrun-series"
MAX_POINTS = 1500


def data(fig: Figure) -> dict[str, Any] | None:
    """A line chart's lines as JSON (dates as ISO strings, at most ``MAX_POINTS`` per
    line, evenly spaced, the last one kept), with its title and axis label; None for a
    figure of another kind."""
    if fig.get_label() != SERIES:
        return None
    ax = fig.axes[0]
    lines = []
    for line in ax.get_lines():
        x = np.asarray(line.get_xdata(orig=True))
        y = np.asarray(line.get_ydata(orig=True), dtype=np.float64)
        keep = np.unique(np.linspace(0, x.size - 1, min(x.size, MAX_POINTS)).astype(int))
        lines.append(
            {
                "name": str(line.get_label()),
                "x": [str(d) for d in x[keep].astype("datetime64[D]")],
                "y": [float(v) if np.isfinite(v) else None for v in y[keep]],
            }
        )
    return {"title": ax.get_title(), "ylabel": ax.get_ylabel(), "series": lines}


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _percent_axis(axis: Any) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(1.0))


def line_chart(
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    title: str,
    ylabel: str,
    percent: bool = False,
    emphasise: Sequence[str] = (),
) -> Figure:
    """One line per named series of (dates, values); ``emphasise`` draws some dashed/black."""
    fig = _figure(9, 4.8)
    fig.set_label(SERIES)  # its lines are data a console can redraw (``data``)
    ax = fig.add_subplot()
    for name, (x, y) in series.items():
        style: dict[str, Any] = {"linewidth": 1.1}
        if name in emphasise:
            style = {"color": "black", "linestyle": "--", "linewidth": 1.4}
        ax.plot(np.asarray(x, dtype="datetime64[D]"), y, label=name, **style)
    ax.set_title(title)
    ax.set_xlabel("Date")
    ax.set_ylabel(ylabel)
    if percent:
        _percent_axis(ax.yaxis)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small", ncol=2 if len(series) > 6 else 1)
    fig.autofmt_xdate()
    return fig


def pnl_distribution(
    *,
    title: str,
    xlabel: str,
    markers: Mapping[str, float],
    samples: np.ndarray | None = None,
    normal: tuple[float, float] | None = None,
    histogram: tuple[np.ndarray, np.ndarray] | None = None,
) -> Figure:
    """A histogram of P&L samples (or one already counted: bin edges, counts), or the
    density of a normal P&L (mean, sd), with vertical lines at ``markers`` (e.g. -VaR,
    -CVaR)."""
    fig = _figure(9, 4.8)
    ax = fig.add_subplot()
    # the bins as one filled outline, not a rectangle each: the same pixels, drawn in
    # about 60% of the time (each format draws one patch; legend "best" weighs fewer)
    if histogram is not None:
        edges, counts = histogram
        ax.hist(
            edges[:-1],
            bins=edges.tolist(),
            weights=counts,
            density=True,
            histtype="stepfilled",
            color="#4c72b0",
            alpha=0.8,
            label="scenarios",
        )
    if samples is not None and samples.size:
        ax.hist(
            samples,
            bins=min(200, max(20, samples.size // 50)),
            density=True,
            histtype="stepfilled",
            color="#4c72b0",
            alpha=0.8,
            label="scenarios",
        )
    if normal is not None:
        mean, sd = normal
        x = np.linspace(mean - 4.5 * sd, mean + 4.5 * sd, 800)
        ax.plot(
            x,
            np.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * np.sqrt(2 * np.pi)),
            color="#4c72b0",
            label="normal P&L",
        )
    for (name, value), color in zip(markers.items(), ("#c44e52", "#8c1c13"), strict=False):
        ax.axvline(value, color=color, linestyle="--", linewidth=1.4, label=f"{name} {value:,.0f}")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Density")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return fig


def frontier_chart(
    *,
    frontier: tuple[np.ndarray, np.ndarray] | None,
    assets: Mapping[str, tuple[float, float]],
    chosen: tuple[float, float],
    chosen_label: str,
) -> Figure:
    """Efficient frontier (volatility, return), the assets, and the chosen portfolio."""
    fig = _figure(8, 5.5)
    ax = fig.add_subplot()
    if frontier is not None:
        ax.plot(
            frontier[0], frontier[1], color="#4c72b0", linewidth=1.6, label="efficient frontier"
        )
    for name, (vol, ret) in assets.items():
        ax.scatter([vol], [ret], s=18, color="#55a868")
        ax.annotate(name, (vol, ret), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.scatter(
        [chosen[0]], [chosen[1]], s=90, marker="*", color="#c44e52", label=chosen_label, zorder=5
    )
    ax.set_title("Mean-variance portfolio (annualised)")
    ax.set_xlabel("Volatility (per year)")
    ax.set_ylabel("Expected return (per year)")
    _percent_axis(ax.xaxis)
    _percent_axis(ax.yaxis)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return fig
