"""The ``quantrun`` command line: server commands (serve, worker, keys, load-prices) and
client commands (submit, status) over HTTP. An entrypoint: it parses, calls one use case
or starts one server, and maps the outcome to an exit status."""
