"""``first_result`` calls a firstresult hook as pluggy does: newest registered and ``tryfirst``
first, each implementation with the arguments it names, the first answer that is not ``None``
wins, an exception reaches the caller as it is; a hook with a wrapper goes through pluggy."""

from __future__ import annotations

import pluggy
import pytest

from agent.hookcalls import first_result

spec = pluggy.HookspecMarker("probe")
impl = pluggy.HookimplMarker("probe")


class Spec:
    @spec(firstresult=True)
    def choose(self, ticket, account):
        """Pick something."""


def _manager(*plugins) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("probe")
    pm.add_hookspecs(Spec)
    for plugin in plugins:
        pm.register(plugin)
    return pm


class Last:
    @impl(trylast=True)
    def choose(self, ticket):
        return f"last:{ticket}"


class Older:
    @impl
    def choose(self, ticket, account):
        return None  # lets the next one decide


class Newer:
    @impl
    def choose(self, account):
        return f"newer:{account}"


class First:
    @impl(tryfirst=True)
    def choose(self, ticket, account):
        return None


class Fails:
    @impl
    def choose(self, ticket):
        raise LookupError(f"no such ticket {ticket}")


class Wraps:
    @impl(wrapper=True)
    def choose(self, ticket):
        answer = yield
        return f"wrapped:{answer}"


@pytest.mark.parametrize("plugins", [(Last(),), (Last(), Older()), (Last(), Older(), Newer()),
                                     (Newer(), Older(), Last(), First()), (First(),), ()])
def test_the_same_answer_as_pluggy(plugins):
    pm = _manager(*plugins)
    assert first_result(pm.hook.choose)(ticket="T1", account="A1") == pm.hook.choose(ticket="T1", account="A1")


def test_newest_answer_wins_and_later_ones_are_not_called():
    pm = _manager(Fails(), Newer())
    assert first_result(pm.hook.choose)(ticket="T1", account="A1") == "newer:A1"


def test_an_exception_reaches_the_caller_as_it_is():
    pm = _manager(Last(), Fails())
    with pytest.raises(LookupError, match="no such ticket T9"):
        first_result(pm.hook.choose)(ticket="T9", account="A1")


def test_a_wrapper_is_honoured():
    pm = _manager(Last(), Wraps())
    assert first_result(pm.hook.choose)(ticket="T1", account="A1") == "wrapped:last:T1"
