"""What a service imports at start: the API and the push worker load the catalog (every
model's parameters), but not matplotlib (~0.4 s of CPU per process start, measured with
``python -X importtime``), which only the charts need.

scipy.signal (~1.4 s, the EMA behind the rsi and macd rules, which brings scipy.optimize
and scipy.stats with it) stays imported at start: imported on first use instead, inside a
paper portfolio's step, it made that step long enough for the server's own step to take
its days (the manual step then answered 0 booked, and two tests failed in CI)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["quantrun_api.app", "quantrun_worker.push", "quantrun.catalog"])
def test_a_service_starts_without_matplotlib(module: str) -> None:
    probe = f"import sys, {module}\nprint('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"


def test_the_first_chart_imports_it() -> None:
    """The lazy import resolves: a chart drawn and rendered in a fresh process."""
    probe = (
        "import numpy as np\n"
        "from quantrun.models import charts\n"
        "fig = charts.line_chart({'a': (np.arange(3).astype('datetime64[D]'), np.ones(3))},"
        " title='t', ylabel='y', percent=True)\n"
        "assert charts.png(fig).startswith(b'\\x89PNG')\n"
        "import sys; print('matplotlib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "True"
