"""Market data ingestion: providers with fallback, validation, and the ingest use cases
that the Cloud Functions in ``functions/`` call."""
