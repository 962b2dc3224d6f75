"""The client port: a Twisted protocol per TCP connection, feeding the core.

Each ``dataReceived`` hands the bytes to the core's Connection and then writes
everything the core queued during that turn in one ``transport.write`` per
connection (replies batched per reactor turn).  TCP_NODELAY is on: replies are
small and latency matters more than packet count.
"""

from __future__ import annotations

import logging
import time

from twisted.internet import protocol
from twisted.internet.interfaces import IReactorTime

from zkcompat.core.server import ZooKeeperServer

log = logging.getLogger("zkcompat.net")


class ReactorClock:
    """The core's Clock on a real reactor: monotonic ms, wall ms, reactor timers."""

    def __init__(self, reactor: IReactorTime):
        self.reactor = reactor

    def now_ms(self) -> int:
        return time.monotonic_ns() // 1_000_000

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def call_later(self, delay_ms, fn):
        return self.reactor.callLater(delay_ms / 1000.0, fn)


class _CoreTransport:
    __slots__ = ("transport",)

    def __init__(self, transport):
        self.transport = transport

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def close(self) -> None:
        self.transport.loseConnection()


class ClientProtocol(protocol.Protocol):
    conn = None

    def connectionMade(self):
        peer = self.transport.getPeer()
        try:
            self.transport.setTcpNoDelay(True)
        except (AttributeError, OSError):
            pass
        host = getattr(peer, "host", "0.0.0.0")
        port = getattr(peer, "port", 0)
        server = self.factory.server
        self.conn = server.connection_made(_CoreTransport(self.transport), host, port)
        if self.conn is None:
            self.transport.abortConnection()

    def dataReceived(self, data):
        conn = self.conn
        if conn is None:
            return
        conn.data_received(data)
        self.factory.server.flush()

    def connectionLost(self, reason=protocol.connectionDone):
        conn = self.conn
        if conn is not None:
            self.conn = None
            conn.connection_lost()
            self.factory.server.flush()


class ClientFactory(protocol.Factory):
    protocol = ClientProtocol

    def __init__(self, server: ZooKeeperServer):
        self.server = server
