"""Quotas: the stats ZooKeeper keeps under /zookeeper/quota, and enforcement of hard limits.

Limits are set the way zkCli's setquota sets them: the path's components under
/zookeeper/quota created with null data, then ``zookeeper_limits`` (a StatsTrack:
``count=..,bytes=..`` and, since 3.7, ``;countHardLimit=..;byteHardLimit=..``) and
``zookeeper_stats`` (``count=0,bytes=0``, which the server recounts at once).

Scenarios named ``quota.enforced.*`` run on a server pair started with
``enforceQuota=true`` (ZooKeeper reads it as the ``zookeeper.enforceQuota`` system
property; an unknown zoo.cfg key becomes exactly that).  The others run on the
default pair, where quotas are only accounted.  The harness deletes the scenario's
quota nodes with its root.
"""

from __future__ import annotations

from ..client import MultiOp as M
from . import scenario

ENFORCED = {"enforceQuota": "true"}
QUOTA_ROOT = "/zookeeper/quota"


def set_quota(c, path: str, limits: bytes) -> None:
    """zkCli setquota's writes: the quota path's components, then the limits and stats nodes."""
    q = QUOTA_ROOT
    for part in path.strip("/").split("/"):
        q += "/" + part
        c.create(q, None)
    c.create(q + "/zookeeper_limits", limits)
    c.create(q + "/zookeeper_stats", b"count=0,bytes=0")


def stats(c, path: str) -> None:
    c.get_data(QUOTA_ROOT + path + "/zookeeper_stats")


@scenario("quota.unenforced.soft_and_hard_exceeded")
def _(t):
    """Without enforceQuota, writes past soft and hard limits all succeed; the stats count them."""
    c = t.session()
    set_quota(c, t.root, b"count=2,bytes=4=;byteHardLimit=6;countHardLimit=3")
    stats(c, t.root)
    for i in range(4):
        c.create(t.path("n%d" % i), b"abc")
    c.set_data(t.path("n0"), b"0123456789")
    stats(c, t.root)
    c.delete(t.path("n3"))
    stats(c, t.root)


@scenario("quota.unenforced.stats_recounted_on_create")
def _(t):
    """Creating zookeeper_stats recounts the existing subtree, whatever data the create carried."""
    c = t.session()
    c.create(t.path("a"), b"12345")
    c.create(t.path("a", "b"), b"67")
    c.create(t.path("a", "b", "c"), None)
    q = QUOTA_ROOT + t.path("a")
    c.create(QUOTA_ROOT + t.root, None)
    c.create(q, None)
    c.create(q + "/zookeeper_limits", b"count=10,bytes=100")
    c.create(q + "/zookeeper_stats", b"count=99,bytes=99")
    c.get_data(q + "/zookeeper_stats")
    c.get_children(q)


@scenario("quota.enforced.count_hard_limit", settings=ENFORCED)
def _(t):
    """countHardLimit (the quota root counts as one node): the create past it is QUOTAEXCEEDED, no txn applied."""
    c = t.session()
    set_quota(c, t.root, b"count=-1,bytes=-1=;countHardLimit=3")
    c.create(t.path("a"), b"x")
    c.create(t.path("b"), b"x")
    c.create(t.path("c"), b"x")
    c.create(t.path("d"), b"x", flags=1)  # sequential: refused before a name is used
    c.exists(t.path("c"))
    c.get_children2(t.root)
    stats(c, t.root)
    c.delete(t.path("b"))
    c.create(t.path("c"), b"x")
    c.create(t.path("d"), b"x")
    stats(c, t.root)


@scenario("quota.enforced.bytes_hard_limit", settings=ENFORCED)
def _(t):
    """byteHardLimit on create and setData: growth past it refused, same-size and shrinking writes allowed."""
    c = t.session()
    set_quota(c, t.root, b"count=-1,bytes=-1=;byteHardLimit=10")
    c.create(t.path("a"), b"123456")
    c.create(t.path("b"), b"12345")  # 11 > 10
    c.create(t.path("b"), b"1234")  # 10
    c.create(t.path("e"), None)  # no bytes: no byte check
    c.set_data(t.path("a"), b"1234567")  # +1
    c.set_data(t.path("a"), b"abcdef")  # same size
    c.set_data(t.path("a"), b"abc")  # shrinks
    c.set_data(t.path("b"), b"1234567")  # 3 + 7 = 10
    stats(c, t.root)
    c.get_data(t.path("a"))


@scenario("quota.enforced.soft_limits_only_warn", settings=ENFORCED)
def _(t):
    """Soft limits (zkCli setquota -n/-b, the pre-3.7 format) never refuse a write, even with enforceQuota."""
    c = t.session()
    set_quota(c, t.root, b"count=1,bytes=1")
    for i in range(3):
        c.create(t.path("n%d" % i), b"data")
    c.set_data(t.path("n0"), b"more data")
    stats(c, t.root)


@scenario("quota.enforced.hard_limit_replaces_soft", settings=ENFORCED)
def _(t):
    """A hard limit, when set, is the one checked: a lower soft limit is ignored, a higher one too."""
    c = t.session()
    c.create(t.path("lo"))
    c.create(t.path("hi"))
    set_quota(c, t.path("lo"), b"count=1,bytes=-1=;countHardLimit=3")
    set_quota(c, t.path("hi"), b"count=10,bytes=2=;byteHardLimit=4;countHardLimit=2")
    for i in range(3):
        c.create(t.path("lo", "n%d" % i))
        c.create(t.path("hi", "n%d" % i), b"ab")
    stats(c, t.path("lo"))
    stats(c, t.path("hi"))


@scenario("quota.enforced.multi_exceeds", settings=ENFORCED)
def _(t):
    """In a multi each op is checked against the applied stats: the op that goes over fails the multi
    with QUOTAEXCEEDED at its index; ops of the same multi do not count against each other."""
    c = t.session()
    set_quota(c, t.root, b"count=-1,bytes=-1=;byteHardLimit=8;countHardLimit=3")
    c.create(t.path("a"), b"1234")
    # each create alone fits (count 2 -> 3, bytes 4 -> 7): the whole multi succeeds past both limits
    c.multi([M.create(t.path("b"), b"123"), M.create(t.path("c"), b"123")])
    stats(c, t.root)
    # now count is 4: the create fails, the setData before it is rolled back
    c.multi([M.set_data(t.path("a"), b"1"), M.create(t.path("d")), M.delete(t.path("b"))])
    # a setData over the byte limit, after a check that passes
    c.multi([M.check(t.path("a"), 0), M.set_data(t.path("c"), b"123456789")])
    # a delete and a setData that brings the bytes back to the limit pass
    c.multi([M.delete(t.path("b")), M.set_data(t.path("a"), b"12")])
    c.get_children2(t.root)
    stats(c, t.root)


@scenario("quota.enforced.nested_quotas", settings=ENFORCED)
def _(t):
    """Only the deepest quota above a path is checked and counted; its nodes are not in the outer quota."""
    c = t.session()
    c.create(t.path("sub"))
    set_quota(c, t.root, b"count=-1,bytes=-1=;countHardLimit=3")
    set_quota(c, t.path("sub"), b"count=-1,bytes=-1=;countHardLimit=2")
    stats(c, t.root)
    stats(c, t.path("sub"))
    c.create(t.path("sub", "x"))
    c.create(t.path("sub", "y"))
    c.create(t.path("a"))
    c.create(t.path("b"))
    stats(c, t.root)
    stats(c, t.path("sub"))
    # delquota of the inner quota (its limits node): sub's nodes stay out of the outer stats
    c.delete(QUOTA_ROOT + t.path("sub") + "/zookeeper_limits")
    c.create(t.path("sub", "y"))
    stats(c, t.root)


@scenario("quota.enforced.over_limit_after_lowering", settings=ENFORCED)
def _(t):
    """Limits lowered below the current usage: a shrinking setData is still refused, deletes are not."""
    c = t.session()
    set_quota(c, t.root, b"count=-1,bytes=-1")
    c.create(t.path("a"), b"0123456789")
    c.create(t.path("b"), b"0123456789")
    c.set_data(QUOTA_ROOT + t.root + "/zookeeper_limits", b"count=-1,bytes=-1=;byteHardLimit=5;countHardLimit=1")
    c.set_data(t.path("a"), b"012345678")
    c.set_data(t.path("a"), b"0123456789")
    c.delete(t.path("b"))
    c.create(t.path("c"))
    stats(c, t.root)


@scenario("quota.enforced.malformed_limits", settings=ENFORCED)
def _(t):
    """A zookeeper_limits node that is not a StatsTrack: writes checked against it fail (MARSHALLINGERROR)."""
    c = t.session()
    c.create(t.path("q"))
    set_quota(c, t.path("q"), b"count=5,bytes")
    c.create(t.path("q", "a"), b"x")
    c.multi([M.create(t.path("ok")), M.create(t.path("q", "b"), b"x")])
    c.set_data(QUOTA_ROOT + t.path("q") + "/zookeeper_limits", b"count=abc")
    c.set_data(t.path("q"), b"x")
    c.set_data(QUOTA_ROOT + t.path("q") + "/zookeeper_limits", b"")
    c.create(t.path("q", "c"), b"x")
    c.get_children2(t.root)
    stats(c, t.path("q"))
