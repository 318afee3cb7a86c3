"""The QuantRun HTTP API (FastAPI). Routes translate HTTP to use cases and back."""
