"""The use cases: what a route, a push handler, a CLI command or a function asks for.

Each is a plain function (or a small class where it keeps state, like the lease keeper)
taking ports and values as keyword arguments: submit, run, reclaim, cancel, artifact
access, the dead letter, price windows and coverage, API keys, ingest. The only place
where the models meet I/O, and only through the ports.
"""
