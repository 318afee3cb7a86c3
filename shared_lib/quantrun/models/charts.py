"""Headless PNG charts for job artifacts (matplotlib's Agg canvas, no pyplot state).

Rendering returns bytes; nothing here touches files, so it is safe in any thread.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def line_chart(
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    title: str,
    ylabel: str,
    percent: bool = False,
    emphasise: Sequence[str] = (),
) -> bytes:
    """One line per named series of (dates, values); ``emphasise`` draws some dashed/black."""
    fig = Figure(figsize=(9, 4.8))
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
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small", ncol=2 if len(series) > 6 else 1)
    fig.autofmt_xdate()
    return _png(fig)
