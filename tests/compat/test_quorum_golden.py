"""Golden bytes: a real Apache ZooKeeper ensemble's server-to-server traffic decodes and re-encodes exactly.

The ensemble: servers 1, 2 and 3 vote, server 4 is an observer (so the
observer handshake and INFORM flow too).  Every server's zoo.cfg names the
*other* servers by the address of a small transparent TCP proxy in this test
(one per server and port), and its own line by its real ports; so every
connection a server opens to a peer, election or quorum, goes through a proxy
that records both directions.  (The only connections that bypass them are the
connect-backs of the election challenge, which use the address a peer sent in
its initial message.)  Server 4 runs with ``multiAddress.enabled`` so its
initial messages use the V2 form; the others send V1.

Sequence: 1 and 2 start together (equal zxids, so 2 wins the election and 1
gets an empty DIFF); kazoo writes through follower 1 (REQUEST, PROPOSAL, ACK,
COMMIT); 3 and 4 join and get SNAPs (the leader runs with
``zookeeper.snapshotSizeFactor=-1``, i.e. no sync from its txn log); more
writes through 3 and 4 (INFORM to the observer), a sync (SYNC), a session
moved to another server (REVALIDATE both ways), and PINGs both ways.

Then every recorded stream must decode with protocol.election /
protocol.quorum, every item must re-encode to exactly the bytes seen, and each
packet's data must parse and rebuild with the per-type helpers.  With
ZKCOMPAT_WRITE_QUORUM_GOLDEN=1 the test also stores the streams in
tests/unit/golden/quorum/, which the unit tests decode without Java.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

from protocol import quorum as q
from protocol.election import (
    PROTOCOL_VERSION_V1,
    PROTOCOL_VERSION_V2,
    ElectionStreamDecoder,
    InitialMessage,
    ServerState,
    decode_notification,
    encode_initial_message,
    encode_notification,
    frame_message,
    parse_config,
)
from protocol.records import QuorumPacket
from zkcompat.servers import ensure_real_zookeeper_installed, four_letter_word, free_ports

pytestmark = pytest.mark.real_zookeeper

HOST = "127.0.0.1"
TICK = 500
DEADLINE_S = 45.0  # everything the test waits for, together
GOLDEN_DIR = Path(__file__).resolve().parents[1] / "unit" / "golden" / "quorum"


# --- a recording TCP proxy -------------------------------------------------------------------


class Capture:
    """One proxied connection: the bytes the connector sent (c2s) and received (s2c)."""

    def __init__(self, target: int, channel: str, index: int):
        self.target, self.channel, self.index = target, channel, index
        self.c2s = bytearray()
        self.s2c = bytearray()
        self.lock = threading.Lock()
        self.upstream_ok = False

    def snapshot(self) -> tuple[bytes, bytes]:
        with self.lock:
            return bytes(self.c2s), bytes(self.s2c)


class RecordingProxy:
    """Listens on a loopback port and relays every connection to ``upstream_port``, recording it."""

    def __init__(self, target: int, channel: str, upstream_port: int, captures: list, lock: threading.Lock):
        self.target, self.channel, self.upstream_port = target, channel, upstream_port
        self.captures, self.captures_lock = captures, lock
        self.listener = socket.create_server((HOST, 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                down, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            down.settimeout(None)
            with self.captures_lock:
                cap = Capture(self.target, self.channel, len(self.captures))
                self.captures.append(cap)
            up = self._connect_upstream()
            if up is None:
                down.close()  # the real server is not listening: the connector sees a closed connection
                continue
            cap.upstream_ok = True
            self.sockets += [down, up]
            for src, dst, buf in ((down, up, cap.c2s), (up, down, cap.s2c)):
                t = threading.Thread(target=self._pump, args=(src, dst, buf, cap.lock), daemon=True)
                t.start()
                self.threads.append(t)

    def _connect_upstream(self) -> socket.socket | None:
        """A learner may connect as soon as it has decided to follow, a moment before the new
        leader listens on its quorum port: there the proxy keeps trying for a few seconds (the
        learner just sees a slow network) instead of closing a connection the learner would
        never have had.  Election connections to a server that is down are closed at once."""
        patience = 5.0 if self.channel == "quorum" else 0.0
        give_up = time.monotonic() + patience
        while True:
            try:
                up = socket.create_connection((HOST, self.upstream_port), timeout=2)
                up.settimeout(None)
                return up
            except OSError:
                if time.monotonic() >= give_up or self.stopping.is_set():
                    return None
                time.sleep(0.05)

    @staticmethod
    def _pump(src, dst, buf, lock):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with lock:
                    buf += data
                dst.sendall(data)
        except OSError:
            pass
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass

    def stop(self):
        self.stopping.set()
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.thread.join(5)
        for t in self.threads:
            t.join(5)


# --- the ensemble ---------------------------------------------------------------------------


class Member:
    def __init__(self, sid: int, root: Path, ports: list[int], observer: bool = False):
        self.sid, self.observer = sid, observer
        self.client_port, self.quorum_port, self.election_port = ports
        self.dir = root / ("server%d" % sid)
        self.proc: subprocess.Popen | None = None

    @property
    def hosts(self) -> str:
        return "%s:%d" % (HOST, self.client_port)

    def spec(self, quorum_port: int, election_port: int) -> str:
        return "%s:%d:%d%s" % (HOST, quorum_port, election_port, ":observer" if self.observer else "")

    def write_config(self, members, proxies) -> None:
        data = self.dir / "data"
        data.mkdir(parents=True)
        (data / "myid").write_text("%d\n" % self.sid)
        lines = {
            "tickTime": str(TICK),
            "initLimit": "10",
            "syncLimit": "5",
            "dataDir": str(data),
            "clientPort": str(self.client_port),
            "clientPortAddress": HOST,
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "*",
        }
        if self.observer:
            lines["peerType"] = "observer"
            lines["multiAddress.enabled"] = "true"
            lines["multiAddress.reachabilityCheckEnabled"] = "false"
        for m in members:
            if m is self:
                lines["server.%d" % m.sid] = m.spec(m.quorum_port, m.election_port)
            else:
                lines["server.%d" % m.sid] = m.spec(proxies[m.sid, "quorum"].port, proxies[m.sid, "election"].port)
        (self.dir / "zoo.cfg").write_text("".join("%s=%s\n" % kv for kv in lines.items()))
        (self.dir / "log4j.properties").write_text(
            "log4j.rootLogger=INFO, FILE\n"
            "log4j.appender.FILE=org.apache.log4j.FileAppender\n"
            "log4j.appender.FILE.File=%s\n"
            "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.FILE.layout.ConversionPattern=%%d{ISO8601} - %%-5p [%%t:%%C{1}@%%L] - %%m%%n\n"
            % (self.dir / "zookeeper.log")
        )

    def start(self, classpath: str) -> None:
        props = {
            "zookeeper.log.dir": str(self.dir),
            "log4j.configuration": "file:%s" % (self.dir / "log4j.properties"),
            "zookeeper.snapshotSizeFactor": "-1",  # a leader syncs a learner with zxid 0 by SNAP
        }
        java = shutil.which("java") or "java"
        cmd = [java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classpath]
        cmd += ["-D%s=%s" % kv for kv in props.items()]
        cmd += ["org.apache.zookeeper.server.quorum.QuorumPeerMain", str(self.dir / "zoo.cfg")]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=open(self.dir / "stdout.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def mode(self) -> str | None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError("server %d exited with %s; see %s" % (self.sid, self.proc.returncode, self.dir))
        try:
            out = four_letter_word(HOST, self.client_port, "srvr", timeout=1.0)
        except OSError:
            return None
        for line in out.splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


def _wait(what: str, predicate, deadline: float):
    start = time.monotonic()
    while True:
        got = predicate()
        if got:
            print("%s: %.1fs" % (what, time.monotonic() - start))
            return got
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.05)


# --- decoding the captures ------------------------------------------------------------------


def decode_quorum_stream(data: bytes, *, from_leader: bool) -> tuple[list, int]:
    """All complete items of a stream, checking that they re-encode to the bytes they came from."""
    dec = q.QuorumStreamDecoder(from_leader=from_leader)
    items = dec.feed(data)
    consumed = len(data) - dec.buffered_bytes
    again = b"".join(
        q.encode_snapshot_payload(it) if isinstance(it, q.SnapshotPayload) else q.encode_packet(it) for it in items
    )
    assert again == data[:consumed]
    return items, consumed


def decode_election_stream(data: bytes, *, initial: bool) -> tuple[list, int]:
    dec = ElectionStreamDecoder(initial_message=initial)
    items = dec.feed(data)
    consumed = len(data) - dec.buffered_bytes
    out, again = [], []
    for it in items:
        if isinstance(it, InitialMessage):
            again.append(encode_initial_message(it))
            out.append(it)
        else:
            n = decode_notification(it)
            assert encode_notification(n) == it
            again.append(frame_message(it))
            out.append(n)
    assert b"".join(again) == data[:consumed]
    return out, consumed


def check_packet_helpers(qp: QuorumPacket, *, from_leader: bool) -> None:
    """Each packet's data parses with its helper, and the matching builder gives the same bytes."""
    t = qp.type
    raw = q.encode_packet(qp)
    P = q.PacketType

    def same(built):
        assert q.encode_packet(built) == raw, (P(t).name, built, qp)

    if t == P.REQUEST:
        same(q.request_packet(q.parse_request(qp)))
    elif t == P.PROPOSAL:
        same(q.proposal_packet(q.parse_proposal(qp)))
    elif t == P.INFORM:
        same(q.inform_packet(qp.zxid, q.parse_inform(qp).to_bytes()))
    elif t == P.COMMIT:
        same(q.commit_packet(qp.zxid))
    elif t == P.ACK:
        same(q.ack_packet(qp.zxid))
    elif t == P.PING and from_leader:
        same(q.ping_packet(qp.zxid))
    elif t == P.PING:
        same(q.ping_reply_packet(q.ping_packet(qp.zxid), q.parse_ping_touches(qp)))
    elif t == P.REVALIDATE and from_leader:
        sid, valid = q.parse_revalidate_reply(qp)
        same(q.revalidate_reply_packet(q.packet(P.REVALIDATE, qp.zxid, None, qp.authinfo), sid, valid))
    elif t == P.REVALIDATE:
        same(q.revalidate_packet(*q.parse_revalidate(qp)))
    elif t == P.SYNC:
        same(q.sync_packet())
    elif t in (P.FOLLOWERINFO, P.OBSERVERINFO):
        info = q.parse_learner_info(qp)
        same(q.learner_info_packet(t, info.accepted_epoch, info.sid, info.config_version, info.protocol_version))
    elif t == P.LEADERINFO:
        same(q.leader_info_packet(*q.parse_leader_info(qp)))
    elif t == P.ACKEPOCH:
        same(q.ack_epoch_packet(*q.parse_ack_epoch(qp)))
    elif t == P.NEWLEADER:
        epoch, config = q.parse_new_leader(qp)
        same(q.new_leader_packet(epoch, config))
        servers, version = parse_config(config)
        assert set(servers) == {1, 2, 3, 4} and version == 0
    elif t == P.DIFF:
        same(q.diff_packet(qp.zxid))
    elif t == P.TRUNC:
        same(q.trunc_packet(qp.zxid))
    elif t == P.SNAP:
        same(q.snap_packet(qp.zxid))
    elif t == P.UPTODATE:
        same(q.uptodate_packet())
    else:
        raise AssertionError("unexpected packet type %d" % t)


def _quorum_items(cap: Capture) -> tuple[list, list]:
    c2s, s2c = cap.snapshot()
    return decode_quorum_stream(c2s, from_leader=False)[0], decode_quorum_stream(s2c, from_leader=True)[0]


def _types(items) -> list:
    return [q.PacketType(it.type) if isinstance(it, QuorumPacket) else "SNAPSHOT" for it in items]


# --- the test -------------------------------------------------------------------------------


def test_real_ensemble_traffic_decodes_and_reencodes_exactly():
    classpath = ensure_real_zookeeper_installed()
    deadline = time.monotonic() + DEADLINE_S
    root = Path(tempfile.mkdtemp(prefix="zkquorum-"))
    captures: list[Capture] = []
    lock = threading.Lock()
    ports = free_ports(12)  # distinct: chosen one by one, two members could share a port
    members = [Member(sid, root, ports[3 * sid - 3:3 * sid], observer=sid == 4) for sid in (1, 2, 3, 4)]
    proxies = {}
    clients: list[KazooClient] = []
    try:
        for m in members:
            proxies[m.sid, "quorum"] = RecordingProxy(m.sid, "quorum", m.quorum_port, captures, lock)
            proxies[m.sid, "election"] = RecordingProxy(m.sid, "election", m.election_port, captures, lock)
        for m in members:
            m.write_config(members, proxies)
        s1, s2, s3, s4 = members

        # 1 and 2 elect 2 (same zxid, larger sid); 1 follows it through 2's quorum proxy
        s1.start(classpath)
        s2.start(classpath)
        _wait("servers 1 and 2 to serve", lambda: s1.mode() == "follower" and s2.mode() == "leader", deadline)

        acl = [make_digest_acl("golden", "secret", all=True)]
        c1 = KazooClient(hosts=s1.hosts, timeout=10)
        clients.append(c1)
        c1.start(timeout=10)
        c1.add_auth("digest", "golden:secret")
        c1.create("/golden", b"root")
        c1.create("/golden/acl", b"protected", acl=acl)
        c1.create("/golden/eph", b"", ephemeral=True)
        c1.create("/golden/seq-", b"x", sequence=True)
        c1.set("/golden", b"root v2")
        tx = c1.transaction()
        tx.create("/golden/m1", b"1")
        tx.set_data("/golden", b"root v3")
        tx.commit()
        c1.delete("/golden/m1")

        # 3 (follower) and 4 (observer) join: SNAP syncs through 2's quorum proxy
        s3.start(classpath)
        s4.start(classpath)
        _wait("servers 3 and 4 to serve", lambda: s3.mode() == "follower" and s4.mode() == "observer", deadline)

        c3 = KazooClient(hosts=s3.hosts, timeout=10)
        c4 = KazooClient(hosts=s4.hosts, timeout=10)
        clients += [c3, c4]
        c3.start(timeout=10)
        c4.start(timeout=10)
        c3.create("/golden/from3", b"3")
        c4.create("/golden/from4", b"4")
        c1.sync("/golden")  # REQUEST(sync) -> SYNC
        # the session of c3 reconnects to server 1: 1 asks the leader (REVALIDATE)
        session_id, password = c3.client_id
        moved = KazooClient(hosts=s1.hosts, timeout=10, client_id=(session_id, password))
        clients.append(moved)
        moved.start(timeout=10)
        assert moved.client_id[0] == session_id
        moved.get("/golden")

        def follower1_stream():
            for cap in captures:
                if cap.target == 2 and cap.channel == "quorum" and cap.upstream_ok:
                    up, down = _quorum_items(cap)
                    if up and up[0].type == q.PacketType.FOLLOWERINFO and q.parse_learner_info(up[0]).sid == 1:
                        return up, down
            return None

        def pings_both_ways():
            got = follower1_stream()
            if not got:
                return None
            up, down = got
            touched = any(it.type == q.PacketType.PING and it.data for it in up)
            return touched and any(it.type == q.PacketType.PING for it in down)

        _wait("PINGs both ways with a session touch", pings_both_ways, deadline)
    finally:
        for c in clients:
            try:
                c.stop()
                c.close()
            except Exception:
                pass
        for m in members:
            m.stop()
        for p in proxies.values():
            p.stop()
        if not os.environ.get("ZKCOMPAT_KEEP_SERVER_DIRS"):
            shutil.rmtree(root, ignore_errors=True)

    # --- every captured stream decodes and re-encodes exactly
    seen_types: dict[str, set] = {"to_leader": set(), "from_leader": set()}
    initial_versions, states, snapshots = set(), set(), []
    learners = {}
    for cap in captures:
        c2s, s2c = cap.snapshot()
        if cap.channel == "quorum":
            up, _ = decode_quorum_stream(c2s, from_leader=False)
            down, _ = decode_quorum_stream(s2c, from_leader=True)
            for it in up:
                check_packet_helpers(it, from_leader=False)
                seen_types["to_leader"].add(q.PacketType(it.type))
            for it in down:
                if isinstance(it, q.SnapshotPayload):
                    snapshots.append(it)
                    continue
                check_packet_helpers(it, from_leader=True)
                seen_types["from_leader"].add(q.PacketType(it.type))
            if up:
                learners[q.parse_learner_info(up[0]).sid] = (cap, up, down)
        else:
            first, _ = decode_election_stream(c2s, initial=True)
            back, _ = decode_election_stream(s2c, initial=False)
            if first:
                assert isinstance(first[0], InitialMessage)
                initial_versions.add(first[0].protocol_version)
                assert first[0].election_addresses  # the connector's own election address
            for n in first[1:] + back:
                states.add(n.state)
                assert n.version == 2
                servers, version = parse_config(n.config)
                assert set(servers) == {1, 2, 3, 4} and version == 0

    assert initial_versions == {PROTOCOL_VERSION_V1, PROTOCOL_VERSION_V2}
    assert {ServerState.LOOKING, ServerState.LEADING, ServerState.FOLLOWING} <= states
    P = q.PacketType
    assert {P.FOLLOWERINFO, P.OBSERVERINFO, P.ACKEPOCH, P.ACK, P.REQUEST, P.PING, P.REVALIDATE} <= seen_types[
        "to_leader"
    ]
    assert {
        P.LEADERINFO,
        P.DIFF,
        P.SNAP,
        P.NEWLEADER,
        P.UPTODATE,
        P.PROPOSAL,
        P.COMMIT,
        P.INFORM,
        P.PING,
        P.SYNC,
        P.REVALIDATE,
    } <= seen_types["from_leader"]

    # the handshakes, in ZooKeeper's order
    assert set(learners) == {1, 3, 4}
    for sid, (cap, up, down) in learners.items():
        assert cap.target == 2
        assert _types(up)[:4] == [P.OBSERVERINFO if sid == 4 else P.FOLLOWERINFO, P.ACKEPOCH, P.ACK, P.ACK], (
            sid,
            _types(up)[:6],
        )
        kinds = [k for k in _types(down) if k != P.PING]  # the leader may ping once NEWLEADER is queued
        assert kinds[0] == P.LEADERINFO
        if sid == 1:
            assert kinds[1:4] == [P.DIFF, P.NEWLEADER, P.UPTODATE]
        else:
            assert kinds[1:3] == [P.SNAP, "SNAPSHOT"]
            assert kinds.index(P.NEWLEADER) < kinds.index(P.UPTODATE)
        epoch, _ = q.parse_leader_info(down[0])
        assert up[2].zxid == up[3].zxid == q.make_zxid(epoch, 0)  # ACK of NEWLEADER, ACK of UPTODATE
    assert len(snapshots) == 2
    for snap in snapshots:
        paths = {p for p, _ in snap.nodes}
        assert {"", "/zookeeper", "/golden", "/golden/acl", "/golden/eph"} <= paths
        assert snap.sessions and snap.acls

    if os.environ.get("ZKCOMPAT_WRITE_QUORUM_GOLDEN"):
        _write_golden(learners, captures)


def _write_golden(learners, captures) -> None:
    """Store whole streams (cut after their last complete item) for tests/unit/test_quorum_codec.py."""
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    files = {}

    def put(name, data, description, **meta):
        (GOLDEN_DIR / name).write_bytes(data)
        files[name] = dict(description=description, **meta)

    for sid, role in ((1, "follower1"), (3, "follower3"), (4, "observer4")):
        cap = learners[sid][0]
        c2s, s2c = cap.snapshot()
        _, n_up = decode_quorum_stream(c2s, from_leader=False)
        _, n_down = decode_quorum_stream(s2c, from_leader=True)
        put(
            "quorum_%s_to_leader.bin" % role,
            c2s[:n_up],
            "learner %d -> leader 2, quorum port" % sid,
            channel="quorum",
            from_leader=False,
            learner=sid,
        )
        put(
            "quorum_leader_to_%s.bin" % role,
            s2c[:n_down],
            "leader 2 -> learner %d, quorum port" % sid,
            channel="quorum",
            from_leader=True,
            learner=sid,
        )
    done = set()
    for cap in captures:
        if cap.channel != "election":
            continue
        c2s, s2c = cap.snapshot()
        first, n_first = decode_election_stream(c2s, initial=True)
        if not first:
            continue
        init = first[0]
        key = (init.protocol_version, len(first) > 1)
        if key in done:
            continue
        done.add(key)
        back, n_back = decode_election_stream(s2c, initial=False)
        v = "v1" if init.protocol_version == PROTOCOL_VERSION_V1 else "v2"
        tag = "%s_sid%d_to_sid%d" % (v, init.sid, cap.target)
        put(
            "election_%s_connector.bin" % tag,
            c2s[:n_first],
            "election connection from sid %d to sid %d: initial message (%s) and notifications"
            % (init.sid, cap.target, v),
            channel="election",
            initial_message=True,
            connector=init.sid,
            acceptor=cap.target,
        )
        if back:
            put(
                "election_%s_acceptor.bin" % tag,
                s2c[:n_back],
                "the notifications sid %d sent back on that connection" % cap.target,
                channel="election",
                initial_message=False,
                connector=init.sid,
                acceptor=cap.target,
            )
    (GOLDEN_DIR / "manifest.json").write_text(json.dumps(files, indent=2, sort_keys=True) + "\n")
