"""The job domain and its use cases: the only place models meet I/O (through ports)."""
