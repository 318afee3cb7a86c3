"""Google Cloud adapters: Pub/Sub, BigQuery, Cloud Storage, Cloud SQL, Secret Manager.

Clients are built in ``clients.py`` (called from the composition root only), honour the
standard emulator variables, and every call carries a bounded timeout and retry.
"""
