"""The election channel: QuorumCnxManager connections and FastLeaderElection notifications, sans-IO.

Theory of operation
-------------------
Every pair of servers keeps at most one TCP connection between their election
ports (``server.N=host:QUORUM_PORT:ELECTION_PORT``).  The side that connects
(QuorumCnxManager.startConnection) first sends an *initial message*; nothing
else precedes it when quorum SASL is off (the default)::

    current form   protocolVersion:long  sid:long  length:int  address:byte[length]
    legacy form    sid:long                              (before 3.5: a non-negative first long)

``protocolVersion`` is PROTOCOL_VERSION_V1 (-65536, one address, what 3.8
sends by default) or PROTOCOL_VERSION_V2 (-65535, only with
``multiAddress.enabled=true``: every address joined by "|").  An address is
"host:port", IPv6 hosts in brackets (NetUtils.formatInetAddr).  The receiver
(QuorumCnxManager.handleConnection / InitialMessage.parse) closes the
connection on any other negative version, a length outside 1..2048, an
address that is not host:port, or a bad port; it ignores wildcard addresses.

Only one connection per pair survives (the "challenge"): the connector drops
its connection when the other sid is larger, and the acceptor drops it when
the connector's sid is smaller, then connects back itself (to the address of
the initial message if it had one, else to its configured one).  So the
connection that carries notifications is always the one opened by the larger
sid: ``connection_survives(connector_sid, acceptor_sid)``.

After that, both directions carry messages framed as ``length:int body``
(SendWorker.send / RecvWorker.run); a length <= 0 or above 512 KiB
(PACKETMAXSIZE) ends the connection.  A body is a notification
(FastLeaderElection.buildMsg)::

    state:int leader:long zxid:long electionEpoch:long peerEpoch:long version:int
    configLength:int config:byte[configLength]                       (44 + configLength bytes)

``state`` is the sender's ServerState ordinal, ``version`` 2
(Notification.CURRENTVERSION), ``config`` the sender's QuorumVerifier.toString()
in UTF-8 ("server.1=host:2888:3888:participant\\n...version=0").  The sender's
sid is not in the message: it is the connection's (from the initial message).
``electionEpoch`` is the sender's logical clock (round); a looking observer
votes for no one: leader, zxid and peerEpoch are all Long.MIN_VALUE
(FastLeaderElection.getInitId / getInitLastLoggedZxid / getPeerEpoch).
The reader (WorkerReceiver.run) also takes older layouts, by length:

- fewer than 28 bytes: dropped ("short response");
- exactly 28 (before ZOOKEEPER-107): no peerEpoch, taken as the zxid's epoch;
- exactly 40 (3.4.x): peerEpoch, and the last 4 bytes are *not* read: version 0;
- otherwise peerEpoch and version are read; if version > 1 the config follows
  (length checked against 0..message size); bytes after it are ignored.

A malformed notification (too short, bad config length, truncated config) is
dropped and the connection stays up (``NotificationError``); an unknown state
is kept as a plain int here (ZooKeeper ignores such a notification from a
voter but still answers a non-voter).  Framing and initial-message errors are
``ElectionFrameError``: ZooKeeper closes the connection.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import IntEnum

from .jute import java_utf8_decode
from .quorum import epoch_of

__all__ = [
    "INITIAL_MESSAGE_MAX_ADDRESS_BYTES",
    "NOTIFICATION_VERSION",
    "OBSERVER_ID",
    "PACKET_MAX_SIZE",
    "PROTOCOL_VERSION_V1",
    "PROTOCOL_VERSION_V2",
    "ElectionFrameError",
    "ElectionProtocolError",
    "ElectionStreamDecoder",
    "InitialMessage",
    "Notification",
    "NotificationError",
    "ServerState",
    "connection_survives",
    "decode_initial_message",
    "decode_notification",
    "encode_initial_message",
    "encode_notification",
    "format_address",
    "format_config",
    "frame_message",
    "parse_addresses",
    "parse_config",
]

PROTOCOL_VERSION_V1 = -65536  # since 3.5.0 (ZOOKEEPER-107): one election address
PROTOCOL_VERSION_V2 = -65535  # since 3.6.0 (ZOOKEEPER-3188): "addr|addr|...", sent only with multiAddress.enabled
INITIAL_MESSAGE_MAX_ADDRESS_BYTES = 2048  # QuorumCnxManager.maxBuffer
PACKET_MAX_SIZE = 512 * 1024  # QuorumCnxManager.PACKETMAXSIZE
NOTIFICATION_VERSION = 2  # FastLeaderElection.Notification.CURRENTVERSION
NOTIFICATION_MIN_SIZE = 28
OBSERVER_ID = (1 << 63) - 1  # QuorumPeer.OBSERVER_ID: an acceptor renumbers such a peer

_Q = struct.Struct(">q")
_I = struct.Struct(">i")
_HEAD28 = struct.Struct(">iqqq")
_HEAD40 = struct.Struct(">iqqqqi")


class ServerState(IntEnum):
    """QuorumPeer.ServerState; a notification carries the ordinal."""

    LOOKING = 0
    FOLLOWING = 1
    LEADING = 2
    OBSERVING = 3


class ElectionProtocolError(ValueError):
    """Bytes on the election channel that ZooKeeper refuses."""


class ElectionFrameError(ElectionProtocolError):
    """A bad initial message or frame length: ZooKeeper closes the connection."""


class NotificationError(ElectionProtocolError):
    """A malformed notification: ZooKeeper drops the message and keeps the connection."""


def connection_survives(connector_sid: int, acceptor_sid: int) -> bool:
    """The challenge (startConnection / handleConnection): a connection is kept only when the
    side that opened it has the larger sid.  (Equal sids: the acceptor logs a warning and
    neither uses nor closes the socket.)"""
    return connector_sid > acceptor_sid


# --- the initial message ----------------------------------------------------------------


def format_address(host: str, port: int) -> str:
    """NetUtils.formatInetAddr: "host:port", an IPv6 literal in brackets."""
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def _java_parse_int(s: str) -> int:
    """Integer.parseInt: an optional sign, then decimal digits (any Unicode Nd digit, as
    Character.digit takes them), within int range."""
    digits = s[1:] if s[:1] in ("+", "-") else s
    if not digits or not digits.isdecimal():
        raise ElectionFrameError("Bad port number: %s" % s)
    v = int(s)
    if not -(1 << 31) <= v < (1 << 31):
        raise ElectionFrameError("Bad port number: %s" % s)
    return v


def _host_and_port(addr: str) -> list[str]:
    """ConfigUtils.getHostAndPort."""
    if addr.startswith("["):
        i = addr.find("]")
        if i < 0:
            raise ElectionFrameError("Badly formed address: %s" % addr)
        if i + 2 == len(addr):
            raise ElectionFrameError("Badly formed address: %s" % addr)
        if i + 2 < len(addr):
            return [addr[1:i]] + _java_split(addr[i + 2 :], ":")
        return [addr.replace("[", "").replace("]", "")]
    return _java_split(addr, ":")


def _java_split(s: str, sep: str) -> list[str]:
    """String.split with a literal separator: trailing empty strings are removed."""
    parts = s.split(sep)
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if parts == [""] and s != "":
        return []
    return parts


def parse_addresses(text: str) -> list[tuple[str, int]]:
    """InitialMessage.parse's reading of the address field: "host:port" items joined by "|".

    Returns every (host, port), wildcard ones included (ZooKeeper then ignores
    0.0.0.0 / :: ones: see ``InitialMessage.election_addresses``).
    """
    out = []
    for addr in _java_split(text, "|"):
        hp = _host_and_port(addr)
        if len(hp) != 2:
            raise ElectionFrameError("Badly formed address: %s" % addr)
        port = _java_parse_int(hp[1])
        if not 0 <= port <= 0xFFFF:  # new InetSocketAddress throws
            raise ElectionFrameError("port out of range: %d" % port)
        out.append((hp[0], port))
    return out


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class InitialMessage:
    """What the connecting side sends first.  ``protocol_version`` None: the legacy form (sid only)."""

    sid: int
    addresses: tuple[tuple[str, int], ...] = ()
    protocol_version: int | None = PROTOCOL_VERSION_V1

    @property
    def election_addresses(self) -> tuple[tuple[str, int], ...]:
        """The addresses ZooKeeper would connect back to: wildcard ones (0.0.0.0, ::) left out.
        (ZooKeeper also drops a host name that resolves to a wildcard; we do no DNS.)"""
        return tuple(a for a in self.addresses if not _is_wildcard(a[0]))

    def to_bytes(self) -> bytes:
        return encode_initial_message(self)


def encode_initial_message(msg: InitialMessage) -> bytes:
    """QuorumCnxManager.startConnection's first bytes."""
    if msg.protocol_version is None:
        if msg.sid < 0:
            raise ValueError("the legacy initial message is a non-negative sid")
        return _Q.pack(msg.sid)
    if msg.protocol_version == PROTOCOL_VERSION_V1 and len(msg.addresses) != 1:
        raise ValueError("a V1 initial message carries exactly one address")
    text = "|".join(format_address(h, p) for h, p in msg.addresses).encode("utf-8")
    return _Q.pack(msg.protocol_version) + _Q.pack(msg.sid) + _I.pack(len(text)) + text


def decode_initial_message(buf, pos: int = 0) -> tuple[InitialMessage, int] | None:
    """Read an initial message at ``pos``: ``(message, end)``, or None while incomplete.

    Raises ``ElectionFrameError`` where InitialMessage.parse refuses (ZooKeeper
    closes the connection)."""
    n = len(buf)
    if n - pos < 8:
        return None
    (first,) = _Q.unpack_from(buf, pos)
    if first >= 0:
        return InitialMessage(first, (), None), pos + 8
    if first not in (PROTOCOL_VERSION_V1, PROTOCOL_VERSION_V2):
        raise ElectionFrameError("Got unrecognized protocol version %d" % first)
    if n - pos < 20:
        return None
    (sid,) = _Q.unpack_from(buf, pos + 8)
    (length,) = _I.unpack_from(buf, pos + 16)
    if length <= 0 or length > INITIAL_MESSAGE_MAX_ADDRESS_BYTES:
        raise ElectionFrameError("Unreasonable buffer length: %d" % length)
    end = pos + 20 + length
    if end > n:
        return None
    text = java_utf8_decode(bytes(buf[pos + 20 : end]))  # new String(b, UTF_8)
    return InitialMessage(sid, tuple(parse_addresses(text)), first), end


# --- notifications ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notification:
    """One election message as FastLeaderElection's WorkerReceiver reads it.

    ``state`` is a ServerState when known, else the raw int.  ``version`` is
    the format version read (0 for the 28- and 40-byte layouts); ``config``
    the sender's config bytes when version > 1, else None.
    """

    state: int
    leader: int
    zxid: int
    election_epoch: int
    peer_epoch: int
    version: int = NOTIFICATION_VERSION
    config: bytes | None = b""

    def to_bytes(self) -> bytes:
        return encode_notification(self)


def encode_notification(n: Notification) -> bytes:
    """FastLeaderElection.buildMsg: the 44-byte head and the config when version > 1, else the
    40-byte layout with the version int (which a 3.8 reader takes as the 3.4 layout: version 0)."""
    head = _HEAD40.pack(int(n.state), n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.version)
    if n.version > 1:
        config = n.config or b""
        return head + _I.pack(len(config)) + config
    return head


def _state(v: int) -> int:
    try:
        return ServerState(v)
    except ValueError:
        return v


def decode_notification(msg) -> Notification:
    """WorkerReceiver.run's reading of one message body; ``NotificationError`` where it drops it."""
    size = len(msg)
    if size < NOTIFICATION_MIN_SIZE:
        raise NotificationError("Got a short response: %d bytes" % size)
    state, leader, zxid, election_epoch = _HEAD28.unpack_from(msg, 0)
    if size == NOTIFICATION_MIN_SIZE:
        return Notification(_state(state), leader, zxid, election_epoch, epoch_of(zxid), 0, None)
    if size < 36:
        raise NotificationError("partial notification: %d bytes" % size)
    (peer_epoch,) = _Q.unpack_from(msg, 28)
    if size == 40:
        return Notification(_state(state), leader, zxid, election_epoch, peer_epoch, 0, None)
    if size < 40:
        raise NotificationError("partial notification: %d bytes" % size)
    (version,) = _I.unpack_from(msg, 36)
    if version <= 1:
        return Notification(_state(state), leader, zxid, election_epoch, peer_epoch, version, None)
    if size < 44:
        raise NotificationError("partial notification: %d bytes, no config length" % size)
    (config_length,) = _I.unpack_from(msg, 40)
    if config_length < 0 or config_length > size:
        raise NotificationError("Invalid configLength in notification message: %d" % config_length)
    if 44 + config_length > size:
        raise NotificationError("partial notification: config of %d bytes in %d" % (config_length, size))
    config = bytes(msg[44 : 44 + config_length])
    return Notification(_state(state), leader, zxid, election_epoch, peer_epoch, version, config)


def frame_message(body: bytes) -> bytes:
    """SendWorker.send: length:int then the body."""
    return _I.pack(len(body)) + body


class ElectionStreamDecoder:
    """Splits the bytes one side of an election connection receives.

    ``initial_message``: True on the accepting side, whose peer starts with an
    initial message; ``feed`` then returns that ``InitialMessage`` first.  After
    it, ``feed`` returns message bodies (bytes) for ``decode_notification``.  A
    bad initial message or frame length raises ``ElectionFrameError``; items
    completed before it in the same ``feed`` are returned first and the next
    ``feed`` raises.
    """

    __slots__ = ("_buf", "_expect_initial", "error", "initial", "max_message")

    def __init__(self, *, initial_message: bool, max_message: int = PACKET_MAX_SIZE):
        self.max_message = max_message
        self._expect_initial = initial_message
        self._buf = bytearray()
        self.error: ElectionFrameError | None = None
        self.initial: InitialMessage | None = None

    @property
    def buffered_bytes(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list:
        if self.error is not None:
            raise self.error
        buf = self._buf
        buf += data
        out: list = []
        pos = 0
        try:
            if self._expect_initial:
                got = decode_initial_message(buf, 0)
                if got is None:
                    return out
                self.initial, pos = got
                self._expect_initial = False
                out.append(self.initial)
            n = len(buf)
            while n - pos >= 4:
                (length,) = _I.unpack_from(buf, pos)
                if length <= 0 or length > self.max_message:
                    raise ElectionFrameError("Received packet with invalid packet: %d" % length)
                if n - pos - 4 < length:
                    break
                out.append(bytes(buf[pos + 4 : pos + 4 + length]))
                pos += 4 + length
        except ElectionFrameError as e:
            self.error = e
            del buf[:]
            if not out:
                raise
            return out
        del buf[:pos]
        return out


# --- the config carried by notifications and NEWLEADER -------------------------------------


def format_config(servers, version: int) -> bytes:
    """QuorumMaj.toString in UTF-8: "server.<sid>=<spec>\\n" per member, then "version=<hex>".

    ``servers`` maps sid -> spec as QuorumServer.toString writes it:
    "host:quorumPort:electionPort:participant" (or ":observer"), with
    ";clientHost:clientPort" only for a client address from a dynamic config.
    Members come in the order given (ZooKeeper's HashMap order: ascending for
    small sids)."""
    items = servers.items() if hasattr(servers, "items") else servers
    text = "".join("server.%d=%s\n" % (sid, spec) for sid, spec in items)
    return (text + "version=%x" % (version & 0xFFFFFFFFFFFFFFFF)).encode("utf-8")


def parse_config(data: bytes) -> tuple[dict[int, str], int | None]:
    """The inverse of ``format_config`` for what ZooKeeper writes: ({sid: spec}, version or None).

    Only the plain "key=value" lines a QuorumVerifier produces are understood
    (not every java.util.Properties syntax)."""
    servers: dict[int, str] = {}
    version = None
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        key = key.strip()
        if key.startswith("server."):
            try:
                servers[int(key[7:])] = value.strip()
            except ValueError:
                continue
        elif key == "version":
            try:
                version = int(value.strip(), 16)
            except ValueError:
                version = None
    return servers, version
