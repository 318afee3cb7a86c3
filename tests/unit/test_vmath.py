"""The kernels' vectorisable exp, log and normal CDF (``models/kernels/vmath.py``) against
the C library and SciPy: within the ulps their docstring states over the ranges the
kernels use, the Chebyshev coefficients derived again from ``scipy.special.erfcx``, and
the Black-Scholes loop that uses them still vectorised (packed AVX instructions)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from numba import njit
from numpy.polynomial import chebyshev
from scipy.special import erfcx, ndtr

from quantrun.models.kernels.vmath import ERFCX_CHEBYSHEV, vexp, vlog, vndtr

EPS = np.finfo(float).eps


@njit(error_model="numpy")
def _each_exp(x, out):  # type: ignore[no-untyped-def]
    for i in range(x.size):
        out[i] = vexp(x[i])


@njit(error_model="numpy")
def _each_log(x, out):  # type: ignore[no-untyped-def]
    for i in range(x.size):
        out[i] = vlog(x[i])


@njit(error_model="numpy")
def _each_ndtr(x, out):  # type: ignore[no-untyped-def]
    for i in range(x.size):
        out[i] = vndtr(x[i])


def _apply(kernel, x: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = np.empty_like(x)
    kernel(x, out)
    return out


RNG = np.random.default_rng(11)


def test_exp_is_within_an_ulp_of_the_c_library() -> None:
    x = np.concatenate([RNG.uniform(-708, 709, 200_000), RNG.uniform(-1, 1, 100_000), [0.0]])
    got = _apply(_each_exp, x)
    assert np.max(np.abs(got / np.exp(x) - 1)) <= EPS
    assert got[-1] == 1.0


def test_exp_rounds_into_the_subnormals_and_overflows_as_the_c_library_does() -> None:
    # it was clamped to exp(-708) and exp(709): an extreme option's Greek multiplied
    # exp(-708) by 1e315 where the formulas give 0
    x = np.concatenate([RNG.uniform(-745.1, -708, 100_000), [-745.2, -746, -1e6, -np.inf]])
    got = _apply(_each_exp, x)
    ref = np.exp(x)
    assert np.max(np.abs(got - ref)) <= 2 * 5e-324  # the subnormals' last bit or two
    assert (got[-4:] == 0.0).all()
    high = np.array([709.0, 709.5, 709.78, 709.79, 710.0, 1e6, np.inf])
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(_apply(_each_exp, high), np.exp(high), rtol=EPS)


def test_log_is_within_two_ulps_of_the_c_library() -> None:
    x = np.concatenate([np.exp(RNG.uniform(-700, 700, 200_000)), RNG.uniform(0.5, 2, 100_000)])
    got = _apply(_each_log, x)
    ref = np.log(x)
    far = np.abs(ref) > 0.5
    assert np.max(np.abs(got[far] / ref[far] - 1)) <= 2 * EPS
    assert np.max(np.abs(got - ref)[~far]) <= EPS  # near log 1 = 0: absolute
    assert _apply(_each_log, np.array([1.0, 2.0]))[0] == 0.0


def test_the_normal_cdf_is_within_3e_15_of_scipy_and_6e_15_relative_in_the_tail() -> None:
    x = np.concatenate([RNG.uniform(-38, 38, 200_000), RNG.normal(0, 2, 200_000), [0.0]])
    got = _apply(_each_ndtr, x)
    assert np.max(np.abs(got - ndtr(x))) <= 3e-15
    assert got[-1] == pytest.approx(0.5, abs=1e-15)
    tail = (x <= -1) & (x >= -37)  # below -37.5, N(x) underflows double precision
    assert np.max(np.abs(got[tail] / ndtr(x[tail]) - 1)) <= 6e-15
    # symmetric: N(x) + N(-x) = 1
    assert np.max(np.abs(got + _apply(_each_ndtr, -x) - 1)) <= 3e-15


def test_the_chebyshev_coefficients_are_erfcx_interpolated_again() -> None:
    def g(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        z = 2.0 * (1.0 / t - 1.0)
        return np.where(t > 1e-12, erfcx(z) / np.maximum(t, 1e-300), 0.5 / np.sqrt(np.pi))

    again = chebyshev.chebinterpolate(lambda y: g((y + 1) / 2), len(ERFCX_CHEBYSHEV) - 1)
    np.testing.assert_allclose(ERFCX_CHEBYSHEV, again, rtol=0, atol=1e-17)


def test_the_black_scholes_kernel_loops_run_on_packed_vectors() -> None:
    from quantrun.models import kernels

    n = 1000
    ones = np.ones(n)
    out = np.full((6, n), np.nan)
    args = (ones > 0, ones * 100, ones * 95, ones, ones * 0.03, ones * 0.2, ones * 0.0)
    kernels.black_scholes(*args, False, out)
    assert np.isfinite(out[0]).all() and np.isnan(out[1:]).all()  # Greeks rows untouched
    kernels.black_scholes(*args, True, out)
    assert np.isfinite(out).all()
    # the cached kernel cannot be inspected: the same source compiled afresh can
    fresh = njit(error_model="numpy", fastmath={"contract"})(kernels.black_scholes.py_func)
    fresh(*args, True, np.empty((6, n)))
    asm = "".join(fresh.inspect_asm().values())
    # 256-bit registers on AVX2, 512-bit where the host has AVX-512 (LLVM picks the widest
    # for the host's CPU: ~30 ymm and ~280 zmm packed instructions on a Zen 4)
    packed = re.findall(r"\bv\w+pd\s+%[yz]mm", asm)
    assert len(packed) > 100, len(packed)
