"""The ZooKeeper server core: connections, sessions and the one request pipeline.

Theory of operation
-------------------
The network edge (zkcompat.net) creates one ``Connection`` per TCP connection
and feeds it bytes; the connection answers through a transport with ``write``
and ``close``.  Output is buffered per connection and written once per reactor
turn by ``ZooKeeperServer.flush()``.  Nothing here blocks or reads a clock
other than the injected one.

Every request takes the same path, standalone or (later) in an ensemble:

1. decode the frame (RequestHeader + body); auth and sasl are answered inline,
   as ZooKeeperServer.processPacket does;
2. writes are **prepared** (zkcompat.core.prep) into a txn with the next zxid;
   a create or setData that will succeed takes a shorter road to the same txn
   (zkcompat.core.fastwrite: the request read in place, the log entry spliced
   from its bytes), and anything else goes through prep;
3. the txn goes to the **log seam** (``TxnLog.append``) and is applied to the
   tree when the log confirms it, in zxid order; apply fires watches;
4. replies leave in the order the session sent its requests: a read that
   arrives behind a pending write of the same connection waits for it
   (per-session FIFO, CommitProcessor's rule).  Watch events caused by a txn
   are queued before the reply that reveals the change.

Every reply header carries the zxid of the last txn applied when it was sent.
Session creation and closing are txns; expiry is a closeSession txn from no
connection.  Container and TTL reaping are deleteContainer txns.
"""

from __future__ import annotations

import logging
import os
import struct
from collections import deque
from typing import Callable

from protocol.codes import AddWatchMode, ERR, OP, Perms, STATE, WatcherType, XID
from protocol.framing import FrameDecoder, FrameError
from protocol.jute import JuteError, _rd_ustring
from protocol.messages import UnknownMultiOp, decode_connect_request, decode_multi, encode_multi_response
from protocol.records import (
    AddWatchRequest,
    AuthPacket,
    CheckWatchesRequest,
    ConnectResponse,
    Create2Response,
    CreateResponse,
    ErrorResponse,
    GetACLRequest,
    GetACLResponse,
    GetAllChildrenNumberRequest,
    GetAllChildrenNumberResponse,
    GetChildren2Request,
    GetChildren2Response,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataResponse,
    GetEphemeralsRequest,
    GetEphemeralsResponse,
    GetSASLRequest,
    RemoveWatchesRequest,
    SetDataResponse,
    SetWatches,
    SetWatches2,
    Stat,
    SyncRequest,
    SyncResponse,
    WatcherEvent,
    WhoAmIResponse,
    ACL,
    Id,
)

from .auth import AuthIds, AuthRegistry
from .sasl import DigestMD5Server, SaslCrash, SaslError
from .clock import Clock
from .config import ServerConfig
from .errors import KeeperError
from .fastwrite import FastWrites
from .javahash import session_password
from .prep import Prep, PreparedTxn
from .sessions import SessionTracker
from .stats import OpLatency, ServerStats, add_latency
from .tree import DataTree
from .txnlog import InMemoryTxnLog, TxnLog
from .watches import PERSISTENT, PERSISTENT_RECURSIVE

log = logging.getLogger("zkcompat.server")

_LEN = struct.Struct(">i")
_REPLY = struct.Struct(">iiqi")  # frame length + ReplyHeader
_HDR = struct.Struct(">ii")  # RequestHeader
_NOTIFICATION_HDR = struct.Struct(">iqi").pack(XID.NOTIFICATION, -1, 0)
_NULL = b"\xff\xff\xff\xff"
READ = int(Perms.READ)
ADMIN = int(Perms.ADMIN)

VALID_TYPES = frozenset(
    {
        OP.CLOSE_SESSION,
        OP.CREATE,
        OP.CREATE2,
        OP.CREATE_TTL,
        OP.CREATE_CONTAINER,
        OP.DELETE,
        OP.DELETE_CONTAINER,
        OP.EXISTS,
        OP.GET_ACL,
        OP.GET_CHILDREN,
        OP.GET_ALL_CHILDREN_NUMBER,
        OP.GET_CHILDREN2,
        OP.GET_DATA,
        OP.GET_EPHEMERALS,
        OP.MULTI,
        OP.MULTI_READ,
        OP.PING,
        OP.RECONFIG,
        OP.SET_ACL,
        OP.SET_DATA,
        OP.SET_WATCHES,
        OP.SET_WATCHES2,
        OP.SYNC,
        OP.CHECK_WATCHES,
        OP.REMOVE_WATCHES,
        OP.ADD_WATCH,
        OP.WHO_AM_I,
        OP.CREATE_SESSION,
    }
)  # Request.isValid (3.8.6: check is valid only inside multi, ZOOKEEPER-2623)

WRITE_TYPES = frozenset(
    {
        OP.CREATE,
        OP.CREATE2,
        OP.CREATE_TTL,
        OP.CREATE_CONTAINER,
        OP.DELETE,
        OP.DELETE_CONTAINER,
        OP.SET_DATA,
        OP.SET_ACL,
        OP.RECONFIG,
        OP.MULTI,
        OP.CLOSE_SESSION,
        OP.CREATE_SESSION,
    }
)

LAST_OP = {
    OP.PING: "PING",
    OP.CREATE_SESSION: "SESS",
    OP.MULTI: "MULT",
    OP.MULTI_READ: "MLTR",
    OP.CREATE: "CREA",
    OP.CREATE2: "CREA",
    OP.CREATE_TTL: "CREA",
    OP.CREATE_CONTAINER: "CREA",
    OP.DELETE: "DELE",
    OP.DELETE_CONTAINER: "DELE",
    OP.SET_DATA: "SETD",
    OP.RECONFIG: "RECO",
    OP.SET_ACL: "SETA",
    OP.CLOSE_SESSION: "CLOS",
    OP.SYNC: "SYNC",
    OP.CHECK: "CHEC",
    OP.EXISTS: "EXIS",
    OP.GET_DATA: "GETD",
    OP.SET_WATCHES: "SETW",
    OP.SET_WATCHES2: "STW2",
    OP.ADD_WATCH: "ADDW",
    OP.GET_ACL: "GETA",
    OP.GET_CHILDREN: "GETC",
    OP.GET_CHILDREN2: "GETC",
    OP.GET_ALL_CHILDREN_NUMBER: "GETACN",
    OP.CHECK_WATCHES: "CHKW",
    OP.REMOVE_WATCHES: "REMW",
    OP.WHO_AM_I: "HOMI",
    OP.GET_EPHEMERALS: "GETE",
}


class ErrorWithBody(KeeperError):
    """An error reply that still carries a body (FinalRequestProcessor had built it already)."""

    def __init__(self, code: int, body: bytes):
        super().__init__(code)
        self.body = body


class Transport:
    """What a connection needs from the network edge."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """Close after writing what was written (the edge flushes first)."""


class Request:
    __slots__ = ("conn", "xid", "type", "body", "prepared", "rc", "done", "start_ms", "session_id")

    def __init__(self, conn, session_id: int, xid: int, type_: int, body, start_ms: int):
        self.conn = conn
        self.session_id = session_id
        self.xid = xid
        self.type = type_
        self.body = body
        self.prepared: PreparedTxn | None = None
        self.rc = None
        self.done = False
        self.start_ms = start_ms


# connection states
NEW, CONNECTING, CONNECTED, CLOSING, CLOSED = range(5)


class Connection:
    """One client connection: framing, handshake, per-session FIFO of requests."""

    def __init__(self, server: ZooKeeperServer, transport: Transport, remote_ip: str, remote_port: int):
        self.server = server
        self.transport = transport
        self.remote_ip = remote_ip
        self.remote_port = remote_port
        self.state = NEW
        self.decoder = FrameDecoder(server.config.jute_maxbuffer)
        self._prefix = b""
        self.session_id = 0
        self.session_timeout = 0
        self.old_client = False
        self.read_only = False
        self.auth = AuthIds([("ip", remote_ip)])
        self.sasl = None  # this connection's SASL mechanism, made by the first SASL packet
        self.secure = False  # set by the edge for the TLS client port (AdminServer's secure_connections)
        self.pending: deque[Request] = deque()
        self.held: list[bytes] = []
        self.out: list[bytes] = []
        self.close_after_flush = False
        # cons / stat figures
        self.packets_received = 0
        self.packets_sent = 0
        self.established_ms = server.clock.wall_ms()
        self.last_op = "NA"
        self.last_cxid = -1
        self.last_zxid = -1
        self.last_response_ms = 0
        self.last_latency = 0
        self.min_latency = None
        self.max_latency = 0
        self.total_latency = 0
        self.latency_count = 0

    def __repr__(self):
        return "<Connection %s:%d session 0x%x>" % (self.remote_ip, self.remote_port, self.session_id & (2**64 - 1))

    # --- output -------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if self.state == CLOSED:
            return
        self.out.append(data)
        self.server._dirty[self] = None

    def send_reply(self, xid: int, zxid: int, err: int, body: bytes = b"") -> None:
        self.packets_sent += 1
        st = self.server.stats
        st.packets_sent += 1
        st.record_response_size(16 + len(body))
        self.send(_REPLY.pack(16 + len(body), xid, zxid, err) + body)

    def close_after_send(self) -> None:
        """ServerCnxnFactory.closeConn: flush what is queued, then close."""
        if self.state != CLOSED:
            self.close_after_flush = True
            self.server._dirty[self] = None
            if self.state != CLOSING:
                self.state = CLOSING

    def notify(self, event_type: int, path: str, acl) -> None:
        """Deliver a watch event, unless the connection may not read the znode (ZOOKEEPER-4799)."""
        if acl is not None and not self.server.auth.check(acl, READ, self.auth):
            return
        body = _NOTIFICATION_HDR + WatcherEvent.encode(WatcherEvent(event_type, STATE.SYNC_CONNECTED, path))
        self.packets_sent += 1
        st = self.server.stats
        st.packets_sent += 1
        st.record_response_size(len(body))
        self.send(_LEN.pack(len(body)) + body)

    # --- input --------------------------------------------------------------------------

    # A test double's fault injection (zkcompat.net.faults, ZooKeeperServerController's
    # ControllableConnection): sees each request frame of an established connection first and
    # returns True when it took the frame (answered, failed or delayed it).
    request_hook: Callable[[Connection, bytes], bool] | None = None

    def data_received(self, data: bytes) -> None:
        if self.state >= CLOSING:
            return
        if self.state == NEW and not self.decoder.buffered_bytes:
            data = self._prefix + data
            if len(data) < 4:
                self._prefix = data
                return
            self._prefix = b""
            word = data[:4]
            cmd = self.server.four_letter_word_name(word)
            if cmd is not None:
                self.server.stats.packets_received += 1
                self.state = CLOSING
                self.send(self.server.run_four_letter_word(cmd, self, data[4:]).encode("utf-8"))
                self.close_after_send()
                return
        try:
            frames = self.decoder.feed(data)
        except FrameError as e:
            log.warning("closing %s:%d: %s", self.remote_ip, self.remote_port, e)
            self.abort()
            return
        for frame in frames:
            if self.state >= CLOSING:
                return
            if self.state == CONNECTING:
                self.held.append(frame)
            elif self.state == NEW:
                self._connect(frame)
            elif self.request_hook is None or not self.request_hook(self, frame):
                self._packet(frame)
        if self.decoder.error is not None and self.state < CLOSING:
            # the frames before the bad length were served; now the connection ends
            log.warning("closing %s:%d: %s", self.remote_ip, self.remote_port, self.decoder.error)
            if self.state == CONNECTING:
                self.abort()
            else:
                self.close_after_send()

    def connection_lost(self) -> None:
        if self.state == CLOSED:
            return
        self.state = CLOSED
        self.server._connection_closed(self)

    def abort(self) -> None:
        """Close at once, dropping queued output (a protocol violation or a server decision)."""
        self.out.clear()
        self.server._dirty.pop(self, None)
        if self.state != CLOSED:
            self.transport.close()
            self.connection_lost()

    # --- handshake (ZooKeeperServer.processConnectRequest) --------------------------------

    def _connect(self, frame: bytes) -> None:
        server = self.server
        self.packets_received += 1
        server.stats.packets_received += 1
        try:
            msg = decode_connect_request(frame)
        except JuteError as e:
            log.warning("closing %s:%d: malformed ConnectRequest (%s)", self.remote_ip, self.remote_port, e)
            self.abort()
            return
        req = msg.request
        self.old_client = msg.read_only is None
        self.read_only = bool(msg.read_only)
        if req.last_zxid_seen > server.tree.last_processed_zxid:
            log.info(
                "Refusing session request for client /%s:%d as it has seen zxid 0x%x our last zxid is 0x%x "
                "client must try another server",
                self.remote_ip, self.remote_port, req.last_zxid_seen, server.tree.last_processed_zxid,
            )
            self.abort()
            return
        timeout = max(req.time_out, server.config.min_session_timeout)
        timeout = min(timeout, server.config.max_session_timeout)
        self.session_timeout = timeout
        if req.session_id == 0:
            self.state = CONNECTING
            server._create_session(self, timeout)
        else:
            sid = req.session_id
            for other in list(server.by_session.get(sid, ())):
                if other is not self:
                    log.info("closing the older connection of session 0x%x", sid & (2**64 - 1))
                    other.abort()
            self.session_id = sid
            if req.passwd != session_password(sid):
                log.warning("Incorrect password from /%s:%d for session 0x%x", self.remote_ip, self.remote_port,
                            sid & (2**64 - 1))
                self.finish_session_init(False)
            elif server.revalidator is not None:
                # a learner asks the leader, which owns the sessions (REVALIDATE)
                self.state = CONNECTING
                server.revalidator(self, sid, timeout)
            else:
                valid = server.sessions.touch(sid, timeout, server.clock.now_ms())
                server._reschedule_expiry()
                self.finish_session_init(valid)

    def finish_session_init(self, valid: bool) -> None:
        server = self.server
        if valid:
            resp = ConnectResponse(0, self.session_timeout, self.session_id, session_password(self.session_id))
        else:
            resp = ConnectResponse(0, 0, 0, bytes(16))
        body = ConnectResponse.encode(resp)
        if not self.old_client:
            body += b"\x00"  # readOnly: a read-write server
        # a packet sent like any other (NIOServerCnxn counts each buffer it writes), but not a
        # response: its size is not in the client response stats
        self.packets_sent += 1
        server.stats.packets_sent += 1
        self.send(_LEN.pack(len(body)) + body)
        if valid:
            self.state = CONNECTED
            server.by_session.setdefault(self.session_id, {})[self] = None
            log.info("Established session 0x%x with negotiated timeout %d for client /%s:%d",
                     self.session_id & (2**64 - 1), self.session_timeout, self.remote_ip, self.remote_port)
            held, self.held = self.held, []
            for frame in held:
                if self.state != CONNECTED:
                    break
                self._packet(frame)
        else:
            log.info("Invalid session 0x%x for client /%s:%d, probably expired", self.session_id & (2**64 - 1),
                     self.remote_ip, self.remote_port)
            self.close_after_send()

    # --- requests (ZooKeeperServer.processPacket, submitRequestNow) -------------------------

    def _packet(self, frame: bytes) -> None:
        server = self.server
        self.packets_received += 1
        server.stats.packets_received += 1
        if len(frame) < 8:
            log.warning("closing %s:%d: malformed RequestHeader", self.remote_ip, self.remote_port)
            self.abort()
            return
        xid, t = _HDR.unpack_from(frame, 0)
        if t == OP.AUTH:
            self._auth(xid, frame[8:])
            return
        if t == OP.SASL:
            self._sasl(xid, frame[8:])
            return
        if server.enforced_auth is not None and not self._authenticated_enough(xid):
            return
        now = server.clock.now_ms()
        if not server.sessions.touch(self.session_id, self.session_timeout, now):
            log.debug("dropping request of closed session 0x%x", self.session_id & (2**64 - 1))
            return
        fast = server._fast_reads.get(t)
        if fast is not None and not self.pending:
            # the hot path: a read with nothing of this session in flight is answered now
            try:
                body = fast(self, frame)
                err = 0
            except KeeperError as e:
                body = b""
                err = e.code
            except (JuteError, struct.error, UnicodeDecodeError, IndexError):  # a body too short or malformed
                body = b""
                err = ERR.MARSHALLINGERROR
            zxid = server.tree.last_processed_zxid
            self.last_op = LAST_OP[t]
            self.last_cxid = xid
            self.last_zxid = zxid
            self.last_response_ms = now
            self.last_latency = 0
            self.latency_count += 1
            self.min_latency = 0
            st = server.stats
            st.latency_count += 1
            st.min_latency = 0
            instant = server.op_latency.instant
            instant[t] = instant.get(t, 0) + 1
            self.packets_sent += 1
            st.packets_sent += 1
            st.record_response_size(16 + len(body))
            # a ping is answered with the ping xid whatever the client sent (FinalRequestProcessor)
            self.out.append(_REPLY.pack(16 + len(body), XID.PING if t == OP.PING else xid, zxid, err) + body)
            server._dirty[self] = None
            return
        fast = server._fast_writes.get(t)
        if fast is not None and fast(self, frame, xid, t, now):
            return
        body = frame[8:]
        if t not in VALID_TYPES:
            log.warning("Received packet at server of unknown type %d", t)
            self.send_reply(xid, -1, ERR.UNIMPLEMENTED)
            self.close_after_send()
            return
        server.submit(Request(self, self.session_id, xid, t, body, now))

    def _auth(self, xid: int, body: bytes) -> None:
        server = self.server
        try:
            packet, _ = AuthPacket.decode(body, 0)
        except JuteError:
            log.warning("closing %s:%d: malformed AuthPacket", self.remote_ip, self.remote_port)
            self.abort()
            return
        ids = server.auth.authenticate(packet.scheme, self.remote_ip, packet.auth)
        if ids is None:
            # not counted in auth_failed_count: ZooKeeper 3.8 counts only failed X509 authentications of
            # TLS handshakes there (NettyServerCnxnFactory), never an AUTHFAILED answer to an AuthPacket
            log.warning("Authentication failed for scheme: %s", packet.scheme)
            self.send_reply(xid, 0, ERR.AUTHFAILED)
            self.close_after_send()
            return
        for scheme, ident in ids:
            self.auth.add(scheme, ident)
        log.info("Session 0x%x: auth success for scheme %s and address /%s:%d", self.session_id & (2**64 - 1),
                 packet.scheme, self.remote_ip, self.remote_port)
        self.send_reply(xid, 0, ERR.OK)

    def _authenticated_enough(self, xid: int) -> bool:
        """AuthenticationHelper.enforceAuthentication: without an id of an enforced scheme, close."""
        enforced = self.server.enforced_auth
        if any(scheme in enforced for scheme, _ in self.auth):
            return True
        log.error("Client authentication scheme(s) %s does not match with any of the expected authentication "
                  "scheme %s, closing session.", [s for s, _ in self.auth], sorted(enforced))
        self.send_reply(xid, 0, ERR.SESSIONCLOSEDREQUIRESASLAUTH)
        self.close_after_send()
        return False

    def _sasl(self, xid: int, body: bytes) -> None:
        """ZooKeeperServer.processSasl: one token of a SASL exchange (zkcompat.core.sasl)."""
        server = self.server
        try:
            token = GetSASLRequest.decode(body, 0)[0].token or b""
        except JuteError:
            log.warning("closing %s:%d: malformed GetSASLRequest", self.remote_ip, self.remote_port)
            self.abort()
            return
        if server.config.sasl_users is None:
            # No SASL mechanism is configured: ZooKeeper's saslServer is null, the exchange
            # logs an error and the client gets OK with a null token.
            log.error("cnxn.saslServer is null: no SASL mechanism is configured (session 0x%x)",
                      self.session_id & (2**64 - 1))
            self.send_reply(xid, 0, ERR.OK, b"\xff\xff\xff\xff")
            return
        if self.sasl is None:
            self.sasl = server.new_sasl_server()
        try:
            reply = self.sasl.evaluate(token)
        except SaslCrash as e:
            log.warning("closing %s:%d: SASL token: %s", self.remote_ip, self.remote_port, e)
            self.abort()
            return
        except SaslError as e:
            log.warning("Client /%s:%d failed to SASL authenticate: %s", self.remote_ip, self.remote_port, e)
            sasl_required = server.enforced_auth is not None and "sasl" in server.enforced_auth
            if sasl_required or not server.config.allow_sasl_failed_clients:
                log.warning("Closing client connection due to SASL authentication failure.")
                err = ERR.SESSIONCLOSEDREQUIRESASLAUTH if sasl_required else ERR.AUTHFAILED
                self.send_reply(xid, 0, err, b"\xff\xff\xff\xff")
                self.close_after_send()
                return
            log.warning("Maintaining client connection despite SASL authentication failure.")
            reply = None
        else:
            if self.sasl.complete and self.sasl.authorization_id is not None:
                ident = self.sasl.authorization_id
                log.info("Session 0x%x: adding SASL authorization for authorizationID: %s",
                         self.session_id & (2**64 - 1), ident)
                self.auth.add("sasl", ident)
                if ident in server.config.sasl_super_users:
                    self.auth.add("super", "")
                    log.info("Session 0x%x: Authenticated Id '%s' as super user", self.session_id & (2**64 - 1),
                             ident)
        body = b"\xff\xff\xff\xff" if reply is None else _LEN.pack(len(reply)) + reply
        self.send_reply(xid, 0, ERR.OK, body)

    def add_x509_identity(self, client_id: str) -> None:
        """X509AuthenticationProvider.handleAuthentication: the edge saw a trusted client certificate."""
        provider = self.server.auth.providers.get("x509")
        if provider is None:
            return
        if client_id == provider.super_user:
            self.auth.add("super", client_id)
            log.info("Authenticated Id '%s' as super user", client_id)
        self.auth.add("x509", client_id)
        log.info("Authenticated Id '%s' for Scheme 'x509'", client_id)


class ZooKeeperServer:
    """One standalone ZooKeeper server (an ensemble of one)."""

    def __init__(self, config: ServerConfig, clock: Clock, txn_log: TxnLog | None = None):
        self.config = config
        self.clock = clock
        self.tree = DataTree(self._deliver, extended_types=config.extended_types)
        # a standalone server numbers its sessions as server 1 (ZooKeeperServer.createSessionTrackerServerId)
        self.sessions = SessionTracker(config.server_id or 1, config.tick_time_ms, clock.now_ms())
        self.auth = AuthRegistry(config.super_digest, skip_acl=config.skip_acl, sasl=config.sasl_provider_enabled,
                                 let_any_sasl_user_do_x=config.let_any_sasl_user_do_x,
                                 x509=config.secure_client_port is not None, x509_super_user=config.x509_super_user)
        self.sasl_nonce_source: Callable[[int], bytes] = os.urandom  # the edge or a test may inject its own
        self.enforced_auth = config.enforced_auth_schemes  # None, or the schemes a connection must have
        self.prep = Prep(self.tree, self.sessions, self.auth, extended_types=config.extended_types,
                         reconfig_enabled=config.reconfig_enabled,
                         enforce_quota=config.enforce_quota)
        self.log = txn_log or InMemoryTxnLog()
        self.stats = ServerStats(clock)
        self.op_latency = OpLatency()  # per-opcode latency histogram (Prometheus /metrics)
        self.connections: dict[Connection, None] = {}
        self.by_session: dict[int, dict[Connection, None]] = {}
        self._dirty: dict[Connection, None] = {}
        self._expiry_timer = None
        self._expiry_due: int | None = None
        self._container_timer = None
        self.running = False
        self.started_wall_ms = clock.wall_ms()
        self.on_flush: Callable[[], None] | None = None
        self._handlers = self._build_handlers()
        self._fast_reads = {OP.GET_DATA: self._read_get_data, OP.EXISTS: self._read_exists, OP.PING: _read_ping}
        self._fast_writes = FastWrites(self, Request, CLOSED).handlers
        # roles in an ensemble (zkcompat.core.zab): a standalone server does everything itself
        self.serving = True  # False while the peer has no leader: clients are refused
        self.mode = "standalone"  # srvr's Mode: leader / follower / observer in an ensemble
        self.leader_duties = True  # expire sessions and reap containers (standalone, leader)
        self.forwarder: Callable[[Request], None] | None = None  # a learner sends writes to the leader
        self.revalidator: Callable[[Connection, int, int], None] | None = None
        self._forwarded: dict[tuple[int, int], Request] = {}

    # --- lifecycle ------------------------------------------------------------------------

    def restore(self, tree: DataTree, sessions: dict[int, int]) -> None:
        """Start from a recovered tree and session table (call before ``start``).

        Recovered sessions get their whole timeout again from now: a client that
        does not come back within it is expired, and its ephemerals go.
        """
        tree.set_deliver(self._deliver)
        self.tree = tree
        self.prep = Prep(tree, self.sessions, self.auth, extended_types=self.config.extended_types,
                         reconfig_enabled=self.config.reconfig_enabled,
                         enforce_quota=self.config.enforce_quota)
        now = self.clock.now_ms()
        for sid, timeout in sessions.items():
            self.sessions.add(sid, timeout, now)
        self._reschedule_expiry()

    def session_timeouts(self) -> dict[int, int]:
        """The live sessions and their timeouts, as a snapshot stores them."""
        return {sid: s.timeout_ms for sid, s in self.sessions.sessions.items() if not s.closing}

    def start(self) -> None:
        self.running = True
        if self.config.enforce_quota:
            log.info("zookeeper.enforceQuota = true, Quota Enforce enables")
        self._schedule_containers()

    def stop(self) -> None:
        self.running = False
        for timer in (self._expiry_timer, self._container_timer):
            if timer is not None:
                timer.cancel()
        self._expiry_timer = self._container_timer = None
        for conn in list(self.connections):
            conn.abort()
        self.log.close()

    def connection_made(self, transport: Transport, remote_ip: str, remote_port: int) -> Connection | None:
        """A client connected; None when the per-IP limit (maxClientCnxns) refuses it or we do not serve."""
        if not self.serving:
            log.info("refusing a client connection from /%s:%d: not serving (no quorum)", remote_ip, remote_port)
            return None
        limit = self.config.max_client_cnxns
        if limit > 0:
            count = sum(1 for c in self.connections if c.remote_ip == remote_ip)
            if count >= limit:
                log.warning("Too many connections from /%s - max is %d", remote_ip, limit)
                self.stats.connections_rejected += 1
                return None
        conn = Connection(self, transport, remote_ip, remote_port)
        self.connections[conn] = None
        return conn

    def new_sasl_server(self) -> DigestMD5Server:
        """A connection's SASL mechanism (ZooKeeperSaslServer): DIGEST-MD5 with the JAAS users."""
        return DigestMD5Server(self.config.sasl_users or {}, self.sasl_nonce_source,
                               super_password=self.config.sasl_super_password)

    def _connection_closed(self, conn: Connection) -> None:
        self.connections.pop(conn, None)
        self._dirty.pop(conn, None)
        peers = self.by_session.get(conn.session_id)
        if peers is not None:
            peers.pop(conn, None)
            if not peers:
                del self.by_session[conn.session_id]
        self.tree.remove_watcher(conn)
        conn.pending.clear()

    def flush(self) -> None:
        """Write every connection's queued output (once per reactor turn)."""
        while self._dirty:
            dirty = list(self._dirty)
            self._dirty.clear()
            for conn in dirty:
                if conn.state == CLOSED:
                    continue
                if conn.out:
                    data = b"".join(conn.out) if len(conn.out) > 1 else conn.out[0]
                    conn.out.clear()
                    conn.transport.write(data)
                if conn.close_after_flush:
                    conn.transport.close()
                    conn.connection_lost()

    # --- four-letter words ------------------------------------------------------------------

    def four_letter_word_name(self, word: bytes) -> str | None:
        from .fourlw import known_word

        return known_word(word)

    def run_four_letter_word(self, cmd: str, conn: Connection, rest: bytes) -> str:
        from .fourlw import run

        return run(self, cmd, conn, rest)

    # --- sessions -----------------------------------------------------------------------------

    def _create_session(self, conn: Connection, timeout: int) -> None:
        sid = self.sessions.new_session_id()
        self.sessions.add(sid, timeout, self.clock.now_ms())
        conn.session_id = sid
        self._reschedule_expiry()
        req = Request(conn, sid, 0, OP.CREATE_SESSION, None, self.clock.now_ms())
        self.submit(req)

    def _reschedule_expiry(self) -> None:
        due = self.sessions.next_deadline() if self.leader_duties else None
        if due == self._expiry_due:
            return
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
            self._expiry_timer = None
        self._expiry_due = due
        if due is not None:
            self._expiry_timer = self.clock.call_later(max(0, due - self.clock.now_ms()), self._expire_sessions)

    def _expire_sessions(self) -> None:
        self._expiry_timer = None
        self._expiry_due = None
        for sid in self.sessions.pop_expired(self.clock.now_ms()):
            log.info("Expiring session 0x%x, timeout of %dms exceeded", sid & (2**64 - 1),
                     self.sessions.sessions[sid].timeout_ms)
            self.close_session(sid)
        self._reschedule_expiry()
        self.flush()

    def close_session(self, session_id: int) -> None:
        """Expire or kill a session now: a closeSession txn from no connection."""
        self.sessions.set_closing(session_id)
        self.submit(Request(None, session_id, 0, OP.CLOSE_SESSION, None, self.clock.now_ms()))

    def _schedule_containers(self) -> None:
        interval = self.config.container_check_interval_ms
        if self._container_timer is not None:
            self._container_timer.cancel()
            self._container_timer = None
        if interval > 0 and self.running and self.leader_duties:
            self._container_timer = self.clock.call_later(interval, self._check_containers)

    def _check_containers(self) -> None:
        self._container_timer = None  # it is the timer that fired: nothing to cancel
        for path in self.tree.container_candidates(self.clock.wall_ms(),
                                                   self.config.container_max_never_used_interval_ms):
            self.submit(Request(None, 0, 0, OP.DELETE_CONTAINER, path, self.clock.now_ms()))
        self._schedule_containers()
        self.flush()

    # --- the pipeline ---------------------------------------------------------------------------

    def submit(self, req: Request) -> None:
        conn = req.conn
        t = req.type
        if self.forwarder is not None and (t in WRITE_TYPES or t == OP.SYNC):
            # a learner: the leader prepares and proposes; the reply waits for the commit
            if conn is not None:
                conn.pending.append(req)
            self._forwarded[(req.session_id, req.xid)] = req
            self.forwarder(req)
            return
        if t in WRITE_TYPES:
            if t == OP.DELETE_CONTAINER and conn is not None:
                # a client's deleteContainer: ZooKeeper reads the whole packet as the path,
                # which always holds a NUL byte (the header): BADARGUMENTS
                req.body = "\0"
            req.prepared = self.prep.prepare(t, req.session_id, req.xid, req.body, conn.auth if conn else None,
                                             self.clock.wall_ms(), conn.session_timeout if conn else 0)
            if conn is not None:
                conn.pending.append(req)
            self.stats.outstanding += 1
            self.log.append(req.prepared.hdr, req.prepared.txn, lambda: self._committed(req))
        else:
            session = self.sessions.sessions.get(req.session_id)
            if session is None:
                req.prepared = PreparedTxn(None, None, KeeperError(ERR.UNKNOWNSESSION))
            elif session.closing:
                req.prepared = PreparedTxn(None, None, KeeperError(ERR.SESSIONEXPIRED))
            else:
                req.prepared = _NO_TXN
            if conn.pending:
                conn.pending.append(req)
            else:
                self._finish(req)

    def _committed(self, req: Request) -> None:
        """The log has the txn: apply it (in zxid order) and release replies in session order."""
        hdr = req.prepared.hdr
        txn = req.prepared.txn
        t = hdr.type
        if t == OP.CREATE_SESSION:
            self.sessions.add(hdr.client_id, txn.time_out, self.clock.now_ms())
        req.rc = self.tree.apply(hdr, txn)
        self.prep.applied(hdr.zxid)
        if t == OP.CLOSE_SESSION:
            self.sessions.remove(hdr.client_id)
            self._reschedule_expiry()
            if req.conn is None:
                for conn in list(self.by_session.get(hdr.client_id, ())):
                    conn.abort()
        if self.forwarder is None:
            self.stats.outstanding -= 1
        req.done = True
        if req.conn is not None:
            self._release(req.conn)

    def _release(self, conn: Connection) -> None:
        """Reply to the requests at the head of the session's queue that are no longer waiting."""
        pending = conn.pending
        while pending and (pending[0].done or (pending[0].type not in WRITE_TYPES
                                               and not (self.forwarder is not None and pending[0].type == OP.SYNC))):
            self._finish(pending.popleft())

    # --- a learner's side of the pipeline ---------------------------------------------------

    def apply_committed(self, hdr, txn) -> None:
        """A learner applies a txn the leader committed, finishing the local request it answers."""
        req = self._forwarded.pop((hdr.client_id, hdr.cxid), None)
        if req is None or req.type == OP.SYNC:
            if req is not None:  # a sync shares (session, cxid) only if the client reused an xid
                self._forwarded[(hdr.client_id, hdr.cxid)] = req
            req = Request(None, hdr.client_id, hdr.cxid, hdr.type, None, self.clock.now_ms())
        req.prepared = PreparedTxn(hdr, txn)
        self._committed(req)

    def sync_answered(self, session_id: int, cxid: int) -> None:
        """The leader answered a client's sync: everything before it is applied here."""
        req = self._forwarded.pop((session_id, cxid), None)
        if req is None:
            return
        req.prepared = _NO_TXN
        req.done = True
        conn = req.conn
        if conn is None:
            return
        pending = conn.pending
        while pending and (pending[0].done or pending[0].type not in WRITE_TYPES and pending[0].type != OP.SYNC):
            self._finish(pending.popleft())

    def submit_from_learner(self, session_id: int, cxid: int, op: int, body: bytes, auth: list) -> None:
        """The leader prepares and proposes a request a learner forwarded (no reply here)."""
        if op == OP.CREATE_SESSION and len(body or b"") >= 4:
            self.sessions.add(session_id, int.from_bytes(body[:4], "big", signed=True), self.clock.now_ms())
            self._reschedule_expiry()
            body = None  # ours, not a client's: the timeout comes from the session
            timeout = self.sessions.sessions[session_id].timeout_ms
        else:
            timeout = 0
        req = Request(None, session_id, cxid, op, body, self.clock.now_ms())
        req.prepared = self.prep.prepare(op, session_id, cxid, body, AuthIds(auth), self.clock.wall_ms(), timeout)
        self.stats.outstanding += 1
        self.log.append(req.prepared.hdr, req.prepared.txn, lambda: self._committed(req))

    def drop_learner_state(self) -> None:
        """Leaving a role: requests waiting for a leader will never be answered; close their clients."""
        waiting = {req.conn for req in self._forwarded.values() if req.conn is not None}
        self._forwarded.clear()
        for conn in waiting:
            conn.abort()

    def _finish(self, req: Request) -> None:
        """FinalRequestProcessor: build and send the reply."""
        conn = req.conn
        if conn is None or conn.state == CLOSED:
            return
        t = req.type
        if t == OP.CREATE_SESSION and req.prepared.hdr.type == OP.CREATE_SESSION:
            conn.finish_session_init(True)
            return
        prepared = req.prepared
        err = 0
        body = b""
        # a failure found in prep is answered from its code, never raised again here: raising
        # it would put this frame, which holds the request that holds the error, in the error's
        # traceback (a reference cycle; a serving process freezes survivors, zkcompat.net.gcpolicy)
        error = prepared.error
        if prepared.hdr is not None and prepared.hdr.type == OP.ERROR:
            err = error.code if error is not None else prepared.txn.err
        elif error is not None and t != OP.MULTI:
            err = error.code
        else:
            try:
                body = self._respond(req)
            except ErrorWithBody as e:
                err = e.code
                body = e.body
            except KeeperError as e:
                err = e.code
                body = b""
            except (JuteError, UnknownMultiOp, UnicodeDecodeError) as e:
                log.error("Failed to process request type %d of session 0x%x: %s", t, req.session_id & (2**64 - 1),
                          e)
                err = ERR.MARSHALLINGERROR
                body = b""
        self._send_result(conn, req, err, body)

    def _send_result(self, conn: Connection, req: Request, err: int, body: bytes) -> None:
        """Queue a request's reply, counting it in the connection's and the server's figures."""
        t = req.type
        zxid = self.tree.last_processed_zxid
        now = self.clock.now_ms()
        latency = now - req.start_ms
        xid = req.xid
        if t == OP.PING:
            xid = XID.PING
            err = 0
            body = b""
        # the connection's and the server's figures (cons, stat, mntr); the reply is queued as
        # send_reply queues one
        conn.last_op = LAST_OP.get(t, "NA")
        conn.last_cxid = req.xid
        conn.last_zxid = zxid
        conn.last_response_ms = now
        conn.last_latency = latency
        add_latency(conn, latency)
        st = self.stats
        add_latency(st, latency)
        self.op_latency.observe(t, latency)
        conn.packets_sent += 1
        st.packets_sent += 1
        size = 16 + len(body)
        st.record_response_size(size)
        if conn.state != CLOSED:
            conn.out.append(_REPLY.pack(size, xid, zxid, err) + body)
            self._dirty[conn] = None
        if t == OP.CLOSE_SESSION:
            conn.close_after_send()

    def _respond(self, req: Request) -> bytes:
        handler = self._handlers.get(req.type)
        if handler is None:
            raise KeeperError(ERR.UNIMPLEMENTED)
        return handler(req)

    def _build_handlers(self) -> dict:
        return {
            OP.CREATE: self._h_create,
            OP.CREATE2: self._h_create2,
            OP.CREATE_TTL: self._h_create2,
            OP.CREATE_CONTAINER: self._h_create2,
            OP.DELETE: self._h_delete,
            OP.DELETE_CONTAINER: self._h_delete,
            OP.CLOSE_SESSION: self._h_delete,
            OP.SET_DATA: self._h_set_data,
            OP.SET_ACL: self._h_set_acl,
            OP.MULTI: self._h_multi,
            OP.GET_DATA: self._h_get_data,
            OP.EXISTS: self._h_exists,
            OP.GET_CHILDREN: self._h_get_children,
            OP.GET_CHILDREN2: self._h_get_children2,
            OP.SYNC: self._h_sync,
            OP.GET_ACL: self._h_get_acl,
            OP.GET_ALL_CHILDREN_NUMBER: self._h_all_children_number,
            OP.GET_EPHEMERALS: self._h_get_ephemerals,
            OP.WHO_AM_I: self._h_who_am_i,
            OP.MULTI_READ: self._h_multi_read,
            OP.SET_WATCHES: self._h_set_watches,
            OP.SET_WATCHES2: self._h_set_watches,
            OP.ADD_WATCH: self._h_add_watch,
            OP.CHECK_WATCHES: self._h_watches,
            OP.REMOVE_WATCHES: self._h_watches,
        }

    # writes: the reply describes the applied txn
    def _h_create(self, req):
        path = req.rc.path
        if path.isascii():
            return _LEN.pack(len(path)) + path.encode("ascii")
        return CreateResponse.encode(CreateResponse(path))

    def _h_create2(self, req):
        return self._h_create(req) + req.rc.stat  # Create2Response: path, Stat

    def _h_delete(self, req):
        if req.rc.err:
            raise KeeperError(req.rc.err)
        return b""

    def _h_set_data(self, req):
        return req.rc.stat  # SetDataResponse is just the Stat

    def _h_set_acl(self, req):
        return req.rc.stat  # SetACLResponse is just the Stat

    def _h_multi(self, req):
        return encode_multi_response(self._multi_results(req.rc))

    # reads: answered from the tree as it is now; each reads its body at offset ``pos``
    def _read_get_data(self, conn, buf, pos=8):
        path, pos = _rd_ustring(buf, pos)
        tree = self.tree
        node = tree.nodes.get(_path(path))
        if node is None:
            raise KeeperError(ERR.NONODE)
        if not self.auth.check(node.acl, READ, conn.auth):
            raise KeeperError(ERR.NOAUTH)
        if buf[pos]:
            tree.data_watches.add(path, conn)
        data = node.data
        if data is None:
            return _NULL + tree.stat_bytes(node)
        return _LEN.pack(len(data)) + data + tree.stat_bytes(node)

    def _read_exists(self, conn, buf, pos=8):
        path, pos = _rd_ustring(buf, pos)
        watch = buf[pos]
        tree = self.tree
        path = _path(path)
        if "\0" in path:
            raise KeeperError(ERR.BADARGUMENTS)
        node = tree.nodes.get(path)
        if node is not None and not self.auth.check(node.acl, READ, conn.auth):
            raise KeeperError(ERR.NOAUTH)
        if watch:
            tree.data_watches.add(path, conn)
        if node is None:
            raise KeeperError(ERR.NONODE)
        return tree.stat_bytes(node)

    def _h_get_data(self, req):
        return self._read_get_data(req.conn, req.body, 0)

    def _h_exists(self, req):
        return self._read_exists(req.conn, req.body, 0)

    def _h_get_children(self, req):
        rec, _ = GetChildrenRequest.decode(req.body, 0)
        return GetChildrenResponse.encode(GetChildrenResponse(self._get_children(rec.path, rec.watch, req.conn)[0]))

    def _h_get_children2(self, req):
        rec, _ = GetChildren2Request.decode(req.body, 0)
        children, node = self._get_children(rec.path, rec.watch, req.conn)
        return GetChildren2Response.encode(GetChildren2Response(children, self.tree.stat_of(node)))

    def _h_sync(self, req):
        rec, _ = SyncRequest.decode(req.body, 0)
        return SyncResponse.encode(SyncResponse(rec.path))

    def _h_get_acl(self, req):
        rec, _ = GetACLRequest.decode(req.body, 0)
        tree = self.tree
        conn = req.conn
        node = tree.nodes.get(_path(rec.path))
        if node is None:
            raise KeeperError(ERR.NONODE)
        self.auth.check_or_raise(node.acl, READ | ADMIN, conn.auth, rec.path)
        acl = node.acl
        if not self.auth.check(node.acl, ADMIN, conn.auth):
            # without ADMIN, digest ids are masked (FinalRequestProcessor)
            acl = [
                ACL(a.perms, Id(a.id.scheme, _mask_digest(a.id.id))) if a.id.scheme == "digest" else a for a in acl
            ]
        return GetACLResponse.encode(GetACLResponse(list(acl), tree.stat_of(node)))

    def _h_all_children_number(self, req):
        rec, _ = GetAllChildrenNumberRequest.decode(req.body, 0)
        node = self.tree.nodes.get(_path(rec.path))
        if node is None:
            raise KeeperError(ERR.NONODE)
        self.auth.check_or_raise(node.acl, READ, req.conn.auth, rec.path)
        return GetAllChildrenNumberResponse.encode(
            GetAllChildrenNumberResponse(self.tree.all_children_number(rec.path)))

    def _h_get_ephemerals(self, req):
        rec, _ = GetEphemeralsRequest.decode(req.body, 0)
        prefix = rec.prefix_path
        paths = self.tree.ephemerals_of(req.session_id)
        if not (prefix is None or prefix.strip() == "" or prefix.strip() == "/"):
            paths = [p for p in paths if p.startswith(prefix)]
        return GetEphemeralsResponse.encode(GetEphemeralsResponse(paths))

    def _h_who_am_i(self, req):
        return WhoAmIResponse.encode(WhoAmIResponse(self.auth.client_infos(req.conn.auth)))

    def _h_multi_read(self, req):
        return encode_multi_response(self._multi_read(req, req.conn))

    def _h_set_watches(self, req):
        t = req.type
        cls = SetWatches if t == OP.SET_WATCHES else SetWatches2
        rec, _ = cls.decode(req.body, 0)
        persistent = rec.persistent_watches if t == OP.SET_WATCHES2 else ()
        recursive = rec.persistent_recursive_watches if t == OP.SET_WATCHES2 else ()
        self.tree.set_watches(rec.relative_zxid, rec.data_watches, rec.exist_watches, rec.child_watches,
                              persistent, recursive, req.conn)
        return b""

    def _h_add_watch(self, req):
        rec, _ = AddWatchRequest.decode(req.body, 0)
        if rec.mode not in (AddWatchMode.PERSISTENT, AddWatchMode.PERSISTENT_RECURSIVE):
            raise JuteError("unsupported watcher mode %d" % rec.mode)
        mode = PERSISTENT_RECURSIVE if rec.mode == AddWatchMode.PERSISTENT_RECURSIVE else PERSISTENT
        self.tree.data_watches.add(rec.path, req.conn, mode)
        self.tree.child_watches.add(rec.path, req.conn, mode)
        return ErrorResponse.encode(ErrorResponse(0))

    def _h_watches(self, req):
        tree = self.tree
        conn = req.conn
        check = req.type == OP.CHECK_WATCHES
        rec, _ = (CheckWatchesRequest if check else RemoveWatchesRequest).decode(req.body, 0)
        if rec.type not in (WatcherType.CHILDREN, WatcherType.DATA, WatcherType.ANY):
            raise JuteError("unsupported watcher type %d" % rec.type)
        managers = {
            WatcherType.CHILDREN: (tree.child_watches,),
            WatcherType.DATA: (tree.data_watches,),
            WatcherType.ANY: (tree.child_watches, tree.data_watches),
        }[rec.type]
        if check:
            found = any(m.contains(rec.path, conn) for m in managers)
        else:
            found = False
            for m in managers:
                if m.remove(rec.path, conn):
                    found = True
        if not found:
            raise KeeperError(ERR.NOWATCHER)
        return b""

    def _get_data(self, path, watch, conn) -> GetDataResponse:
        tree = self.tree
        node = tree.nodes.get(_path(path))
        if node is None:
            raise KeeperError(ERR.NONODE)
        self.auth.check_or_raise(node.acl, READ, conn.auth, path)
        if watch:
            tree.data_watches.add(path, conn)
        return GetDataResponse(node.data, tree.stat_of(node))

    def _get_children(self, path, watch, conn):
        tree = self.tree
        node = tree.nodes.get(_path(path))
        if node is None:
            raise KeeperError(ERR.NONODE)
        self.auth.check_or_raise(node.acl, READ, conn.auth, path)
        children = node.child_names()
        if watch:
            tree.child_watches.add(path, conn)
        return children, node

    def _multi_results(self, rc) -> list:
        out = []
        for sub in rc.multi:
            st = sub.type
            if st == OP.CHECK:
                out.append((OP.CHECK, None))
            elif st == OP.CREATE:
                out.append((OP.CREATE, CreateResponse(sub.path)))
            elif st in (OP.CREATE2, OP.CREATE_TTL, OP.CREATE_CONTAINER):
                # OpResult.CreateResult(path, stat) is always typed create2 on the wire
                out.append((OP.CREATE2, Create2Response(sub.path, Stat.decode(sub.stat)[0])))
            elif st in (OP.DELETE, OP.DELETE_CONTAINER):
                out.append((st, None))
            elif st == OP.SET_DATA:
                out.append((OP.SET_DATA, SetDataResponse(Stat.decode(sub.stat)[0])))
            elif st == OP.ERROR:
                out.append((OP.ERROR, ErrorResponse(sub.err)))
            else:
                raise JuteError("invalid type of op %d" % st)
        return out

    def _multi_read(self, req: Request, conn: Connection) -> list:
        ops, _ = decode_multi(req.body, 0)
        reads = [op_type in (OP.GET_CHILDREN, OP.GET_DATA) for op_type, _ in ops]
        if any(reads) and not all(reads):
            raise JuteError("mixing read and write operations")  # MultiOperationRecord refuses it
        if ops and not reads[0]:
            # FinalRequestProcessor has already made the (empty) MultiResponse when it meets the
            # first write op: the MARSHALLINGERROR reply carries that empty response
            raise ErrorWithBody(ERR.MARSHALLINGERROR, encode_multi_response([]))
        out = []
        for op_type, rec in ops:
            try:
                # MultiOperationRecord keeps only the path of a read op: multiRead never sets watches
                if op_type == OP.GET_CHILDREN:
                    out.append((OP.GET_CHILDREN, GetChildrenResponse(self._get_children(rec.path, False, conn)[0])))
                else:
                    out.append((OP.GET_DATA, self._get_data(rec.path, False, conn)))
            except KeeperError as e:
                out.append((OP.ERROR, ErrorResponse(e.code)))
        return out

    # --- watch delivery ---------------------------------------------------------------------

    def _deliver(self, conn: Connection, event_type: int, path: str, acl) -> None:
        conn.notify(event_type, path, acl)


_NO_TXN = PreparedTxn(None, None)


def _read_ping(conn, buf, pos=8) -> bytes:
    """A ping has no body and its answer none: the fast path answers it with the reads."""
    return b""


def _path(path: str | None) -> str:
    """Reads do not validate paths, but a null one is a NullPointerException in ZooKeeper."""
    if path is None:
        raise JuteError("null path")
    return path


def _mask_digest(ident: str) -> str:
    """id.replaceAll(":.*", ":x"): everything from the first colon becomes ':x'."""
    cut = ident.find(":")
    return ident if cut == -1 else ident[:cut] + ":x"
