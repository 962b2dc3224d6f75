"""zkcompat as a test double: a real ZooKeeper-protocol server in your test process.

``EmbeddedServer`` runs the zkcompat core on Twisted's reactor in a background
thread (started once per process, shared by every embedded server), bound to
port 0 on loopback, in memory.  Clients connect to ``server.hosts`` as to any
ZooKeeper.  Starting and stopping one takes milliseconds.

Fault controls act on the server, so a client sees exactly what a real
ZooKeeper would make it see:

- ``expire_session(session_id)`` closes the session now (a closeSession txn):
  its ephemerals go, watches fire, its client gets SESSION_EXPIRED when it
  reconnects;
- ``drop_connections()`` cuts every client connection (CONNECTION_LOSS; the
  sessions live on and clients reconnect);
- ``reject_connections(True)`` refuses new connections until turned off.

Security, configured as for ``zkcompat serve``: ``secure_client_port=0`` with
``ssl_key_store_location`` (a PEM file: key and certificate chain),
``ssl_trust_store_location`` (PEM CA certificates) and ``ssl_client_auth``
opens a TLS client port as well (``server.secure_port``, ``secure_hosts``);
``jaas=PATH`` (a JAAS file's ``Server`` section) or ``sasl_users={name: password}``
enables SASL DIGEST-MD5, and ``auth_providers=(SASL_AUTH_PROVIDER_CLASS,)`` the
``sasl`` ACL scheme, as ``authProvider.1=...SASLAuthenticationProvider`` does.

The AdminServer and Prometheus ``/metrics`` are off unless asked for:
``EmbeddedServer(admin_port=0, metrics_port=0)`` serves them on free loopback
ports, reported as ``admin_port`` / ``metrics_port`` (``admin_url`` and
``metrics_url`` give the whole URLs).

Embedded servers run on a private reactor thread, apart from Twisted's global
reactor.  Twisted users who want the server on their own reactor (for example
under pytest-twisted) call ``start_in_reactor()`` / ``stop_in_reactor()`` from
the reactor thread instead of ``start()``/``stop()``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from zkcompat.core.config import FOUR_LETTER_WORDS, ServerConfig

log = logging.getLogger("zkcompat.testing")

_reactor_thread: threading.Thread | None = None
_private_reactor = None
_reactor_lock = threading.Lock()


def _ensure_reactor_thread():
    """A private reactor for embedded servers, running in a daemon thread (once per process).

    It is not Twisted's global reactor, so embedded servers work whether or not
    the test process runs that one (pytest-twisted does, in the main thread).
    """
    global _reactor_thread, _private_reactor
    with _reactor_lock:
        if _reactor_thread is None:
            from twisted.internet.epollreactor import EPollReactor

            _private_reactor = EPollReactor()
            started = threading.Event()
            _private_reactor.callWhenRunning(started.set)
            _reactor_thread = threading.Thread(
                target=_private_reactor.run, kwargs={"installSignalHandlers": False}, name="zkcompat-reactor",
                daemon=True)
            _reactor_thread.start()
            if not started.wait(10):
                raise RuntimeError("the embedded servers' reactor did not start")
    return _private_reactor


def _call_in_reactor(reactor, fn: Callable[[], Any]) -> Any:
    from twisted.internet.threads import blockingCallFromThread

    return blockingCallFromThread(reactor, fn)


class EmbeddedServer:
    """A standalone zkcompat server in this process, on a free loopback port."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, config: ServerConfig | None = None,
                 jaas: str | None = None, admin_port: int | None = None, metrics_port: int | None = None,
                 **settings):
        if config is None:
            config = ServerConfig(four_letter_words=frozenset(FOUR_LETTER_WORDS), **settings)
        elif settings:
            raise TypeError("give either config or settings, not both")
        if jaas is not None:
            from zkcompat.config import load_jaas

            load_jaas(config, jaas)
        self.config = config
        self.host = host
        self.requested_port = port
        self.port = 0
        self.secure_port = 0  # the bound TLS client port, when secure_client_port is set (0: any free port)
        self._secure_listening = None
        self.server = None
        self._listening = None
        self._reactor = None
        self._reject = False
        # None: off (unlike `zkcompat serve`, where zoo.cfg decides); 0: any free port
        self.requested_admin_port = admin_port
        self.requested_metrics_port = metrics_port
        self.admin_port = 0
        self.metrics_port = 0
        self.metrics_registry = None
        self._http_listening: list = []

    @property
    def hosts(self) -> str:
        return "%s:%d" % (self.host, self.port)

    @property
    def secure_hosts(self) -> str:
        """host:port of the TLS client port (``secure_client_port`` and ``ssl_*`` settings)."""
        return "%s:%d" % (self.host, self.secure_port)

    @property
    def admin_url(self) -> str:
        """The AdminServer's command URL (``http://host:port/commands``)."""
        return "http://%s:%d%s" % (self.host, self.admin_port, "/" + self.config.admin_command_url.strip("/"))

    @property
    def metrics_url(self) -> str:
        return "http://%s:%d/metrics" % (self.host, self.metrics_port)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> EmbeddedServer:
        reactor = _ensure_reactor_thread()
        _call_in_reactor(reactor, lambda: self.start_in_reactor(reactor))
        return self

    def stop(self) -> None:
        if self._reactor is not None and self.server is not None:
            _call_in_reactor(self._reactor, self.stop_in_reactor)

    def start_in_reactor(self, reactor=None) -> EmbeddedServer:
        """Start from the reactor thread (for Twisted users); returns at once."""
        from zkcompat.core.server import ZooKeeperServer
        from zkcompat.net.client_port import ClientFactory, ReactorClock

        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self.server = ZooKeeperServer(self.config, ReactorClock(reactor))
        self.server.start()
        factory = ClientFactory(self.server)
        original = factory.buildProtocol

        def build(addr):
            return None if self._reject else original(addr)

        factory.buildProtocol = build
        self._listening = reactor.listenTCP(self.requested_port, factory, interface=self.host)
        self.port = self._listening.getHost().port
        self.config.client_port = self.port
        if self.config.secure_client_port is not None:
            from zkcompat.net.tls import listen_secure

            try:
                self._secure_listening = listen_secure(reactor, self.config, factory,
                                                       interface=self.config.secure_client_port_address or self.host)
            except Exception:
                self.stop_in_reactor()
                raise
            self.secure_port = self.config.secure_client_port = self._secure_listening.getHost().port
        if self.requested_admin_port is not None:
            from zkcompat.net.admin import listen_admin

            listening = listen_admin(reactor, self.server, self.config, port=self.requested_admin_port,
                                     host=self.host)
            self._http_listening.append(listening)
            self.admin_port = listening.getHost().port
            log.info("embedded server %s: AdminServer on %s", self.hosts, self.admin_url)
        if self.requested_metrics_port is not None:
            from zkcompat.net.metrics import listen_metrics

            listening, self.metrics_registry = listen_metrics(reactor, self.server, self.config,
                                                              port=self.requested_metrics_port, host=self.host)
            self._http_listening.append(listening)
            self.metrics_port = listening.getHost().port
            log.info("embedded server %s: Prometheus metrics on %s", self.hosts, self.metrics_url)
        return self

    def stop_in_reactor(self):
        listening, self._listening = self._listening, None
        secure, self._secure_listening = self._secure_listening, None
        server, self.server = self.server, None
        if server is not None:
            server.stop()
            server.flush()
        ports, self._http_listening = self._http_listening, []
        if secure is not None:
            ports.insert(0, secure)
        if listening is not None:
            ports.insert(0, listening)
        if not ports:
            return None
        from twisted.internet.defer import gatherResults, maybeDeferred

        return gatherResults([maybeDeferred(p.stopListening) for p in ports])

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- controls -------------------------------------------------------------------------------

    def _run(self, fn: Callable[[], Any]) -> Any:
        if threading.current_thread() is _reactor_thread or self._reactor is None or not self._reactor.running:
            return fn()
        return _call_in_reactor(self._reactor, fn)

    def expire_session(self, session_id: int) -> None:
        """Expire the session now, as if its timeout had passed."""

        def expire():
            self.server.close_session(session_id)
            self.server.flush()

        self._run(expire)

    def drop_connections(self) -> None:
        """Cut every client connection; sessions stay and clients may reconnect."""

        def drop():
            for conn in list(self.server.connections):
                conn.abort()
            self.server.flush()

        self._run(drop)

    def reject_connections(self, reject: bool = True) -> None:
        """Refuse (True) or accept again (False) new client connections."""
        self._reject = reject

    def session_ids(self) -> list[int]:
        return self._run(lambda: sorted(self.server.sessions.sessions))

    def four_letter_word(self, cmd: str) -> str:
        from zkcompat.servers import four_letter_word

        return four_letter_word(self.host, self.port, cmd)


def create_path(hosts: str, path: str, timeout_s: float = 10.0) -> None:
    """Create ``path`` and its missing parents with a short-lived session (no client library needed)."""
    import socket
    import struct

    from protocol import records
    from protocol.codes import Err, OpCode
    from protocol.framing import FrameDecoder, frame
    from protocol.messages import encode_connect_request

    host, _, port = hosts.split(",")[0].split("/")[0].rpartition(":")
    acl = [records.ACL(31, records.Id("world", "anyone"))]
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        decoder = FrameDecoder()

        def roundtrip(data: bytes) -> bytes:
            sock.sendall(data)
            while True:
                frames = decoder.feed(sock.recv(65536))
                if frames:
                    return frames[0]

        roundtrip(frame(encode_connect_request(records.ConnectRequest(0, 0, 10000, 0, bytes(16)), False)))
        prefix = ""
        for xid, part in enumerate(p for p in path.split("/") if p):
            prefix += "/" + part
            body = records.RequestHeader(xid + 1, OpCode.CREATE).to_bytes()
            body += records.CreateRequest(prefix, b"", acl, 0).to_bytes()
            reply = roundtrip(frame(body))
            err = struct.unpack_from(">i", reply, 12)[0]
            if err not in (Err.OK, Err.NODEEXISTS):
                raise RuntimeError("creating %s: error %d" % (prefix, err))
        roundtrip(frame(records.RequestHeader(1 << 20, OpCode.CLOSE_SESSION).to_bytes()))
