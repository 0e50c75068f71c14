"""Reference documents generated from the code, so that they cannot drift."""
