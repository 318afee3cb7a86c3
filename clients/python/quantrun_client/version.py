"""The client's version (the API version it was written for: CONTRACT v1.2)."""

__version__ = "1.2.0"
USER_AGENT = f"quantrun-client/{__version__}"
