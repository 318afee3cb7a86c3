"""QuantRun: quantitative finance models run as jobs.

Layers (an arrow points to what a layer may import; ``tests/unit/test_layers.py`` holds
every import to them):

- ``quantrun.domain``: jobs and their transition table, users, prices, symbols,
  artifacts, results, errors. Imports nothing else of QuantRun.
- ``quantrun.models`` -> domain: pure numpy/scipy models. No I/O, no environment,
  randomness passed in.
- ``quantrun.catalog`` -> domain, models: each model's params schema, cost and run.
- ``quantrun.ports`` -> domain: typed ``Protocol``s for the job store, queue, price store,
  artifact store, secrets, providers, push verification, uploads (their in-memory fakes,
  for unit tests, are ``tests/fakes.py``, held to the adapters' contract suites).
- ``quantrun.app`` -> domain, models, catalog, ports: the use cases (submit, run, reclaim,
  cancel, artifacts, prices, dead letter, auth, ingest), the only place models meet I/O.
- ``quantrun.adapters`` -> domain, ports: one adapter per port and mode (``sql``,
  ``embedded``, ``gcp``, ``providers``).
- ``quantrun.settings``: the only reader of the environment.
- ``quantrun.bootstrap``: the composition root, settings in, adapters out.
"""

__version__ = "0.1.0"
