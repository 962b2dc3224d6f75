"""The serving process's garbage-collection policy.

A server's heap is mostly its tree: znodes live long, and CPython's cyclic
collector revisits every one of them in each full collection.  A full
collection runs whenever the objects that survived younger collections reach a
quarter of those already old, so while a tree grows (a create load) the
collector keeps rescanning it: with 32 clients creating znodes that cost a fifth
of the server's time and 100 ms pauses (p99 115 ms instead of 50 ms).

The policy, for a process that does nothing but serve (``zkcompat serve``;
never installed in someone else's process, such as the embedded test server's):

- what survives a full collection is frozen (``gc.freeze``): moved to the
  permanent generation, which no collection scans again.  Each object is then
  scanned by at most one full collection, and a pause lasts as long as the
  objects made since the previous one take to scan;
- generation 0 is collected every 10,000 net allocations instead of 700, so the
  txns and replies in flight mostly die of their reference counts before a
  collection sees them;
- at start, what recovery loaded is frozen at once.

The cost is that a reference cycle whose objects were frozen is never
reclaimed.  Serving makes no cycles: a create load, and a storm of 15,000
sessions connecting and leaving, left none for the collector (only start-up's
argument parser and class builders do, and those are collected before the
first freeze).  Cycles that do form while objects are young are collected as
before.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000

_installed = False


def installed() -> bool:
    return _installed


def install() -> None:
    """Collect, freeze what is left, and freeze again after every full collection."""
    global _installed
    if _installed:
        return
    gc.collect()
    gc.freeze()
    _, t1, t2 = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, t1, t2)
    gc.callbacks.append(_freeze_after_full_collection)
    _installed = True


def _freeze_after_full_collection(phase: str, info: dict) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()
