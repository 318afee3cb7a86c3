"""QuantRun workers: the embedded queue loop (and, with the GCP adapters, Pub/Sub push)."""
