"""The job store on SQLAlchemy 2: SQLite in embedded mode, PostgreSQL (Cloud SQL) in gcp mode."""
