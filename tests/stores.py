"""The embedded backend opened directly (without an App), for tests of the stores themselves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.backends.embedded import EmbeddedPsa, StateStore


def open_embedded(path: Path | str) -> tuple[StateStore, EmbeddedPsa]:
    """The state store at ``path`` and the embedded PSA in the same file; close the state store."""
    state = StateStore(path)
    return state, EmbeddedPsa(state.db)


@contextmanager
def embedded(path: Path | str) -> Iterator[tuple[StateStore, EmbeddedPsa]]:
    state, psa = open_embedded(path)
    try:
        yield state, psa
    finally:
        state.close()
