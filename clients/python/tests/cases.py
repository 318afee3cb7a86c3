"""Inputs the client's tests share."""

# a job long enough to cancel or time out: a Monte Carlo barrier option on many paths
LONG_JOB = {
    "type": "call",
    "spot": 100,
    "strike": 100,
    "maturity": 1.0,
    "rate": 0.02,
    "volatility": 0.25,
    "style": "up_and_out",
    "barrier": 150,
    "steps": 252,
    "paths": 2_000_000,
    "seed": 7,
}
