"""What a service imports at start: the API and the push worker load the catalog (every
model's parameters), but not the libraries only some models use while running. Each of
these cost every process start CPU (measured with ``python -X importtime``): scipy.signal
~1.4 s (the EMA behind the rsi and macd rules; it brings scipy.optimize and scipy.stats),
scipy.optimize ~0.5 s (portfolio optimisation), matplotlib ~0.4 s (charts). Cloud Run's
cold starts and every test that starts a service pay it; the first job that needs one
pays its import once."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("scipy.signal", "scipy.optimize", "scipy.stats", "matplotlib")


@pytest.mark.parametrize("module", ["quantrun_api.app", "quantrun_worker.push", "quantrun.catalog"])
def test_a_service_starts_without_the_libraries_only_some_models_run(module: str) -> None:
    probe = f"import sys, {module}\nprint([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_the_models_still_load_them_when_they_run() -> None:
    """The lazy imports resolve in a fresh process: an EMA (against its recursion written
    out), a chart rendered, a Brent root-find on a target-volatility portfolio."""
    probe = (
        "import numpy as np\n"
        "from quantrun.models import charts, constraints, portfolio, signals\n"
        "x = np.arange(1.0, 6.0).reshape(5, 1)\n"
        "y = signals.ema(x, 0.5)\n"
        "want = [1.0]\n"
        "for v in x[1:, 0]: want.append(0.5 * v + 0.5 * want[-1])\n"
        "assert np.allclose(y[:, 0], want, rtol=1e-14)\n"
        "fig = charts.line_chart({'a': (np.arange(3).astype('datetime64[D]'), np.ones(3))},"
        " title='t', ylabel='y', percent=True)\n"
        "assert charts.png(fig).startswith(b'\\x89PNG')\n"
        "cov = np.array([[0.04, 0.006], [0.006, 0.09]]); mu = np.array([0.06, 0.1])\n"
        "c = constraints.build_constraints(['a', 'b'], (0.0, 1.0), None, None)\n"
        "w = portfolio.target_volatility_portfolio(mu, cov, c, 0.22)\n"
        "assert abs(float(np.sqrt(w @ cov @ w)) - 0.22) < 1e-9\n"
        f"import sys; print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == str(list(HEAVY))
