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
- ``reject_connections(True)`` refuses new connections until turned off;
- ``delay_requests(ms)``, ``fail_requests(n)``, ``drop_requests(n)``:
  ZooKeeperServerController's request faults (see ``zkcompat.net.faults``):
  every request waits ``ms`` before it is processed; the next ``n`` requests
  are answered with APIERROR without being processed; the next ``n`` requests
  are processed but never answered.  ``reset_faults()`` ends them.

``EmbeddedEnsemble`` runs a whole ensemble (voting members and observers) on
the same reactor thread, every client, quorum and election port bound on
loopback before the members start (``zkcompat.net.member``).  ``hosts`` names
every member; ``member_hosts(n)`` one.  Its controls act on members as the
faults they imitate would:

- ``kill(n)`` / ``restart(n)``: the member stops as a killed process does (its
  ports refuse connections; in memory its data is gone, on disk it is kept);
- ``pause(n)`` / ``resume(n)``: the member stops processing anything, clients
  and peers alike, as a stopped JVM does, then carries on;
- ``partition(*groups)`` / ``heal()``: quorum and election traffic between
  groups stops (client connections stay up, so a member cut off from the
  quorum stalls, then drops its clients, which move elsewhere);
- ``leader()``, ``mode(n)``, ``force_election()`` (the leader steps down and
  a new epoch is elected), and on any member (``node=``) or all of them the
  request faults, ``drop_connections`` and ``reject_connections``;
  ``expire_session`` asks the leader.

``wait_leader()`` and ``wait_serving(nodes)`` poll for the ensemble to settle
after a fault; ``session_ids(n)`` tells which sessions a member's clients hold,
``last_zxid(n)`` how far it has applied.  Start time (constructor to every
member serving) is about 0.25 s with the default tickTime of 200 ms: the
election's finalize wait (200 ms) dominates it.

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
import shutil
import tempfile
import threading
import time
from typing import Any, Callable, Iterable

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
        self.faults = None

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
        from zkcompat.net.faults import RequestFaults

        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self.server = ZooKeeperServer(self.config, ReactorClock(reactor))
        self.faults = RequestFaults(self.server)
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

    def delay_requests(self, ms: int) -> None:
        """Process every request ``ms`` later than it arrives (0: no more delay)."""
        self._run(lambda: setattr(self.faults, "delay_ms", int(ms)))

    def fail_requests(self, n: int) -> None:
        """Answer the next ``n`` requests with APIERROR, unprocessed."""
        self._run(lambda: setattr(self.faults, "fail_count", int(n)))

    def drop_requests(self, n: int) -> None:
        """Process the next ``n`` requests but never answer them."""
        self._run(lambda: setattr(self.faults, "drop_count", int(n)))

    def reset_faults(self) -> None:
        self._run(self.faults.reset)

    def session_ids(self) -> list[int]:
        return self._run(lambda: sorted(self.server.sessions.sessions))

    def four_letter_word(self, cmd: str) -> str:
        from zkcompat.servers import four_letter_word

        return four_letter_word(self.host, self.port, cmd)


class _EnsembleMember:
    """What the ensemble keeps of one member: its reactor view, the running member, its faults."""

    def __init__(self, sid: int):
        self.sid = sid
        self.reactor = None  # a zkcompat.net.faults.MemberReactor
        self.member = None  # a zkcompat.net.member.Member; None while killed
        self.faults = None
        self.reject = False
        self.data_dir: str | None = None


class EmbeddedEnsemble:
    """A zkcompat ensemble in this process: ``size`` voters and ``observers`` observers on loopback.

    Members are numbered 1..size+observers.  Data lives in memory unless ``data_dir``
    is given (member n keeps it in ``data_dir/server-n``) or ``on_disk`` is true (a
    temporary directory, removed by ``stop``).  ``settings`` are further
    ``ServerConfig`` fields for every member.
    """

    def __init__(self, size: int = 3, observers: int = 0, *, host: str = "127.0.0.1", tick_time_ms: int = 200,
                 init_limit: int = 10, sync_limit: int = 5, data_dir: str | None = None, on_disk: bool = False,
                 start_timeout_s: float = 30.0, **settings):
        if size < 1 or observers < 0:
            raise ValueError("an ensemble needs at least one voter")
        self.size = size
        self.observers = observers
        self.host = host
        self.start_timeout_s = start_timeout_s
        self._settings = dict(settings, tick_time_ms=tick_time_ms, init_limit=init_limit, sync_limit=sync_limit)
        self._own_dir = on_disk and data_dir is None
        self.data_dir = data_dir
        self._reactor = None
        self._held: dict = {}
        self._servers: dict = {}
        self._links = None
        self._members: dict[int, _EnsembleMember] = {}

    @property
    def nodes(self) -> list[int]:
        return list(range(1, self.size + self.observers + 1))

    @property
    def hosts(self) -> str:
        """The connection string of every member."""
        return ",".join(self.member_hosts(sid) for sid in self.nodes)

    def member_hosts(self, node: int) -> str:
        """The connection string of one member."""
        return "%s:%d" % (self.host, self._servers[node].client_port)

    def ports(self, node: int) -> dict[str, int]:
        """One member's client, quorum and election ports (held for the ensemble's life)."""
        q = self._servers[node]
        return {"client": q.client_port, "quorum": q.quorum_port, "election": q.election_port}

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, wait: bool = True) -> EmbeddedEnsemble:
        """Bind every port, start every member, and (``wait``) return once all of them serve."""
        reactor = _ensure_reactor_thread()
        self._reactor = reactor
        if self._own_dir:
            self.data_dir = tempfile.mkdtemp(prefix="zkcompat-ensemble-")
        try:
            _call_in_reactor(reactor, self._start_in_reactor)
            if wait:
                self.wait_serving(self.nodes, self.start_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_in_reactor(self) -> None:
        from zkcompat.net.faults import Links
        from zkcompat.net.member import hold_ensemble_ports, local_servers

        self._held = hold_ensemble_ports(self.size + self.observers, self.host)
        self._servers = local_servers(self._held, self.size, self.host)
        self._links = Links()
        for sid, ports in self._held.items():
            self._links.own_ports(sid, [p.port for p in ports.values()])
            self._members[sid] = _EnsembleMember(sid)
        for sid in self.nodes:
            self._start_member(sid)

    def _start_member(self, sid: int) -> None:
        import os

        from zkcompat.net.faults import MemberReactor, RequestFaults
        from zkcompat.net.member import local_member_config, start_member

        m = self._members[sid]
        mr = MemberReactor(self._reactor, sid, self._links)
        self._links.members[sid] = mr
        settings = dict(self._settings)
        if self.data_dir is not None:
            m.data_dir = os.path.join(self.data_dir, "server-%d" % sid)
            os.makedirs(m.data_dir, exist_ok=True)
            settings["data_dir"] = m.data_dir
        config = local_member_config(self._servers, sid, **settings)
        held = self._held[sid]

        def listen(kind, port_number, factory, interface):
            if kind == "client":
                build = factory.buildProtocol
                factory.buildProtocol = lambda addr: None if m.reject else build(addr)
            return mr.listen_held(held[kind], factory)

        member = start_member(config, mr, sid, durable=m.data_dir is not None, host=self.host, listen=listen)
        if member is None:
            raise RuntimeError("ensemble member %d did not start (see the log)" % sid)
        m.reactor = mr
        m.member = member
        m.faults = RequestFaults(member.server)

    def stop(self) -> None:
        if self._reactor is None:
            return
        _call_in_reactor(self._reactor, self._stop_in_reactor)
        self._reactor = None
        if self._own_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def _stop_in_reactor(self) -> None:
        for sid in self._members:
            if self._members[sid].member is not None:
                self._kill(sid)
        for ports in self._held.values():
            for p in ports.values():
                p.close()

    def __enter__(self) -> EmbeddedEnsemble:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self, fn: Callable[[], Any]) -> Any:
        if threading.current_thread() is _reactor_thread or self._reactor is None or not self._reactor.running:
            return fn()
        return _call_in_reactor(self._reactor, fn)

    # --- state ------------------------------------------------------------------------------------

    def _peer(self, node: int):
        m = self._members[node]
        return None if m.member is None else m.member.peer

    def mode(self, node: int) -> str:
        """leader, follower, observer, looking; "down" when killed."""

        def mode():
            peer = self._peer(node)
            return "down" if peer is None else peer.mode

        return self._run(mode)

    def serving(self, node: int) -> bool:
        """Whether the member serves clients now (it follows or leads an established epoch)."""

        def serving():
            m = self._members[node]
            return m.member is not None and not m.reactor.paused and m.member.server.serving

        return self._run(serving)

    def leader(self) -> int | None:
        """The member that leads an established epoch, if any."""

        def leader():
            for sid in self.nodes:
                m = self._members[sid]
                if (m.member is not None and not m.reactor.paused and m.member.peer.mode == "leader"
                        and m.member.server.serving):
                    return sid
            return None

        return self._run(leader)

    def session_ids(self, node: int) -> list[int]:
        """The sessions whose clients are connected to this member now."""

        def sessions():
            m = self._members[node]
            if m.member is None:
                return []
            return sorted({c.session_id for c in m.member.server.connections if c.session_id})

        return self._run(sessions)

    def last_zxid(self, node: int) -> int:
        """The last zxid the member applied (its epoch is ``zxid >> 32``)."""
        return self._run(lambda: self._members[node].member.server.tree.last_processed_zxid)

    def current_epoch(self, node: int) -> int:
        return self._run(lambda: self._members[node].member.peer.store.current_epoch)

    def wait_serving(self, nodes: Iterable[int] | None = None, timeout_s: float = 30.0) -> None:
        """Wait until the given members (default: every member not killed or paused) serve clients."""
        deadline = time.monotonic() + timeout_s
        while True:
            wanted = list(nodes) if nodes is not None else [
                s for s in self.nodes if self._run(lambda s=s: self._members[s].member is not None
                                                   and not self._members[s].reactor.paused)]
            if all(self.serving(s) for s in wanted):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("members %s not serving after %.1f s: %s" % (
                    wanted, timeout_s, {s: self.mode(s) for s in self.nodes}))
            time.sleep(0.02)

    def wait_leader(self, timeout_s: float = 30.0, other_than: int | None = None) -> int:
        """Wait for an established leader (``other_than``: a different one) and return it."""
        deadline = time.monotonic() + timeout_s
        while True:
            leader = self.leader()
            if leader is not None and leader != other_than:
                return leader
            if time.monotonic() > deadline:
                raise TimeoutError("no leader after %.1f s: %s" % (timeout_s, {s: self.mode(s) for s in self.nodes}))
            time.sleep(0.02)

    # --- member faults ------------------------------------------------------------------------------

    def kill(self, node: int) -> None:
        """Stop the member as a killed process stops: ports refuse, connections drop, memory is lost."""
        self._run(lambda: self._kill(node))

    def _kill(self, node: int) -> None:
        m = self._members[node]
        if m.member is None:
            return
        member, m.member = m.member, None
        member.stop()
        m.reactor.kill()
        for held in self._held[node].values():
            held.unlisten()

    def restart(self, node: int) -> None:
        """Start a killed member again on its ports (from its data dir when it has one)."""

        def restart():
            m = self._members[node]
            if m.member is not None:
                raise RuntimeError("member %d is running; kill it first" % node)
            self._start_member(node)

        self._run(restart)

    def pause(self, node: int) -> None:
        """The member stops processing anything (clients, peers, timers), as a stopped JVM does."""
        self._run(lambda: self._members[node].reactor.pause())

    def resume(self, node: int) -> None:
        self._run(lambda: self._members[node].reactor.resume())

    def partition(self, *groups) -> None:
        """Cut quorum and election traffic between groups of members.

        ``partition(2)`` cuts member 2 off from the others; ``partition([1], [2, 3])``
        names the groups.  Members named in no group form one more group.
        """
        named = [[g] if isinstance(g, int) else list(g) for g in groups]
        for g in named:
            for sid in g:
                if sid not in self._members:
                    raise ValueError("no member %r" % (sid,))
        self._run(lambda: self._links.partition(named))

    def heal(self) -> None:
        """Undo ``partition``: connections between the groups carry traffic again."""
        self._run(self._links.heal)

    def force_election(self) -> None:
        """ZooKeeperServerController's ELECTNEWLEADER: the leader steps down and a new epoch is elected."""

        def elect():
            leader = self.leader()
            if leader is None:
                raise RuntimeError("no leader to step down")
            m = self._members[leader]
            m.member.peer.force_election()
            m.member.server.flush()

        self._run(elect)

    # --- client-side controls (one member, or all) ------------------------------------------------

    def _live(self, node: int | None) -> list[_EnsembleMember]:
        nodes = self.nodes if node is None else [node]
        return [self._members[s] for s in nodes if self._members[s].member is not None]

    def drop_connections(self, node: int | None = None) -> None:
        """Cut the client connections of one member (or all); sessions stay."""

        def drop():
            for m in self._live(node):
                for conn in list(m.member.server.connections):
                    conn.abort()
                m.member.server.flush()

        self._run(drop)

    def reject_connections(self, reject: bool = True, node: int | None = None) -> None:
        for sid in (self.nodes if node is None else [node]):
            self._members[sid].reject = reject

    def _set_fault(self, node: int | None, **values) -> None:
        def set_():
            for m in self._live(node):
                for name, value in values.items():
                    setattr(m.faults, name, value)

        self._run(set_)

    def delay_requests(self, ms: int, node: int | None = None) -> None:
        self._set_fault(node, delay_ms=int(ms))

    def fail_requests(self, n: int, node: int | None = None) -> None:
        self._set_fault(node, fail_count=int(n))

    def drop_requests(self, n: int, node: int | None = None) -> None:
        self._set_fault(node, drop_count=int(n))

    def reset_faults(self, node: int | None = None) -> None:
        self._set_fault(node, delay_ms=0, fail_count=0, drop_count=0)

    def expire_session(self, session_id: int) -> None:
        """Expire the session now (the leader closes it, as when its timeout passes)."""

        def expire():
            leader = self.leader()
            if leader is None:
                raise RuntimeError("no leader to expire the session")
            server = self._members[leader].member.server
            server.close_session(session_id)
            server.flush()

        self._run(expire)

    def four_letter_word(self, node: int, cmd: str) -> str:
        from zkcompat.servers import four_letter_word

        return four_letter_word(self.host, self._servers[node].client_port, cmd)


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
