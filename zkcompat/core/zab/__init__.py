"""Zab, ZooKeeper's atomic broadcast: election, discovery, synchronisation, broadcast.

Deterministic state machines in the core: messages, time and storage are
injected, so a whole ensemble runs in one process on a fake network and a fake
clock (tests/unit/test_zab_*), and on Twisted in production (zkcompat.net).
"""
