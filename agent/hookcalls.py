"""Firstresult hooks called in a hot loop without pluggy's per-call work.

On every call pluggy copies the implementation list, merges the spec's defaults and checks the
arguments; the inbound sync calls five hooks for every ticket it makes. :func:`first_result`
looks the implementations up once (a feed page's worth of calls) and calls them as pluggy's own
loop does: newest registered (and ``tryfirst``) first, each with the arguments it names,
stopping at the first answer that is not ``None``, an exception going to the caller as it is. A
hook with a wrapper, defaults in its spec or an implementation with keyword-only arguments is
called through pluggy, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def first_result(caller: Any) -> Callable[..., Any]:
    """A function that calls the firstresult hook ``caller`` (``pm.hook.<name>``) with keyword
    arguments, bound to the implementations registered now."""
    impls = caller.get_hookimpls()
    spec = caller.spec
    if spec is None or spec.kwargdefaults or any(i.hookwrapper or i.wrapper or i.kwargnames for i in impls):
        return caller
    plan = [(impl.function, impl.argnames) for impl in reversed(impls)]

    def call(**kwargs: Any) -> Any:
        for function, names in plan:
            result = function(*[kwargs[name] for name in names])
            if result is not None:
                return result
        return None

    return call
