"""The domain: what QuantRun's words mean, in plain Python.

Jobs and the one table of their state transitions, users, prices, symbols, artifacts,
results and the errors that cross layers. Nothing here imports the rest of QuantRun,
does I/O or reads the environment; every other layer may import it.
"""
