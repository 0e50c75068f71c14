"""Implementations of the two ports: the embedded store, the Continuum client (and later RangerMSP)."""
