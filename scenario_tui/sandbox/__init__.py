"""Embedded simulator of the Scenario API (in-process httpx transport and a local server)."""
