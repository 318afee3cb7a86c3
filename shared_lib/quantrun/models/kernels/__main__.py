"""`python -m quantrun.models.kernels`: compile (or load) every kernel (image builds)."""

from quantrun.models.kernels import warm

warm()
