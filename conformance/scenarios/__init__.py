"""The scenario registry: every scenario is written once and runs against both servers.

A scenario is a function of one ``ScenarioContext`` (conformance.harness), with a
one-line docstring saying what it establishes, registered under a unique dotted
name with ``@scenario("area.what")`` (or ``register(...)`` for parametrised
families).  The name is also the scenario's root znode, so it must be a valid,
unique path component.  Modules are imported in ``MODULES`` order and scenarios
run in registration order.
"""

from __future__ import annotations

import importlib
import re

from ..harness import Scenario

REGISTRY: dict[str, Scenario] = {}

MODULES = (
    "session",
    "create",
    "crud",
    "acl",
    "children",
    "multi",
    "watches",
    "system",
    "limits",
    "malformed",
    "reaper",
    "fourlw",
    "quota",
    "admin",
)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


def register(name: str, func, doc: str | None = None, *, timeout_s: float = 30.0, tags=(), settings=None) -> None:
    doc = (doc or func.__doc__ or "").strip()
    if not doc:
        raise ValueError("scenario %s has no intent docstring" % name)
    if not _NAME.match(name) or name in (".", "..", "zookeeper"):
        raise ValueError("scenario name %r is not a valid znode name" % name)
    if name in REGISTRY:
        raise ValueError("scenario %s registered twice" % name)
    REGISTRY[name] = Scenario(name, func, doc.splitlines()[0], timeout_s=timeout_s, tags=tuple(tags),
                              settings=tuple(sorted((settings or {}).items())))


def scenario(name: str, *, timeout_s: float = 30.0, tags=(), settings=None):
    """``settings``: zoo.cfg keys both servers get for this scenario (it runs on its own server pair)."""
    def deco(func):
        register(name, func, timeout_s=timeout_s, tags=tags, settings=settings)
        return func

    return deco


def all_scenarios() -> list[Scenario]:
    for m in MODULES:
        importlib.import_module("%s.%s" % (__name__, m))
    return list(REGISTRY.values())
