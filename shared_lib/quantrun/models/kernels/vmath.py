"""SIMD-friendly exp, log and the standard normal CDF for the compiled kernels.

``math.exp``/``log``/``erfc`` are calls into the C library, which keep a loop that uses
them from vectorising (the PyPI builds of LLVM have no vector math library). These are
written in plain arithmetic and bit operations on the float's representation, so a
kernel loop built of them runs 4 options at a time on AVX2 (8 on AVX-512):

- ``vexp``: Cody-Waite reduction x = n ln2 + r (|r| <= ln2 / 2), the Taylor polynomial
  of degree 13 (truncation < 4e-18), times 2^n built in the exponent bits (as two
  factors, so that it rounds into the subnormals and overflows as exp does); within 1 ulp
  of ``math.exp`` on [-708, 709.78], a subnormal result to its last bit or two, 0 below
  -745.2 and inf above 709.79 (an extreme option's Greeks multiply these by huge factors:
  a clamped exp(-708) made a theta of -5.6e7 where the formulas give 0).
- ``vlog``: x = 2^e m with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(f), f = (m-1)/(m+1)
  to f^21 (|f| <= 0.172: truncation < 1e-17); within 2 ulp of ``math.log``.
- ``vndtr``: N(x) = 0.5 erfc(|x| / sqrt 2) for x < 0 and 1 minus that for x > 0, with
  erfc(z) = exp(-z^2) t g(t), t = 2 / (2 + z), g the Chebyshev interpolant of degree 24
  of erfcx(z(t)) / t on t in [0, 1] (``ERFCX_CHEBYSHEV``: SciPy's ``erfcx`` at the
  Chebyshev points, ``numpy.polynomial.chebyshev.chebinterpolate``; the tests derive them
  again). Within 3e-15 of ``scipy.special.ndtr`` absolute, 6e-15 relative for x in
  [-37, -1] (below about -37.5, N(x) underflows double precision).

Every function is ``inline="always"`` and branch-free (selects only), for numba to
vectorise the caller's loop; a caller compiles with ``error_model="numpy"`` (a division
that may raise stops vectorisation).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_FLAGS = {"contract"}  # fused multiply-adds; no other fast-math liberty

LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01  # ln 2 = LN2_HI + LN2_LO, LN2_HI exact in 32 bits
LN2_LO = 1.90821492927058770002e-10
SQRT2 = 1.4142135623730951
SQRT1_2 = 0.7071067811865476
_EXP_BITS = np.uint64(52)
_MAGIC = np.uint64(0x4330000000000000)  # 2^52 as a float's bits: an int below it, exactly
_TWO52 = 4503599627370496.0
_BIAS2 = np.uint64(2046)

ERFCX_CHEBYSHEV = (
    0.5770337386164697,
    0.3554369212704984,
    0.06509515882878648,
    0.0036711423958366144,
    -0.0011128447433526464,
    -0.00016075829915378423,
    3.278031574171233e-05,
    5.442441645512934e-06,
    -1.5154665552740682e-06,
    -1.4297608172054655e-07,
    8.234608845778822e-08,
    -1.296284603123054e-09,
    -4.154721553974811e-09,
    6.347059177712594e-10,
    1.4320842514637998e-10,
    -6.160377796716956e-11,
    2.061588175390252e-12,
    3.5717375785853466e-12,
    -8.581494074183224e-13,
    -6.125951378839871e-14,
    7.410827776948574e-14,
    -1.3274209819927547e-14,
    -3.393813806476243e-15,
    9.747222245883877e-16,
    -1.3325970581392076e-15,
)


def _bits_typing(typingctx, x):  # type: ignore[no-untyped-def]
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


def _float_typing(typingctx, x):  # type: ignore[no-untyped-def]
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.uint64), codegen


# a float64's bits as uint64, and back: bitcasts, no conversion (a numba intrinsic)
_bits: Any = intrinsic(_bits_typing)
_float: Any = intrinsic(_float_typing)


@njit(inline="always", error_model="numpy", fastmath=_FLAGS)
def vexp(x):  # type: ignore[no-untyped-def]
    # exp is 0 below -745.2 and inf above 709.79; the clamp keeps n in [-1075, 1024]
    x = min(max(x, -745.2), 709.8)
    n = math.floor(x * LOG2E + 0.5)
    r = (x - n * LN2_HI) - n * LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    # 2^n as two factors, each a normal double for n in [-1075, 1024]: the product
    # rounds into the subnormals and overflows to inf as exp does
    whole = np.int64(n)
    half = whole >> 1
    low = _float(np.uint64(half + 1023) << _EXP_BITS)
    return p * low * _float(np.uint64(whole - half + 1023) << _EXP_BITS)


@njit(inline="always", error_model="numpy", fastmath=_FLAGS)
def vlog(x):  # type: ignore[no-untyped-def]
    """log x for a finite x > 0 (normal, not subnormal)."""
    biased = _bits(x) >> _EXP_BITS
    e = _float(biased | _MAGIC) - (_TWO52 + 1023.0)
    m = x * _float((_BIAS2 - biased) << _EXP_BITS)  # x / 2^e, in [1, 2)
    big = m > SQRT2
    m = m * 0.5 if big else m
    e = e + 1.0 if big else e
    f = (m - 1.0) / (m + 1.0)
    f2 = f * f
    s = 1.0 / 21.0
    s = s * f2 + 1.0 / 19.0
    s = s * f2 + 1.0 / 17.0
    s = s * f2 + 1.0 / 15.0
    s = s * f2 + 1.0 / 13.0
    s = s * f2 + 1.0 / 11.0
    s = s * f2 + 1.0 / 9.0
    s = s * f2 + 1.0 / 7.0
    s = s * f2 + 1.0 / 5.0
    s = s * f2 + 1.0 / 3.0
    s = s * f2 + 1.0
    return e * LN2_HI + (2.0 * f * s + e * LN2_LO)


@njit(inline="always", error_model="numpy", fastmath=_FLAGS)
def _erfcx_t(t):  # type: ignore[no-untyped-def]
    """erfcx(z) / t at t = 2 / (2 + z): Clenshaw's recurrence on ERFCX_CHEBYSHEV, written
    out (a loop over the coefficients would not vectorise)."""
    y = 2.0 * t - 1.0
    y2 = 2.0 * y
    b2 = 0.0
    b1 = -1.3325970581392076e-15
    b1, b2 = 9.747222245883877e-16 + y2 * b1 - b2, b1
    b1, b2 = -3.393813806476243e-15 + y2 * b1 - b2, b1
    b1, b2 = -1.3274209819927547e-14 + y2 * b1 - b2, b1
    b1, b2 = 7.410827776948574e-14 + y2 * b1 - b2, b1
    b1, b2 = -6.125951378839871e-14 + y2 * b1 - b2, b1
    b1, b2 = -8.581494074183224e-13 + y2 * b1 - b2, b1
    b1, b2 = 3.5717375785853466e-12 + y2 * b1 - b2, b1
    b1, b2 = 2.061588175390252e-12 + y2 * b1 - b2, b1
    b1, b2 = -6.160377796716956e-11 + y2 * b1 - b2, b1
    b1, b2 = 1.4320842514637998e-10 + y2 * b1 - b2, b1
    b1, b2 = 6.347059177712594e-10 + y2 * b1 - b2, b1
    b1, b2 = -4.154721553974811e-09 + y2 * b1 - b2, b1
    b1, b2 = -1.296284603123054e-09 + y2 * b1 - b2, b1
    b1, b2 = 8.234608845778822e-08 + y2 * b1 - b2, b1
    b1, b2 = -1.4297608172054655e-07 + y2 * b1 - b2, b1
    b1, b2 = -1.5154665552740682e-06 + y2 * b1 - b2, b1
    b1, b2 = 5.442441645512934e-06 + y2 * b1 - b2, b1
    b1, b2 = 3.278031574171233e-05 + y2 * b1 - b2, b1
    b1, b2 = -0.00016075829915378423 + y2 * b1 - b2, b1
    b1, b2 = -0.0011128447433526464 + y2 * b1 - b2, b1
    b1, b2 = 0.0036711423958366144 + y2 * b1 - b2, b1
    b1, b2 = 0.06509515882878648 + y2 * b1 - b2, b1
    b1, b2 = 0.3554369212704984 + y2 * b1 - b2, b1
    return 0.5770337386164697 + y * b1 - b2


@njit(inline="always", error_model="numpy", fastmath=_FLAGS)
def vndtr(x):  # type: ignore[no-untyped-def]
    z = abs(x) * SQRT1_2
    return vndtr_gauss(x, vexp(-z * z))


@njit(inline="always", error_model="numpy", fastmath=_FLAGS)
def vndtr_gauss(x, gauss):  # type: ignore[no-untyped-def]
    """N(x) given ``gauss`` = exp(-x^2 / 2), for a kernel that has that already (as
    ``vexp(-z * z)``, z = |x| / sqrt 2, to agree with ``vndtr`` to the last bit)."""
    z = abs(x) * SQRT1_2
    t = 2.0 / (2.0 + z)
    lower = 0.5 * gauss * t * _erfcx_t(t)  # N(-|x|)
    return lower if x < 0.0 else 1.0 - lower
