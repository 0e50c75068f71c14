"""Built-in link suggestions (R18): normalised name similarity, serial numbers for devices."""

from __future__ import annotations

DEFAULT_ENABLED = True
