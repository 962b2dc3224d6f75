"""Quotas in the core: enforcement of hard limits in prep (zookeeper.enforceQuota), the
"Quota exceeded" log lines, StatsTrack parsing, and the zoo.cfg key."""

from __future__ import annotations

import logging

import pytest

from protocol import messages, records
from protocol.codes import Err, OpCode
from zkcompat.config import config_from_properties, parse_properties
from zkcompat.core.quota import MalformedQuota, RateLogger, parse_stats_track

from .corekit import CoreClient, make_server

OPEN = [records.ACL(31, records.Id("world", "anyone"))]
QUOTA_LOGGER = "zkcompat.quota"


def quota_server(limits: bytes, *, enforce=True, root="/app"):
    """A server with ``root`` under a quota whose zookeeper_limits node holds ``limits`` (zkCli's writes)."""
    server, _clock = make_server(enforce_quota=enforce)
    c = CoreClient(server).connect()
    assert c.create(root)[0] == 0
    q = "/zookeeper/quota"
    for part in root.strip("/").split("/"):
        q += "/" + part
        assert c.create(q, None)[0] == 0
    assert c.create(q + "/zookeeper_limits", limits)[0] == 0
    assert c.create(q + "/zookeeper_stats", b"count=0,bytes=0")[0] == 0
    return server, c


def stats(c, root="/app") -> bytes:
    err, resp = c.get_data("/zookeeper/quota%s/zookeeper_stats" % root)
    assert err == 0
    return resp.data


def quota_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == QUOTA_LOGGER]


# --- StatsTrack parsing -------------------------------------------------------------------


@pytest.mark.parametrize("data, expected", [
    (b"", {}),
    (b"count=10,bytes=-1", {"count": 10, "bytes": -1}),
    # StatsTrack.toString of a 3.7+ quota: a stray '=' after bytes, extra keys after ';'
    (b"count=-1,bytes=-1=;byteHardLimit=5;countHardLimit=2",
     {"count": -1, "bytes": -1, "byteHardLimit": 5, "countHardLimit": 2}),
    (b"count==5,bytes=7", {"count": -1, "bytes": 7}),  # "count==5".split("=") is [count, "", 5]: -1
    (b"count=1,,;;bytes=2,", {"count": 1, "bytes": 2}),  # runs of separators; trailing ones dropped
    (b",,", {}),
    (b"count=+3", {"count": 3}),  # Long.parseLong takes a sign
])
def test_stats_track_parses_as_java_does(data, expected):
    """parse_stats_track follows StatsTrack(String) with String.split and Long.parseLong."""
    assert parse_stats_track(data) == expected


@pytest.mark.parametrize("data", [
    None,  # new String(null): NullPointerException
    b"count",  # no '=': ArrayIndexOutOfBounds
    b"count=",  # "count=".split("=") is [count]
    b",count=1",  # a leading empty pair
    b"count=abc",
    b"count= 1",
    b"count=9223372036854775808",  # one past Long.MAX_VALUE
])
def test_stats_track_rejects_what_java_throws_on(data):
    with pytest.raises(MalformedQuota):
        parse_stats_track(data)


# --- enforcement -------------------------------------------------------------------------------


def test_count_hard_limit_refuses_the_create_past_it():
    """countHardLimit=3 (the quota's root counts): the third child is refused with QUOTAEXCEEDED,
    consumes a zxid, and changes neither the tree nor the stats."""
    server, c = quota_server(b"count=-1,bytes=-1=;countHardLimit=3")
    assert c.create("/app/a", b"x")[0] == 0
    assert c.create("/app/b", b"x")[0] == 0
    zxid_before = server.tree.last_processed_zxid
    xid = c.request(OpCode.CREATE, records.CreateRequest("/app/c", b"x", OPEN, 0))
    r = c.reply(xid)
    assert r.err == Err.QUOTAEXCEEDED and r.zxid == zxid_before + 1
    assert c.exists("/app/c")[0] == Err.NONODE
    assert stats(c) == b"count=3,bytes=2"
    # a sequential create is refused too, and does not use up a sequence number
    assert c.create("/app/s", flags=2)[0] == Err.QUOTAEXCEEDED
    assert c.delete("/app/b")[0] == 0
    assert c.create("/app/s", flags=2)[1].path == "/app/s0000000002"  # a and b were created before


def test_byte_hard_limit_on_create_and_set_data():
    """byteHardLimit=10: growth past it refused; same size, shrinking and null data are not checked."""
    _, c = quota_server(b"count=-1,bytes=-1=;byteHardLimit=10")
    assert c.create("/app/a", b"123456")[0] == 0
    assert c.create("/app/b", b"12345")[0] == Err.QUOTAEXCEEDED
    assert c.create("/app/b", b"1234")[0] == 0
    assert c.create("/app/n", None)[0] == 0
    assert c.set_data("/app/a", b"1234567")[0] == Err.QUOTAEXCEEDED
    assert c.set_data("/app/a", b"abcdef")[0] == 0
    assert c.set_data("/app/a", b"ab")[0] == 0
    assert c.set_data("/app/b", b"12345678")[0] == 0  # 2 + 8 = 10
    assert stats(c) == b"count=4,bytes=10"
    assert c.get_data("/app/a")[1].data == b"ab"


def test_set_data_while_over_the_limit_is_refused_even_when_it_shrinks():
    """ZooKeeper compares usage + difference with the limit: already over it, a smaller setData still fails."""
    _, c = quota_server(b"count=-1,bytes=-1")
    c.create("/app/a", b"0123456789")
    assert c.set_data("/zookeeper/quota/app/zookeeper_limits", b"count=-1,bytes=-1=;byteHardLimit=5")[0] == 0
    assert c.set_data("/app/a", b"012345678")[0] == Err.QUOTAEXCEEDED
    assert c.set_data("/app/a", b"abcdefghij")[0] == 0  # no change in size: not checked
    assert c.delete("/app/a")[0] == 0  # deletes are never checked


def test_hard_limit_replaces_the_soft_one():
    """With countHardLimit set, the soft count is ignored whether lower or higher."""
    _, c = quota_server(b"count=1,bytes=-1=;countHardLimit=3")
    assert [c.create("/app/n%d" % i)[0] for i in range(3)] == [0, 0, Err.QUOTAEXCEEDED]
    _, c = quota_server(b"count=10,bytes=-1=;countHardLimit=2")
    assert [c.create("/app/n%d" % i)[0] for i in range(2)] == [0, Err.QUOTAEXCEEDED]


def test_soft_limits_never_refuse_and_log_each_new_overrun(caplog):
    """Soft limits (the pre-3.7 'count=..,bytes=..' format) only log; each distinct message at once."""
    caplog.set_level(logging.WARNING, logger=QUOTA_LOGGER)
    _, c = quota_server(b"count=2,bytes=4")
    assert [c.create("/app/n%d" % i, b"abc")[0] for i in range(3)] == [0, 0, 0]
    assert stats(c) == b"count=4,bytes=9"
    assert quota_lines(caplog) == [
        "Message:Quota exceeded: /app [current count=3, softCountLimit=2] Value:null",
        "Message:Quota exceeded: /app [current bytes=6, softByteLimit=4] Value:null",
        "Message:Quota exceeded: /app [current count=4, softCountLimit=2] Value:null",
        "Message:Quota exceeded: /app [current bytes=9, softByteLimit=4] Value:null",
    ]


def test_hard_limit_log_line_is_zookeepers(caplog):
    """The line real ZooKeeper 3.8 logs for a refused create (its RateLogger's first occurrence)."""
    caplog.set_level(logging.WARNING, logger=QUOTA_LOGGER)
    _, c = quota_server(b"count=2,bytes=-1=;countHardLimit=3", root="/a")
    assert [c.create("/a/n%d" % i, b"xx")[0] for i in range(3)] == [0, 0, Err.QUOTAEXCEEDED]
    assert quota_lines(caplog) == ["Message:Quota exceeded: /a [current count=4, hardCountLimit=3] Value:null"]


def test_without_enforcement_nothing_is_refused_or_logged(caplog):
    """enforceQuota off (the default): hard limits are only accounted; 3.7+ logs nothing either."""
    caplog.set_level(logging.DEBUG, logger=QUOTA_LOGGER)
    server, c = quota_server(b"count=1,bytes=1=;byteHardLimit=1;countHardLimit=1", enforce=False)
    assert server.prep.quota is None
    assert [c.create("/app/n%d" % i, b"abc")[0] for i in range(3)] == [0, 0, 0]
    assert c.set_data("/app/n0", b"abcdef")[0] == 0
    assert stats(c) == b"count=4,bytes=12"
    assert quota_lines(caplog) == []


def test_multi_fails_at_the_op_over_the_limit_and_applies_nothing():
    """In a multi the op over a hard limit gets QUOTAEXCEEDED, earlier ops OK, later RUNTIMEINCONSISTENCY."""
    _, c = quota_server(b"count=-1,bytes=-1=;byteHardLimit=8;countHardLimit=3")
    c.create("/app/a", b"1234")
    c.create("/app/b", b"1")
    r, results = c.multi([
        (OpCode.SET_DATA, records.SetDataRequest("/app/a", b"1", -1)),
        (OpCode.CREATE, records.CreateRequest("/app/c", b"", OPEN, 0)),
        (OpCode.DELETE, records.DeleteRequest("/app/b", -1)),
    ])
    assert r.err == 0
    assert [(t, rec.err) for t, rec in results] == [
        (OpCode.ERROR, 0), (OpCode.ERROR, Err.QUOTAEXCEEDED), (OpCode.ERROR, Err.RUNTIMEINCONSISTENCY)]
    assert c.get_data("/app/a")[1].data == b"1234"
    assert c.exists("/app/b")[0] == 0
    assert stats(c) == b"count=3,bytes=5"


def test_ops_of_one_multi_do_not_count_against_each_other():
    """The check reads the applied stats (ZooKeeperServer.checkQuota reads the DataTree), so two creates
    in one multi that each fit alone both pass, and the quota ends over its hard limit."""
    _, c = quota_server(b"count=-1,bytes=-1=;countHardLimit=2")
    r, results = c.multi([
        (OpCode.CREATE, records.CreateRequest("/app/a", b"", OPEN, 0)),
        (OpCode.CREATE, records.CreateRequest("/app/b", b"", OPEN, 0)),
    ])
    assert r.err == 0
    assert [t for t, _ in results] == [OpCode.CREATE, OpCode.CREATE]
    assert stats(c) == b"count=3,bytes=0"


def test_pipelined_writes_are_checked_against_the_applied_tree():
    """Prep does not count in-flight writes: two creates prepared before either applies both pass."""
    server, c = quota_server(b"count=-1,bytes=-1=;countHardLimit=2")
    prep = server.prep
    body = records.CreateRequest("/app/a", b"", OPEN, 0).to_bytes()
    first = prep.prepare(OpCode.CREATE, c.session_id, 100, body, c.conn.auth, 0)
    second = prep.prepare(OpCode.CREATE, c.session_id, 101,
                          records.CreateRequest("/app/b", b"", OPEN, 0).to_bytes(), c.conn.auth, 0)
    assert first.error is None and second.error is None
    # once they are applied, the next one is refused
    server.tree.apply(first.hdr, first.txn)
    server.tree.apply(second.hdr, second.txn)
    prep.applied(second.hdr.zxid)
    third = prep.prepare(OpCode.CREATE, c.session_id, 102,
                         records.CreateRequest("/app/c", b"", OPEN, 0).to_bytes(), c.conn.auth, 0)
    assert third.error is not None and third.error.code == Err.QUOTAEXCEEDED
    assert third.hdr.type == OpCode.ERROR


def test_set_data_difference_uses_the_in_flight_data():
    """setData's byte difference is taken from the node as in-flight writes leave it (the change record)."""
    server, c = quota_server(b"count=-1,bytes=-1=;byteHardLimit=10")
    c.create("/app/a", b"12345")  # usage 5
    prep = server.prep
    grow = prep.prepare(OpCode.SET_DATA, c.session_id, 100,
                        records.SetDataRequest("/app/a", b"123456789", -1).to_bytes(), c.conn.auth, 0)
    assert grow.error is None  # 5 + 4 = 9
    again = prep.prepare(OpCode.SET_DATA, c.session_id, 101,
                         records.SetDataRequest("/app/a", b"1234567890", -1).to_bytes(), c.conn.auth, 0)
    # difference 10 - 9 = 1 against applied usage 5: passes, although applied it makes 10
    assert again.error is None
    over = prep.prepare(OpCode.SET_DATA, c.session_id, 102,
                        records.SetDataRequest("/app/a", b"x" * 16, -1).to_bytes(), c.conn.auth, 0)
    assert over.error is not None and over.error.code == Err.QUOTAEXCEEDED  # 5 + 6 > 10


def test_nested_quotas_only_the_deepest_counts():
    """A path under two quotas is checked and counted against the deepest one only."""
    _, c = quota_server(b"count=-1,bytes=-1=;countHardLimit=3")
    c.create("/app/sub")
    c.create("/zookeeper/quota/app/sub", None)
    c.create("/zookeeper/quota/app/sub/zookeeper_limits", b"count=-1,bytes=-1=;countHardLimit=2")
    c.create("/zookeeper/quota/app/sub/zookeeper_stats", b"count=0,bytes=0")
    assert stats(c) == b"count=2,bytes=0"
    assert stats(c, "/app/sub") == b"count=1,bytes=0"
    assert c.create("/app/sub/x")[0] == 0
    assert c.create("/app/sub/y")[0] == Err.QUOTAEXCEEDED
    assert c.create("/app/a")[0] == 0
    assert c.create("/app/b")[0] == Err.QUOTAEXCEEDED
    # delquota of the inner quota: its subtree falls back to the outer quota's limit
    assert c.delete("/zookeeper/quota/app/sub/zookeeper_limits")[0] == 0
    assert c.create("/app/sub/y")[0] == Err.QUOTAEXCEEDED
    assert stats(c) == b"count=3,bytes=0"


def test_malformed_limits_fail_the_write_with_marshalling_error(caplog):
    """A limits node StatsTrack cannot parse: the create or the whole multi is MARSHALLINGERROR, nothing applied."""
    caplog.set_level(logging.ERROR)
    server, c = quota_server(b"count=5,bytes")
    zxid_before = server.tree.last_processed_zxid
    xid = c.request(OpCode.CREATE, records.CreateRequest("/app/a", b"x", OPEN, 0))
    r = c.reply(xid)
    assert r.err == Err.MARSHALLINGERROR and r.zxid == zxid_before + 1
    xid = c.request(OpCode.MULTI, messages.encode_multi([
        (OpCode.CREATE, records.CreateRequest("/ok", b"", OPEN, 0)),
        (OpCode.CREATE, records.CreateRequest("/app/b", b"x", OPEN, 0)),
    ]))
    r = c.reply(xid)
    assert r.err == Err.MARSHALLINGERROR and r.zxid == zxid_before + 2
    assert c.exists("/ok")[0] == Err.NONODE
    assert c.exists("/app/b")[0] == Err.NONODE
    assert any("Failed to process" in rec.getMessage() for rec in caplog.records)
    # a write outside the quota is not affected
    assert c.create("/ok")[0] == 0
    # an empty limits node has no limits at all
    assert c.set_data("/zookeeper/quota/app/zookeeper_limits", b"")[0] == 0
    assert c.create("/app/a", b"x")[0] == 0


def test_stats_node_is_read_only_when_a_limit_applies_to_the_write():
    """checkQuota parses zookeeper_stats only when the write changes a limited quantity."""
    server, c = quota_server(b"count=-1,bytes=3")
    server.tree.nodes["/zookeeper/quota/app/zookeeper_stats"].data = b"garbage"
    # bytes are limited and the create adds one: the stats are parsed and are not a StatsTrack
    assert c.create("/app/b", b"x")[0] == Err.MARSHALLINGERROR
    # count is unlimited and null data adds no bytes: nothing to check, the stats are not read
    assert c.create("/app/a", None)[0] == 0


# --- the rate logger ---------------------------------------------------------------------------


def test_rate_logger_counts_repeats_within_the_interval(caplog):
    """RateLogger: first occurrence at once; repeats counted and summarised once 100 ms have passed
    or another message arrives."""
    caplog.set_level(logging.WARNING, logger="t.rate")
    rl = RateLogger(logging.getLogger("t.rate"))
    rl.rate_limit_log("A", 1000)
    rl.rate_limit_log("A", 1010)
    rl.rate_limit_log("A", 1050)
    rl.rate_limit_log("A", 1100)  # 100 ms after the first: flush "[3 times]", restart the window
    rl.rate_limit_log("A", 1150)
    rl.rate_limit_log("B", 1160)  # another message: flush the pending one ("Message: A", once)
    rl.rate_limit_log("B", 1300)  # 140 ms later, one repeat: "Message: B" without a count
    lines = [r.getMessage() for r in caplog.records if r.name == "t.rate"]
    assert lines == [
        "Message:A Value:null",
        "[3 times] Message: A",
        "Message: A",
        "Message:B Value:null",
        "Message: B",
    ]


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["enforceQuota", "zookeeper.enforceQuota"])
def test_zoo_cfg_enforce_quota(key):
    """zoo.cfg enforceQuota=true (ZooKeeper turns it into the zookeeper.enforceQuota property) turns
    enforcement on; off by default."""
    assert config_from_properties(parse_properties("%s=true\n" % key)).enforce_quota is True
    assert config_from_properties(parse_properties("%s=false\n" % key)).enforce_quota is False
    assert config_from_properties(parse_properties("tickTime=2000\n")).enforce_quota is False


def test_enforcement_survives_a_restore():
    """A server restored from a snapshot (a new Prep) keeps enforcing."""
    server, _clock = make_server(enforce_quota=True)
    server.restore(server.tree, {})
    assert server.prep.quota is not None
