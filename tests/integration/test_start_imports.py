"""What a service imports at start: the API and the push worker load the catalog (every
model's parameters), but not the libraries only some models use while running. Each of
these cost every process start CPU (measured with ``python -X importtime``): scipy.signal
~1.4 s (EMA strategies), scipy.optimize ~0.5 s (portfolio optimisation), matplotlib
~0.4 s (charts). Cloud Run's cold starts and every test that starts a service pay it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("scipy.signal", "scipy.optimize", "scipy.stats", "matplotlib")


@pytest.mark.parametrize("module", ["quantrun_api.app", "quantrun_worker.push", "quantrun.catalog"])
def test_a_service_starts_without_the_libraries_only_some_models_run(module: str) -> None:
    probe = (
        f"import sys, json, {module}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m in {HEAVY!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout) == []


def test_the_models_still_load_them_when_they_run() -> None:
    """The lazy imports resolve: an EMA, a chart and a Brent root-find in a fresh process."""
    probe = (
        "import numpy as np\n"
        "from quantrun.models import charts, signals\n"
        "y = signals.ema(np.arange(5.0)[:, None], 0.5)\n"
        "fig = charts.line_chart({'a': (np.arange(3).astype('datetime64[D]'), np.ones(3))},"
        " title='t', ylabel='y', percent=True)\n"
        "assert charts.png(fig).startswith(b'\\x89PNG') and y.shape == (5, 1)\n"
        "import sys; print('matplotlib' in sys.modules and 'scipy.signal' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "True"
