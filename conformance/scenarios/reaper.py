"""Containers and TTL nodes removed by the server's reaper (ContainerManager, every checkIntervalMs = 200 ms here).

The reaper acts on its own clock, so each scenario waits for the removal it
expects (a watch notification, bounded) before doing anything else that could
see a zxid, and leaves nothing the reaper could act on after it ends.  "Not
removed" is a bounded quiet wait of several check intervals.
"""

from __future__ import annotations

from protocol.codes import CreateMode, OpCode

from ..client import MultiOp as M
from ..servers import CONTAINER_CHECK_INTERVAL_MS
from . import scenario

REAP_WAIT_S = 10 * CONTAINER_CHECK_INTERVAL_MS / 1000 + 2
QUIET_S = 4 * CONTAINER_CHECK_INTERVAL_MS / 1000
PERSISTENT = 0


@scenario("reaper.container.removed_after_last_child")
def _(t):
    """A container whose last child is deleted is removed by the reaper; the parent's stat shows the delete."""
    c, w = t.session(), t.session()
    c.create_container(t.path("c"))
    c.create(t.path("c", "x"))
    w.exists(t.path("c"), watch=True)
    c.delete(t.path("c", "x"))
    w.wait_notification(REAP_WAIT_S)
    c.exists(t.path("c"))
    c.get_children2(t.root)


@scenario("reaper.container.never_used_stays")
def _(t):
    """A container that never had a child is not removed."""
    c, w = t.session(), t.session()
    c.create_container(t.path("c"))
    w.exists(t.path("c"), watch=True)
    w.drain_quiet(QUIET_S)
    c.exists(t.path("c"))


@scenario("reaper.container.with_child_stays_then_goes")
def _(t):
    """A container with a child stays; once the child is gone it is removed."""
    c, w = t.session(), t.session()
    c.create_container(t.path("c"))
    c.create(t.path("c", "x"))
    c.create(t.path("c", "y"))
    c.delete(t.path("c", "x"))
    w.exists(t.path("c"), watch=True)
    w.drain_quiet(QUIET_S)
    c.delete(t.path("c", "y"))
    w.wait_notification(REAP_WAIT_S)
    c.get_children(t.root)


@scenario("reaper.container.ephemeral_child_session_close")
def _(t):
    """A container emptied by its only (ephemeral) child's session closing is removed."""
    c, e, w = t.session(), t.session(), t.session()
    c.create_container(t.path("c"))
    e.create(t.path("c", "lock"), flags=CreateMode.EPHEMERAL)
    w.exists(t.path("c"), watch=True)
    e.close_session()
    e.wait_close()
    w.wait_notification(REAP_WAIT_S)
    c.exists(t.path("c"))


@scenario("reaper.container.flag_on_plain_create_is_not_container")
def _(t):
    """create (op 1) with flags=4 makes a plain persistent node: emptied, it is not removed."""
    c, w = t.session(), t.session()
    c.create(t.path("c"), flags=CreateMode.CONTAINER)
    c.create(t.path("c", "x"))
    c.delete(t.path("c", "x"))
    w.exists(t.path("c"), watch=True)
    w.drain_quiet(QUIET_S)
    c.exists(t.path("c"))


@scenario("reaper.container.create_container_op_ignores_flags")
def _(t):
    """createContainer (op 19) with flags=0 still makes a container, which the reaper removes."""
    c, w = t.session(), t.session()
    c.create_container(t.path("c"), flags=0)
    c.create(t.path("c", "x"))
    w.exists(t.path("c"), watch=True)
    c.delete(t.path("c", "x"))
    w.wait_notification(REAP_WAIT_S)
    c.exists(t.path("c"))


@scenario("reaper.container.two_at_once")
def _(t):
    """Two containers emptied by one multi are both removed (the order of removals is the reaper's)."""
    c, w = t.session(), t.session()
    for n in ("c1", "c2"):
        c.create_container(t.path(n))
        c.create(t.path(n, "x"))
    w.add_watch(t.root, 1)
    c.multi([M.delete(t.path("c1", "x")), M.delete(t.path("c2", "x"))])
    for _ in range(4):
        w.wait_notification(REAP_WAIT_S)
    c.get_children2(t.root)


@scenario("reaper.container.nested")
def _(t):
    """Nested containers: removing the inner one empties the outer one, which is removed next."""
    c, w = t.session(), t.session()
    c.create_container(t.path("outer"))
    c.create_container(t.path("outer", "inner"))
    c.create(t.path("outer", "inner", "x"))
    w.add_watch(t.path("outer"), 1)
    c.delete(t.path("outer", "inner", "x"))
    for _ in range(3):
        w.wait_notification(REAP_WAIT_S)
    c.get_children(t.root)


@scenario("reaper.ttl.expired_removed")
def _(t):
    """A TTL node (ttl 1 ms) without children is removed by the reaper."""
    c, w = t.session(), t.session()
    w.add_watch(t.path("t"), PERSISTENT)
    c.create_ttl(t.path("t"), b"d", ttl=1)
    w.wait_notification(REAP_WAIT_S)  # NodeCreated
    w.wait_notification(REAP_WAIT_S)  # NodeDeleted by the reaper
    c.exists(t.path("t"))
    c.get_children2(t.root)


@scenario("reaper.ttl.sequential_expired_removed")
def _(t):
    """A sequential TTL node (flags 6, ttl 1 ms) is removed by the reaper."""
    c, w = t.session(), t.session()
    w.add_watch(t.root, 1)
    c.create_ttl(t.path("t-"), b"", flags=CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, ttl=1)
    w.wait_notification(REAP_WAIT_S)
    w.wait_notification(REAP_WAIT_S)
    c.get_children(t.root)


@scenario("reaper.ttl.long_ttl_stays")
def _(t):
    """A TTL node with a 1-hour ttl is not removed; its stat shows the TTL owner encoding."""
    c, w = t.session(), t.session()
    c.create_ttl(t.path("t"), b"", ttl=3_600_000)
    w.exists(t.path("t"), watch=True)
    w.drain_quiet(QUIET_S)
    c.exists(t.path("t"))


@scenario("reaper.ttl.with_child_stays_then_goes")
def _(t):
    """An expired TTL node with a child stays; once the child is deleted it is removed."""
    c, w = t.session(), t.session()
    c.multi([M.create_ttl(t.path("t"), ttl=1), M.create(t.path("t", "k"))])
    w.exists(t.path("t"), watch=True)
    w.drain_quiet(QUIET_S)
    c.delete(t.path("t", "k"))
    w.wait_notification(REAP_WAIT_S)
    c.exists(t.path("t"))


@scenario("reaper.ttl.in_multi_with_create")
def _(t):
    """createTTL inside a multi: the result record and the reaper's removal."""
    c, w = t.session(), t.session()
    w.add_watch(t.path("t"), PERSISTENT)
    c.multi([M.create(t.path("p")), M.create_ttl(t.path("t"), ttl=1)])
    w.wait_notification(REAP_WAIT_S)
    w.wait_notification(REAP_WAIT_S)
    c.get_children(t.root)


@scenario("reaper.delete_container_op_from_client")
def _(t):
    """A client sending deleteContainer (20) for an empty container: what happens."""
    c = t.session()
    c.create_container(t.path("c"))
    c.ping()
    c.raw_request(OpCode.DELETE_CONTAINER, t.path("c").encode(), timeout_s=2)
    if not c.closed:
        c.exists(t.path("c"))
