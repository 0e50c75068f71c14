"""PSA actions carried back to Continuum (R13-R16, D2)."""
