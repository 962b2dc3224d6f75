"""The client port: a Twisted protocol per TCP connection, feeding the core.

Each ``dataReceived`` hands the bytes to the core's Connection and then writes
everything the core queued during that turn in one ``transport.write`` per
connection (replies batched per reactor turn).  TCP_NODELAY is on: replies are
small and latency matters more than packet count.
"""

from __future__ import annotations

import logging
import time

from twisted.internet import protocol, tcp
from twisted.internet.interfaces import IHandshakeListener, IReactorTime, ISSLTransport
from zope.interface import implementer

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
    """The core's view of a connection.

    The core already hands over one coalesced write per connection per reactor turn, so a
    TCP connection with nothing queued sends it at once: Twisted's own path would register the
    socket for writability, wait a poll and unregister it again (two epoll_ctl calls and a loop
    turn per reply).  Whatever the kernel does not take, or any socket error, goes through
    Twisted's buffered write, which then owns ordering, back-pressure and connection loss.
    """

    __slots__ = ("transport", "_direct")

    def __init__(self, transport):
        self.transport = transport
        self._direct = isinstance(transport, tcp.Connection) and getattr(transport, "socket", None) is not None

    def write(self, data: bytes) -> None:
        t = self.transport
        if (self._direct and t.connected and not t.disconnecting and not t._tempDataLen
                and t.offset == len(t.dataBuffer)):
            try:
                sent = t.socket.send(data)
            except OSError:
                sent = 0  # EAGAIN, or an error that Twisted's write path will meet and report
            if sent == len(data):
                return
            data = data[sent:]
        t.write(data)

    def close(self) -> None:
        self.transport.loseConnection()


@implementer(IHandshakeListener)
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
        elif ISSLTransport.providedBy(self.transport):
            self.conn.secure = True

    def dataReceived(self, data):
        conn = self.conn
        if conn is None:
            return
        conn.data_received(data)
        self.factory.server.flush()

    def handshakeCompleted(self):
        """TLS (the secure client port): a verified client certificate becomes an x509 id."""
        conn = self.conn
        if conn is None:
            return
        from zkcompat.net.tls import client_id

        ident = client_id(self.transport)
        if ident is not None:
            conn.add_x509_identity(ident)

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
