"""The log seam: where a prepared txn becomes durable (and, later, replicated).

The server hands every txn, in zxid order, to ``TxnLog.append(hdr, txn, done)``
and applies it to the tree only when ``done()`` is called; callbacks must come
in append order.  ``InMemoryTxnLog`` is the throwaway store of ``--in-memory``
servers: nothing to wait for, so it confirms at once.  The durable log
(Apache ZooKeeper's file format) and the Zab broadcast plug in here without any
change to the request pipeline.
"""

from __future__ import annotations

from typing import Callable, Protocol

from protocol.records import TxnHeader


class TxnLog(Protocol):
    def append(self, hdr: TxnHeader, txn, done: Callable[[], None], entry: bytes | None = None) -> None:
        """``entry``, when given, is ``marshal_entry(hdr, txn)`` already made (zkcompat.core.fastwrite)."""

    def close(self) -> None: ...


class InMemoryTxnLog:
    """Keeps nothing: a txn is 'durable' as soon as it is appended."""

    def __init__(self) -> None:
        self.appended = 0

    def append(self, hdr: TxnHeader, txn, done: Callable[[], None], entry: bytes | None = None) -> None:
        self.appended += 1
        done()

    def close(self) -> None:
        pass
