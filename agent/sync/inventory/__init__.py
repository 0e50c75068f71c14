"""Sites and devices from Continuum into the Dbsys .cmt files, and look-ups in them."""
