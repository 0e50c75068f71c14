"""The change feed into PSA tickets (R1-R12, D1)."""
