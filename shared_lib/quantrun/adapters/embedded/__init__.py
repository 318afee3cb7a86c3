"""Embedded mode's adapters: everything on one machine, no cloud account, no emulator."""
