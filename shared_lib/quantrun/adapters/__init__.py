"""Adapters: one per port and mode. ``sql`` serves both modes (SQLite / PostgreSQL)."""
