"""Price files: parsing and validation shared by the CLI loader and the ingest functions."""
