"""Built-in backends of the two ports, offered by name like any plugin's.

``[RangerMSP] Backend=`` picks the PSA backend (``embedded``: the agent's own SQLite file;
``rangermsp``: RangerMSP's database through its DB API; ``rangermsp-simulator``: the same over
the project's simulator of that API; ``rangermsp-simulator-dlls``: the simulator built as real
DLLs, loaded as RangerMSP's are (Windows, developers); ``memory``: nothing kept, for tests and plugin
development), ``[Continuum] Backend=`` the RMM backend (``continuum``: the Continuum PSA API client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.hookspecs import hookimpl

if TYPE_CHECKING:
    from agent.ports.psa import PsaFactory
    from agent.ports.rmm import RmmFactory

DEFAULT_ENABLED = True


def _embedded(settings: Any, state: Any) -> Any:
    from agent.backends.embedded import backend

    return backend(settings, state)


def _memory(settings: Any, state: Any) -> Any:
    from agent.backends.memory import backend

    return backend(settings, state)


def _rangermsp(settings: Any, state: Any) -> Any:
    from agent.backends.rangermsp import backend

    return backend(settings, state)


def _rangermsp_simulator(settings: Any, state: Any) -> Any:
    from agent.backends.rangermsp import simulator_backend

    return simulator_backend(settings, state)


def _rangermsp_simulator_dlls(settings: Any, state: Any) -> Any:
    from agent.backends.rangermsp import simulator_dlls_backend

    return simulator_dlls_backend(settings, state)


def _continuum(settings: Any) -> Any:
    from agent.backends.continuum import backend

    return backend(settings)


@hookimpl
def zenith_psa_backends() -> dict[str, PsaFactory]:
    return {"embedded": _embedded, "memory": _memory, "rangermsp": _rangermsp,
            "rangermsp-simulator": _rangermsp_simulator, "rangermsp-simulator-dlls": _rangermsp_simulator_dlls}


@hookimpl
def zenith_rmm_backends() -> dict[str, RmmFactory]:
    """Also ``nsight``: the N-able N-sight Data Extraction API client; ``ninjaone``: the NinjaOne API v2
    client; ``memory``: an in-memory alert RMM for tests and plugin development."""
    return {"continuum": _continuum, "memory": _memory_rmm, "nsight": _nsight, "ninjaone": _ninjaone}


def _memory_rmm(settings: Any) -> Any:
    from agent.backends.memory_rmm import backend

    return backend(settings)


def _nsight(settings: Any) -> Any:
    from agent.backends.nsight import backend

    return backend(settings)


def _ninjaone(settings: Any) -> Any:
    from agent.backends.ninjaone import backend

    return backend(settings)
