"""Ensemble members on a reactor, and a local ensemble whose ports are all bound before it starts.

Theory of operation
-------------------
``start_member`` builds one member (a ``ZooKeeperServer`` under a
``QuorumPeer``, its ``QuorumNet``, its store, in memory or on a data dir) on a
reactor and starts it; ``zkcompat serve`` (one member per process),
``zkcompat ensemble`` and the in-process test double
(``zkcompat.testing.EmbeddedEnsemble``) all build members with it.

A local ensemble needs every member's client, quorum and election port in the
configuration the members share, before any member starts.  Asking the kernel
for a free port, closing it and binding it again later races with every other
process on the machine doing the same.  ``HeldPort`` instead binds a socket to
port 0 and keeps it bound for as long as the ensemble lives: a bound socket
that does not listen refuses connections (the kernel answers RST), exactly as
a closed port does, and no port-0 bind elsewhere can be given the port.  The port listens
only while its owner wants it to: the client and election ports while the
member runs, the quorum port only while the member leads (as ZooKeeper's
Leader opens its server socket).  ``unlisten`` (a killed member, a leader
stepping down) returns the port to the bound, refusing state at once.

Invariant: a ``HeldPort``'s number never changes, so the shared configuration
stays true across kills, restarts and leadership changes.
"""

from __future__ import annotations

import copy
import logging
import socket
from typing import Callable

from twisted.internet import defer

from zkcompat import __version__
from zkcompat.core.config import FOUR_LETTER_WORDS, QuorumServer, ServerConfig

log = logging.getLogger("zkcompat")

LISTEN_BACKLOG = 50


def _bound_socket(host: str, port: int, reuse: bool = False) -> socket.socket:
    """A socket bound to (host, port).  Without SO_REUSEADDR no other socket can share the port at all;
    with it (needed while connections the port accepted linger in TIME_WAIT) a socket that sets it too
    could bind the port while ours does not listen, though a port-0 bind never picks it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if reuse:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class HeldPort:
    """A TCP port bound for the owner's lifetime, listening only between ``listen`` and ``unlisten``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self._sock: socket.socket | None = _bound_socket(host, port)
        self.port: int = self._sock.getsockname()[1]
        self._listening = None  # the reactor's port object while listening

    @property
    def listening(self) -> bool:
        return self._listening is not None

    def listen(self, reactor, factory) -> _HeldListener:
        """Listen now and hand accepted connections to ``factory`` on ``reactor``."""
        if self._listening is not None:
            raise RuntimeError("port %d already listens" % self.port)
        if self._sock is None:
            raise RuntimeError("port %d was released" % self.port)
        self._sock.setblocking(False)  # shared with the reactor's duplicate, which must never block in accept
        # the connections accepted now inherit SO_REUSEADDR, so that the port can be held again after them
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.listen(LISTEN_BACKLOG)
        # the reactor takes a duplicate of the descriptor; ours keeps the port bound afterwards
        self._listening = reactor.adoptStreamPort(self._sock.fileno(), socket.AF_INET, factory)
        return _HeldListener(self, self._listening)

    def unlisten(self):
        """Stop listening at once; the port stays bound and refuses connections."""
        listening, self._listening = self._listening, None
        if listening is None:
            return defer.succeed(None)
        done = listening.stopListening()  # closes the reactor's duplicate a reactor turn later
        old, self._sock = self._sock, None
        try:
            old.shutdown(socket.SHUT_RDWR)  # Linux: the socket leaves LISTEN now, the port is free
        except OSError:
            pass
        old.close()
        try:
            try:
                self._sock = _bound_socket(self.host, self.port)
            except OSError:  # connections of the port linger (TIME_WAIT)
                self._sock = _bound_socket(self.host, self.port, reuse=True)
        except OSError:
            # the duplicate still listens (no shutdown of a listening socket here): bind once it is closed
            def rebind(result):
                self._sock = _bound_socket(self.host, self.port, reuse=True)
                return result

            return defer.maybeDeferred(lambda: done).addCallback(rebind)
        return defer.succeed(None)

    def getHost(self):
        from twisted.internet.address import IPv4Address

        return IPv4Address("TCP", self.host, self.port)

    def close(self) -> None:
        """Release the port for good."""
        self.unlisten()
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class _HeldListener:
    """What ``listenTCP`` would return, for a HeldPort: stopListening returns it to the held state."""

    def __init__(self, held: HeldPort, port):
        self.held = held
        self.port = port

    def getHost(self):
        return self.held.getHost()

    def stopListening(self):
        if self.held._listening is self.port:
            return self.held.unlisten()
        return defer.succeed(None)

    def stopReading(self) -> None:
        self.port.stopReading()

    def startReading(self) -> None:
        if self.held._listening is self.port:
            self.port.startReading()


# --- one member ------------------------------------------------------------------------------------


Listen = Callable[[str, int, object, str], object]  # (kind, port, factory, interface) -> a listening port


class Member:
    """One ensemble member running on a reactor: client port, election port, quorum port."""

    def __init__(self, server, peer, net, listening, store=None):
        self.server = server
        self.peer = peer
        self.net = net
        self.listening = listening
        self.store = store

    def stop(self) -> None:
        self.peer.stop()
        self.net.stop()
        self.server.stop()
        self.listening.stopListening()
        durable = getattr(self.store, "durable", None)
        if durable is not None:
            durable.close()


def start_member(config: ServerConfig, reactor, sid: int, *, durable: bool, host: str = "",
                 port: int | None = None, listen: Listen | None = None,
                 before_start: Callable[[object, object], bool] | None = None) -> Member | None:
    """Build member ``sid`` of ``config.servers`` on ``reactor`` and start it; None (logged) if it cannot.

    ``durable``: keep the data in ``config.data_dir`` (recovered first) rather than in memory.
    ``listen``: how to open the client, election and quorum ports (default: ``reactor.listenTCP``).
    ``before_start(server, peer)``: called once the ports listen, before the peer starts looking
    (``zkcompat serve`` opens its HTTP endpoints there); False: give up (it logged why).
    """
    from zkcompat.core.server import ZooKeeperServer
    from zkcompat.core.zab.peer import EnsembleTiming, MemoryPeerStore, QuorumPeer
    from zkcompat.core.zab.quorum import QuorumVerifier
    from zkcompat.net.client_port import ClientFactory, ReactorClock
    from zkcompat.net.ensemble import QuorumNet

    if listen is None:
        def listen(kind, port_number, factory, interface):
            return reactor.listenTCP(port_number, factory, interface=interface)

    config.server_id = sid
    me = config.servers[sid]
    if port is None:  # the server.N line's client port
        port = me.client_port or 0
        host = me.client_host or host
    voters = [s for s, q in config.servers.items() if q.role == "participant"]
    observers = [s for s, q in config.servers.items() if q.role == "observer"]
    verifier = QuorumVerifier(voters, observers)
    clock = ReactorClock(reactor)
    server = ZooKeeperServer(config, clock)
    server.serving = False
    server.start()
    net = QuorumNet(reactor, config, sid, listen=listen)
    timing = EnsembleTiming(config.tick_time_ms, config.init_limit, config.sync_limit)
    if durable:
        from zkcompat.net.durable import DurablePeerStore, DurableTxnLog
        from zkcompat.storage import datadir
        from zkcompat.storage.errors import StorageError

        try:
            loaded = datadir.load(config.data_dir, config.data_log_dir, extended_types=config.extended_types,
                                  repair_torn_tails=True, replay=False)
        except StorageError as e:
            log.error("cannot load the data dir: %s", e)
            return None
        for problem in loaded.report.problems:
            log.warning("data dir: %s", problem)
        log.info("loaded %s: snapshot 0x%x + %d logged txns", config.data_dir, loaded.report.snapshot_zxid,
                 len(loaded.report.logged))
        log_store = DurableTxnLog(reactor, config.data_dir, config.data_log_dir, force_sync=config.force_sync,
                                  snap_count=config.snap_count,
                                  snap_retain_count=config.autopurge_snap_retain_count)
        store = DurablePeerStore(log_store, config.data_dir)
        server.restore(loaded.tree, loaded.sessions)
        log_store.after_batch = server.flush
        log_store.snapshot_source = lambda: (server.tree, server.session_timeouts())
        peer = QuorumPeer(sid, verifier, server, net, store, timing)
        peer.recover(None, loaded.report.logged)
        if loaded.report.snapshot is None:
            log_store.take_snapshot(sync=True)  # a data dir always starts from a snapshot
    else:
        store = MemoryPeerStore()
        peer = QuorumPeer(sid, verifier, server, net, store, timing)
    try:
        listening = listen("client", port, ClientFactory(server), host)
        net.start(peer)
    except Exception as e:  # CannotListenError and friends
        log.error("server %d cannot listen: %s", sid, e)
        return None
    config.client_port = listening.getHost().port
    if before_start is not None and not before_start(server, peer):
        listening.stopListening()
        net.stop()
        return None
    peer.start()
    log.info("zkcompat %s: ensemble member %d serving clients on %s:%d", __version__, sid, host or "0.0.0.0",
             config.client_port)
    return Member(server, peer, net, listening, store)


# --- a local ensemble -----------------------------------------------------------------------------


def hold_ensemble_ports(total: int, host: str = "127.0.0.1") -> dict[int, dict[str, HeldPort]]:
    """Client, quorum and election ports for members 1..total, all bound (port 0) before any member starts."""
    held: dict[int, dict[str, HeldPort]] = {}
    try:
        for sid in range(1, total + 1):
            held[sid] = {kind: HeldPort(host) for kind in ("client", "quorum", "election")}
    except OSError:
        for ports in held.values():
            for p in ports.values():
                p.close()
        raise
    return held


def local_servers(held: dict[int, dict[str, HeldPort]], voters: int, host: str = "127.0.0.1"
                  ) -> dict[int, QuorumServer]:
    """The server.N lines of a local ensemble: the first ``voters`` members vote, the rest observe."""
    return {sid: QuorumServer(sid, host, ports["quorum"].port, ports["election"].port,
                              "participant" if sid <= voters else "observer", host, ports["client"].port)
            for sid, ports in sorted(held.items())}


def local_member_config(servers: dict[int, QuorumServer], sid: int, **settings) -> ServerConfig:
    """Member ``sid``'s configuration: the shared server lines plus ``settings`` (ServerConfig fields)."""
    settings.setdefault("four_letter_words", frozenset(FOUR_LETTER_WORDS))
    config = ServerConfig(servers=dict(servers), **settings)
    config.server_id = sid
    return copy.copy(config)


def held_listen(reactor, ports: dict[str, HeldPort]) -> Listen:
    """A ``listen`` for ``start_member`` that opens the member's held ports."""

    def listen(kind, port_number, factory, interface):
        held = ports[kind]
        if port_number not in (0, held.port):
            raise ValueError("%s port %d is not the held port %d" % (kind, port_number, held.port))
        return held.listen(reactor, factory)

    return listen
