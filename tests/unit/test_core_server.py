"""The core server driven in-process with a fake clock: sessions, writes, watches, ACLs, errors."""

from __future__ import annotations

from protocol import records
from protocol.codes import AddWatchMode, Err, EventType, OpCode, WatcherType
from protocol.framing import frame
from zkcompat.core.javahash import session_password

from .corekit import CoreClient, be32, make_server

OPEN = [records.ACL(31, records.Id("world", "anyone"))]


def connected(server, **kw):
    c = CoreClient(server).connect(**kw)
    assert c.session_id != 0
    return c


def test_session_handshake_negotiates_timeout_and_password():
    """A new session gets a clamped timeout, an id with server 1 in the top byte and ZooKeeper's password."""
    server, clock = make_server()
    c = connected(server, timeout=1000)
    assert c.timeout == 4000  # 2 ticks minimum
    assert c.session_id >> 56 == 1
    assert c.passwd == session_password(c.session_id)
    c2 = connected(server, timeout=10**9)
    assert c2.timeout == 40000  # 20 ticks maximum


def test_create_session_consumes_a_zxid():
    """Session creation is a txn: the first create after connect gets zxid 2."""
    server, clock = make_server()
    c = connected(server)
    err, resp = c.create("/a", b"x", op=OpCode.CREATE2)
    assert err == 0 and resp.stat.czxid == 2


def test_sequential_names_follow_parent_cversion_and_deletes_count():
    """Sequence numbers come from the parent's create count; visible cversion counts deletes too."""
    server, clock = make_server()
    c = connected(server)
    c.create("/q")
    names = [c.create("/q/n-", flags=2)[1].path for _ in range(3)]
    assert names == ["/q/n-0000000000", "/q/n-0000000001", "/q/n-0000000002"]
    assert c.delete("/q/n-0000000001")[0] == 0
    _, st = c.exists("/q")
    assert st.stat.num_children == 2 and st.stat.cversion == 4
    assert c.create("/q/n-", flags=2)[1].path == "/q/n-0000000003"


def test_failed_write_consumes_a_zxid():
    """A create that fails still takes a zxid, visible in the reply header."""
    server, clock = make_server()
    c = connected(server)
    c.create("/a")
    xid = c.request(OpCode.CREATE, records.CreateRequest("/a", b"", OPEN, 0))
    r = c.reply(xid)
    assert r.err == Err.NODEEXISTS and r.zxid == 3


def test_multi_failure_shape_and_rollback():
    """A failing multi answers OK for ops before the failure, its error, then RUNTIMEINCONSISTENCY."""
    server, clock = make_server()
    c = connected(server)
    c.create("/m")
    r, results = c.multi([
        (OpCode.CREATE, records.CreateRequest("/m/a", b"", OPEN, 0)),
        (OpCode.CHECK, records.CheckVersionRequest("/m", 5)),
        (OpCode.DELETE, records.DeleteRequest("/m", -1)),
    ])
    assert r.err == 0
    assert [(t, rec.err) for t, rec in results] == [
        (OpCode.ERROR, 0), (OpCode.ERROR, Err.BADVERSION), (OpCode.ERROR, Err.RUNTIMEINCONSISTENCY)]
    assert c.exists("/m/a")[0] == Err.NONODE
    # the rolled-back create did not use up a sequence number
    assert c.create("/m/s", flags=2)[1].path == "/m/s0000000000"


def test_multi_success_returns_each_result():
    """A multi of create, create2, setData, check and delete returns each op's own result."""
    server, clock = make_server()
    c = connected(server)
    r, results = c.multi([
        (OpCode.CREATE, records.CreateRequest("/x", b"1", OPEN, 0)),
        (OpCode.CREATE2, records.CreateRequest("/x/y", b"", OPEN, 0)),
        (OpCode.SET_DATA, records.SetDataRequest("/x", b"2", 0)),
        (OpCode.CHECK, records.CheckVersionRequest("/x", 1)),
        (OpCode.DELETE, records.DeleteRequest("/x/y", 0)),
    ])
    assert [t for t, _ in results] == [OpCode.CREATE, OpCode.CREATE2, OpCode.SET_DATA, OpCode.CHECK, OpCode.DELETE]
    zxid = results[1][1].stat.czxid
    assert results[2][1].stat.mzxid == zxid and r.zxid == zxid  # one zxid for the whole multi


def test_session_expiry_removes_ephemerals_and_fires_watches():
    """Without pings a session expires on the tick after its timeout; others see its ephemerals go."""
    server, clock = make_server()
    owner = connected(server, timeout=4000)
    watcher = connected(server, timeout=40000)
    owner.create("/e", flags=1)
    assert watcher.exists("/e", watch=True)[0] == 0
    clock.advance(3999)
    watcher.exists("/e")  # keeps the watcher alive
    assert not owner.closed
    clock.advance(2001)
    assert owner.closed
    assert [(e.type, e.path) for e in watcher.notifications()] == [(EventType.NODE_DELETED, "/e")]
    again = CoreClient(server).connect(session_id=owner.session_id, passwd=owner.passwd)
    assert again.timeout == 0 and again.session_id == 0 and again.passwd == bytes(16)
    assert again.closed


def test_reconnect_with_password_keeps_session_and_wrong_password_is_refused():
    """A client that reconnects with id and password keeps its session; a wrong password gets the expired answer."""
    server, clock = make_server()
    c = connected(server)
    c.create("/e", flags=1)
    c.conn.connection_lost()
    bad = CoreClient(server).connect(session_id=c.session_id, passwd=b"x" * 16)
    assert bad.session_id == 0 and bad.closed
    good = CoreClient(server).connect(session_id=c.session_id, passwd=c.passwd)
    assert good.session_id == c.session_id and good.timeout == c.timeout
    assert good.exists("/e")[1].stat.ephemeral_owner == c.session_id


def test_client_ahead_of_server_is_refused():
    """A ConnectRequest whose lastZxidSeen is ahead of the server is closed without an answer."""
    server, clock = make_server()
    c = CoreClient(server).connect(last_zxid=100)
    assert c.closed and c.events == []


def test_watch_event_precedes_reply_and_is_one_shot():
    """The watcher's own setData reply comes after the event it caused; a one-shot watch fires once."""
    server, clock = make_server()
    c = connected(server)
    c.create("/w", b"a")
    c.get_data("/w", watch=True)
    c.set_data("/w", b"b")
    c.set_data("/w", b"c")
    kinds = [type(e).__name__ for e in c.events[-3:]]
    assert kinds == ["WatcherEvent", "Reply", "Reply"]
    assert len(c.notifications()) == 1


def test_persistent_recursive_watch_sees_descendants_but_not_child_changes():
    """addWatch PERSISTENT_RECURSIVE: created/changed/deleted for the subtree, never NodeChildrenChanged."""
    server, clock = make_server()
    c = connected(server)
    c.create("/r")
    assert c.call(OpCode.ADD_WATCH, records.AddWatchRequest("/r", AddWatchMode.PERSISTENT_RECURSIVE))[0] == 0
    c.create("/r/a")
    c.set_data("/r/a", b"1")
    c.delete("/r/a")
    assert [(e.type, e.path) for e in c.notifications()] == [
        (EventType.NODE_CREATED, "/r/a"), (EventType.NODE_DATA_CHANGED, "/r/a"), (EventType.NODE_DELETED, "/r/a")]


def test_remove_and_check_watches():
    """checkWatches/removeWatches answer NOWATCHER when there is none and remove exactly one kind."""
    server, clock = make_server()
    c = connected(server)
    c.create("/w")
    assert c.call(OpCode.CHECK_WATCHES, records.CheckWatchesRequest("/w", WatcherType.DATA))[0] == Err.NOWATCHER
    c.get_data("/w", watch=True)
    assert c.call(OpCode.CHECK_WATCHES, records.CheckWatchesRequest("/w", WatcherType.DATA))[0] == 0
    assert c.call(OpCode.REMOVE_WATCHES, records.RemoveWatchesRequest("/w", WatcherType.CHILDREN))[0] == Err.NOWATCHER
    assert c.call(OpCode.REMOVE_WATCHES, records.RemoveWatchesRequest("/w", WatcherType.DATA))[0] == 0
    c.set_data("/w", b"x")
    assert c.notifications() == []


def test_set_watches_fires_missed_events():
    """setWatches after a reconnect fires what changed since relativeZxid and re-arms the rest."""
    server, clock = make_server()
    c = connected(server)
    c.create("/a")
    c.create("/b")
    rel = server.tree.last_processed_zxid
    c.set_data("/a", b"changed")
    c.delete("/b")
    c2 = connected(server)
    xid = c2.request(OpCode.SET_WATCHES, records.SetWatches(rel, ["/a", "/b"], ["/c"], []), xid=-8)
    assert [(e.type, e.path) for e in c2.notifications()] == [
        (EventType.NODE_DATA_CHANGED, "/a"), (EventType.NODE_DELETED, "/b")]
    assert c2.reply(xid).err == 0
    c.create("/c")
    assert c2.notifications()[-1].type == EventType.NODE_CREATED


def test_acl_digest_and_super():
    """Digest ACLs need addauth; superDigest bypasses them; getACL masks digests without ADMIN."""
    from zkcompat.core.auth import digest_of

    server, clock = make_server(super_digest=digest_of("super:test"))
    owner = connected(server)
    assert owner.auth("digest", b"u:p").err == 0
    acl = [records.ACL(31, records.Id("digest", digest_of("u:p"))), records.ACL(1, records.Id("world", "anyone"))]
    assert owner.create("/s", b"x", acl=acl)[0] == 0
    other = connected(server)
    assert other.set_data("/s", b"y")[0] == Err.NOAUTH
    err, resp = other.call(OpCode.GET_ACL, records.GetACLRequest("/s"), records.GetACLResponse)
    assert resp.acl[0].id.id == "u:x"
    su = connected(server)
    su.auth("digest", b"super:test")
    assert su.set_data("/s", b"z")[0] == 0
    assert su.call(OpCode.WHO_AM_I, None, records.WhoAmIResponse)[1].client_info[0].auth_scheme in ("super", "ip",
                                                                                                     "digest")


def test_auth_scheme_needs_an_authenticated_id():
    """An 'auth' ACL with no digest identity is INVALIDACL; with one it expands to it."""
    server, clock = make_server()
    c = connected(server)
    auth_acl = [records.ACL(31, records.Id("auth", ""))]
    assert c.create("/x", acl=auth_acl)[0] == Err.INVALIDACL
    c.auth("digest", b"me:pw")
    assert c.create("/x", acl=auth_acl)[0] == 0
    acl = c.call(OpCode.GET_ACL, records.GetACLRequest("/x"), records.GetACLResponse)[1].acl
    assert [(a.id.scheme, a.id.id.split(":")[0]) for a in acl] == [("digest", "me")]


def test_bad_auth_scheme_fails_and_closes():
    """An auth packet for an unknown scheme gets AUTHFAILED and the connection closes."""
    server, clock = make_server()
    c = connected(server)
    assert c.auth("nope", b"x").err == Err.AUTHFAILED
    assert c.closed


def test_unknown_opcode_gets_unimplemented_and_close():
    """An unknown opcode (and a standalone check) is answered UNIMPLEMENTED with zxid -1, then closed."""
    server, clock = make_server()
    c = connected(server)
    r = c.reply(c.request(999))
    assert (r.err, r.zxid) == (Err.UNIMPLEMENTED, -1) and c.closed
    c = connected(server)
    r = c.reply(c.request(OpCode.CHECK, records.CheckVersionRequest("/", -1)))
    assert r.err == Err.UNIMPLEMENTED and c.closed


def test_oversized_frame_closes_only_that_connection():
    """A length prefix above jute.maxbuffer closes the connection; others keep working."""
    server, clock = make_server(jute_maxbuffer=1000)
    bad = connected(server)
    good = connected(server)
    bad.send_raw(be32(1001) + b"x" * 10)
    assert bad.closed
    assert good.create("/still")[0] == 0


def test_four_letter_words_and_whitelist():
    """ruok answers imok when whitelisted; other words say they are not in the whitelist; srvr always works."""
    server, clock = make_server()
    c = CoreClient(server)
    c.conn.data_received(b"ruok")
    server.flush()
    assert bytes(c.transport.data) == b"ruok is not executed because it is not in the whitelist."
    server.config.four_letter_words = frozenset({"ruok", "srvr"})
    c = CoreClient(server)
    c.conn.data_received(b"ru")
    c.conn.data_received(b"ok")
    server.flush()
    assert bytes(c.transport.data) == b"imok" and c.transport.closed
    c = CoreClient(server)
    c.conn.data_received(b"srvr")
    server.flush()
    text = bytes(c.transport.data).decode()
    assert "Mode: standalone" in text and text.startswith("Zookeeper version: 3.8")


def test_container_is_reaped_after_its_last_child_goes():
    """A container with no children left is deleted by the next container check."""
    server, clock = make_server(container_check_interval_ms=1000)
    c = connected(server, timeout=40000)
    assert c.create("/c", flags=4, op=OpCode.CREATE_CONTAINER)[0] == 0
    c.create("/c/x")
    clock.advance(1000)
    c.exists("/c")
    assert c.exists("/c")[0] == 0
    c.delete("/c/x")
    clock.advance(1000)
    assert c.exists("/c")[0] == Err.NONODE


def test_ttl_node_expires_when_unmodified_and_childless():
    """A TTL node is reaped once ttl ms pass since its mtime; without extendedTypesEnabled TTL is UNIMPLEMENTED."""
    server, clock = make_server(container_check_interval_ms=1000, extended_types=True)
    c = connected(server, timeout=40000)
    req = records.CreateTTLRequest("/t", b"", OPEN, 5, 1500)
    assert c.call(OpCode.CREATE_TTL, req, records.Create2Response)[1].stat.ephemeral_owner == 0
    clock.advance(1000)
    assert c.exists("/t")[0] == 0
    clock.advance(1000)
    assert c.exists("/t")[0] == Err.NONODE
    server2, _ = make_server()
    c2 = connected(server2)
    assert c2.call(OpCode.CREATE_TTL, req)[0] == Err.UNIMPLEMENTED


def test_requests_pipelined_behind_connect_are_answered_after_it():
    """Requests sent in the same packet as the ConnectRequest wait for the session and then run in order."""
    server, clock = make_server()
    c = CoreClient(server)
    connect = frame(records.ConnectRequest(0, 0, 10000, 0, bytes(16)).to_bytes() + b"\x00")
    create = frame(records.RequestHeader(1, OpCode.CREATE).to_bytes()
                   + records.CreateRequest("/p", b"", OPEN, 0).to_bytes())
    get = frame(records.RequestHeader(2, OpCode.EXISTS).to_bytes() + records.ExistsRequest("/p", False).to_bytes())
    c.send_raw(connect + create + get)
    assert c.session_id != 0
    assert [r.xid for r in c.replies()] == [1, 2] and c.reply(2).err == 0


def test_close_session_deletes_ephemerals_and_closes():
    """closeSession removes the session's ephemerals in the same txn, replies, then closes."""
    server, clock = make_server()
    c = connected(server)
    other = connected(server)
    c.create("/e1", flags=1)
    c.create("/e2", flags=1)
    other.children("/", watch=True)
    r = c.close_session()
    assert r.err == 0 and c.closed
    assert other.children("/")[1] == ["zookeeper"]
    assert len(other.notifications()) == 1  # one NodeChildrenChanged: the watch is one-shot


def test_max_client_cnxns_limits_connections_per_ip():
    """maxClientCnxns refuses the connection over the limit from one IP; other IPs still connect."""
    server, clock = make_server(max_client_cnxns=2)
    a = CoreClient(server)
    b = CoreClient(server)
    assert a.conn is not None and b.conn is not None
    assert server.connection_made(a.transport, "127.0.0.1", 1) is None
    assert CoreClient(server, ip="10.1.2.3").conn is not None
    b.conn.connection_lost()
    assert CoreClient(server).conn is not None


def test_container_reaper_keeps_running_after_its_first_pass():
    """The container check runs every interval, not only once."""
    server, clock = make_server(container_check_interval_ms=1000)
    c = connected(server, timeout=40000)
    for round_no in range(3):
        clock.advance(1000)
        c.exists("/")
        path = "/c%d" % round_no
        assert c.create(path, flags=4, op=OpCode.CREATE_CONTAINER)[0] == 0
        c.create(path + "/x")
        c.delete(path + "/x")
        clock.advance(1000)
        assert c.exists(path)[0] == Err.NONODE, round_no


def test_reads_with_short_or_empty_bodies_answer_marshalling_error():
    """exists/getData with an empty or cut body: MARSHALLINGERROR, and the connection stays usable."""
    server, clock = make_server()
    c = connected(server)
    for op, body in ((OpCode.EXISTS, b""), (OpCode.GET_DATA, b"\x00\x00"), (OpCode.EXISTS, b"\x00\x00\x00\x05/a")):
        r = c.reply(c.request(op, body))
        assert r.err == Err.MARSHALLINGERROR and not c.closed
    assert c.exists("/")[0] == 0


def test_a_ping_is_answered_with_the_ping_xid_and_after_the_writes_before_it():
    """A ping with nothing in flight is answered at once; one behind a write waits for it (the
    session's order); either way the reply carries xid -2 and no error, and counts as a PING."""
    server, _ = make_server()
    c = CoreClient(server).connect()
    c.request(OpCode.PING, xid=77)
    assert [(r.xid, r.err, r.body) for r in c.replies()] == [(-2, 0, b"")]
    assert c.conn.last_op == "PING" and c.conn.last_cxid == 77

    held = []

    class HoldingLog:
        def append(self, hdr, txn, done, entry=None):
            held.append(done)

        def close(self):
            pass

    server.log = HoldingLog()
    xid = c.request(OpCode.CREATE, records.CreateRequest("/p", b"", [records.ACL(31, records.Id("world", "anyone"))], 0))
    c.request(OpCode.PING, xid=-2)
    assert len(c.replies()) == 1  # both wait for the create's log write
    held.pop()()
    server.flush()
    assert [(r.xid, r.err) for r in c.replies()[1:]] == [(xid, 0), (-2, 0)]
