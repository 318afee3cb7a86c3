"""QuantRun: quantitative finance models run as jobs.

Layers (outer depends on inner, never the reverse):

- ``quantrun.models``: pure numpy/scipy models. No I/O, no environment, randomness passed in.
- ``quantrun.jobs``: the job domain (states, params schemas, model registry) and the use
  cases (submit, run, cancel, reclaim): the only place models meet I/O, through ports.
- ``quantrun.ports``: typed ``Protocol``s for the job store, queue, price store, artifact
  store and secrets; ``quantrun.fakes`` holds in-memory fakes for unit tests.
- ``quantrun.adapters``: one adapter per port and mode (``sql`` for the job store,
  ``embedded`` for queue/prices/artifacts without a cloud).
- ``quantrun.bootstrap``: the composition root that turns settings into adapters.
"""

__version__ = "0.1.0"
