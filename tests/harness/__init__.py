"""Test harness: starts the real stand-ins (PostgreSQL, later the emulators) once per session."""
