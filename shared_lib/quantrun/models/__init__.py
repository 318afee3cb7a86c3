"""Pure quant models: numpy/scipy only, no I/O, no environment, randomness passed in.

Conventions shared by every model (each module's docstring adds its own):

- Returns are simple daily returns of the adjusted close: r_t = P_t / P_{t-1} - 1.
- Annualisation uses 252 periods a year: means x 252, volatilities x sqrt(252).
- Rates and yields are continuously compounded, per year; maturities are in years.
- Missing prices follow one policy, ``quantrun.models.history`` (read its docstring).
"""
