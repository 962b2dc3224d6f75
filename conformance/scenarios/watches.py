"""Watches: one-shot data/exist/child watches, ordering against replies, persistent and recursive watches,
removeWatches/checkWatches, setWatches/setWatches2 after reconnect, and ACL filtering.

Every "no notification" check is a fence: the watcher sends a ping after the
write was acknowledged; any notification the server queued for it arrives before
the ping's answer, so nothing is waited for by time.
"""

from __future__ import annotations

from protocol.codes import CreateMode, OpCode, WatcherType

from ..client import OPEN_ACL, acl
from . import register, scenario
from .common import add_digest, digest_acl, zxid_of

PERSISTENT, RECURSIVE = 0, 1

# --- one-shot watches ------------------------------------------------------------------------------


@scenario("watch.exists.created")
def _(t):
    """An exists watch on a missing node fires NodeCreated when another session creates it."""
    w, c = t.session(), t.session()
    w.exists(t.path("a"), watch=True)
    c.create(t.path("a"))
    w.wait_notification()


@scenario("watch.exists.data_changed")
def _(t):
    """An exists watch on an existing node fires NodeDataChanged on setData."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.exists(t.path("a"), watch=True)
    c.set_data(t.path("a"), b"1")
    w.wait_notification()


@scenario("watch.exists.deleted")
def _(t):
    """An exists watch on an existing node fires NodeDeleted on delete."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.exists(t.path("a"), watch=True)
    c.delete(t.path("a"))
    w.wait_notification()


@scenario("watch.get_data.data_changed_and_deleted")
def _(t):
    """A getData watch fires NodeDataChanged once; a second one fires NodeDeleted."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    c.set_data(t.path("a"), b"1")
    w.wait_notification()
    w.get_data(t.path("a"), watch=True)
    c.delete(t.path("a"))
    w.wait_notification()


@scenario("watch.get_data.missing_sets_no_watch")
def _(t):
    """getData on a missing node (NONODE) leaves no watch: a later create notifies nobody."""
    w, c = t.session(), t.session()
    w.get_data(t.path("a"), watch=True)
    c.create(t.path("a"))
    w.barrier()


@scenario("watch.get_children.missing_sets_no_watch")
def _(t):
    """getChildren on a missing node (NONODE) leaves no watch."""
    w, c = t.session(), t.session()
    w.get_children(t.path("a"), watch=True)
    c.create(t.path("a"))
    c.create(t.path("a", "b"))
    w.barrier()


@scenario("watch.get_children.child_created_and_deleted")
def _(t):
    """A child watch fires NodeChildrenChanged (path = the parent) on a child create, and again on a child delete."""
    w, c = t.session(), t.session()
    c.create(t.path("p"))
    w.get_children(t.path("p"), watch=True)
    c.create(t.path("p", "x"))
    w.wait_notification()
    w.get_children2(t.path("p"), watch=True)
    c.delete(t.path("p", "x"))
    w.wait_notification()


@scenario("watch.get_children.node_deleted")
def _(t):
    """A child watch fires NodeDeleted when the watched node itself is deleted."""
    w, c = t.session(), t.session()
    c.create(t.path("p"))
    w.get_children(t.path("p"), watch=True)
    c.delete(t.path("p"))
    w.wait_notification()


@scenario("watch.get_children.ignores_data_changes")
def _(t):
    """setData on the watched node or on a child does not fire a child watch."""
    w, c = t.session(), t.session()
    c.create(t.path("p"))
    c.create(t.path("p", "x"))
    w.get_children(t.path("p"), watch=True)
    c.set_data(t.path("p"), b"1")
    c.set_data(t.path("p", "x"), b"1")
    w.barrier()


@scenario("watch.one_shot")
def _(t):
    """A data watch fires once: the second change is not notified."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    c.set_data(t.path("a"), b"1")
    c.set_data(t.path("a"), b"2")
    w.barrier()


@scenario("watch.exists_and_get_data_same_path")
def _(t):
    """exists and getData watches on one path from one session: a single notification."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.exists(t.path("a"), watch=True)
    w.get_data(t.path("a"), watch=True)
    c.set_data(t.path("a"), b"1")
    w.barrier()


@scenario("watch.data_and_child_watch_node_deleted")
def _(t):
    """A data watch and a child watch on one node, from one session: deleting the node notifies how many times."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    w.get_children(t.path("a"), watch=True)
    c.delete(t.path("a"))
    w.barrier()


@scenario("watch.create_child_order")
def _(t):
    """Creating a child watched both by an exists watch and by its parent's child watch: the order of the two events."""
    w, c = t.session(), t.session()
    w.get_children(t.root, watch=True)
    w.exists(t.path("x"), watch=True)
    c.create(t.path("x"))
    w.barrier()


@scenario("watch.delete_child_order")
def _(t):
    """Deleting a child watched by data and child watches while its parent has a child watch: the events' order."""
    w, c = t.session(), t.session()
    c.create(t.path("x"))
    w.get_children(t.root, watch=True)
    w.get_data(t.path("x"), watch=True)
    w.get_children(t.path("x"), watch=True)
    c.delete(t.path("x"))
    w.barrier()


@scenario("watch.own_write_notification_before_reply")
def _(t):
    """A session's own write that fires its own watch: the notification precedes the write's reply."""
    c = t.session()
    c.create(t.path("a"))
    c.exists(t.path("a"), watch=True)
    c.get_children(t.root, watch=True)
    c.delete(t.path("a"))


@scenario("watch.two_watchers")
def _(t):
    """Two sessions watching one node are both notified."""
    w1, w2, c = t.session(), t.session(), t.session()
    c.create(t.path("a"))
    w1.exists(t.path("a"), watch=True)
    w2.get_data(t.path("a"), watch=True)
    c.set_data(t.path("a"), b"1")
    w1.wait_notification()
    w2.wait_notification()


@scenario("watch.set_acl_no_event")
def _(t):
    """setACL fires no data watch."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    c.set_acl(t.path("a"), OPEN_ACL)
    w.barrier()
    c.set_data(t.path("a"), b"1")
    w.wait_notification()


@scenario("watch.sync_and_reads_no_event")
def _(t):
    """sync, getData and failed writes fire nothing."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    c.sync(t.path("a"))
    c.get_data(t.path("a"))
    c.set_data(t.path("a"), b"x", version=9)
    c.create(t.path("a"))
    c.delete(t.path("a"), version=9)
    w.barrier()


@scenario("watch.deleted_and_recreated")
def _(t):
    """An exists watch on a node deleted and recreated fires NodeDeleted only."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.exists(t.path("a"), watch=True)
    c.delete(t.path("a"))
    c.create(t.path("a"))
    w.barrier()


@scenario("watch.same_watch_twice")
def _(t):
    """Setting the same exists watch twice gives one notification."""
    w, c = t.session(), t.session()
    w.exists(t.path("a"), watch=True)
    w.exists(t.path("a"), watch=True)
    c.create(t.path("a"))
    w.barrier()


@scenario("watch.ephemeral_deleted_on_close")
def _(t):
    """Watches on an ephemeral and on its parent fire when the owner closes its session."""
    w, c = t.session(), t.session()
    c.create(t.path("e"), flags=CreateMode.EPHEMERAL)
    w.exists(t.path("e"), watch=True)
    w.get_children(t.root, watch=True)
    c.close_session()
    c.wait_close()
    w.barrier()


@scenario("watch.many_paths_one_multi")
def _(t):
    """Watches on ten nodes deleted by one multi: the notification order."""
    from ..client import MultiOp as M

    w, c = t.session(), t.session()
    names = ["n%d" % i for i in (7, 2, 9, 0, 5, 1, 8, 3, 6, 4)]
    for n in names:
        c.create(t.path(n))
        w.exists(t.path(n), watch=True)
    c.multi([M.delete(t.path(n)) for n in sorted(names)])
    w.barrier()


@scenario("watch.closed_watcher_session")
def _(t):
    """A watcher that closed its session is not notified and the write succeeds normally."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    w.close_session()
    w.wait_close()
    c.set_data(t.path("a"), b"1")
    c.get_data(t.path("a"), watch=True)


@scenario("watch.sequential_node_exists_watch")
def _(t):
    """An exists watch on the next sequential name fires when that node is created."""
    w, c = t.session(), t.session()
    c.create(t.path("s-"), flags=CreateMode.PERSISTENT_SEQUENTIAL)
    w.exists(t.path("s-0000000001"), watch=True)
    c.create(t.path("s-"), flags=CreateMode.PERSISTENT_SEQUENTIAL)
    w.wait_notification()


# --- persistent and recursive watches (addWatch) ----------------------------------------------------


@scenario("persistent.events_and_persistence")
def _(t):
    """A PERSISTENT watch fires for data changes, child changes and deletion of the node, and survives each."""
    w, c = t.session(), t.session()
    c.create(t.path("p"))
    w.add_watch(t.path("p"), PERSISTENT)
    c.set_data(t.path("p"), b"1")
    c.create(t.path("p", "x"))
    c.set_data(t.path("p", "x"), b"1")  # a child's data: not for a non-recursive watch
    c.delete(t.path("p", "x"))
    c.set_data(t.path("p"), b"2")
    c.delete(t.path("p"))
    c.create(t.path("p"))
    w.barrier()


@scenario("persistent.on_missing_node")
def _(t):
    """A PERSISTENT watch on a missing path fires NodeCreated and keeps firing."""
    w, c = t.session(), t.session()
    w.add_watch(t.path("m"), PERSISTENT)
    c.create(t.path("m"))
    c.set_data(t.path("m"), b"1")
    w.barrier()


@scenario("persistent.recursive.descendants")
def _(t):
    """A PERSISTENT_RECURSIVE watch reports created/changed/deleted below and on the node, never child events."""
    w, c = t.session(), t.session()
    c.create(t.path("r"))
    w.add_watch(t.path("r"), RECURSIVE)
    c.create(t.path("r", "a"))
    c.create(t.path("r", "a", "b"))
    c.set_data(t.path("r", "a", "b"), b"1")
    c.set_data(t.path("r"), b"1")
    c.delete(t.path("r", "a", "b"))
    c.create(t.path("rx"))  # a sibling whose name extends "r": not a descendant
    w.barrier()


@scenario("persistent.recursive.ephemeral_and_sequential")
def _(t):
    """A recursive watch sees sequential and ephemeral children, and their removal on session close."""
    w, c = t.session(), t.session()
    w.add_watch(t.root, RECURSIVE)
    c.create(t.path("s-"), flags=CreateMode.EPHEMERAL_SEQUENTIAL)
    c.create(t.path("e"), flags=CreateMode.EPHEMERAL)
    c.close_session()
    c.wait_close()
    w.barrier()


@scenario("persistent.with_one_shot_same_path")
def _(t):
    """A persistent watch plus a one-shot data watch on the same path: how many notifications per change."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.add_watch(t.path("a"), PERSISTENT)
    w.get_data(t.path("a"), watch=True)
    c.set_data(t.path("a"), b"1")
    c.set_data(t.path("a"), b"2")
    w.barrier()


@scenario("persistent.recursive_with_persistent_same_path")
def _(t):
    """Adding a RECURSIVE watch over a PERSISTENT one on the same path (or the reverse): which mode wins."""
    w1, w2, c = t.session(), t.session(), t.session()
    c.create(t.path("a"))
    w1.add_watch(t.path("a"), PERSISTENT)
    w1.add_watch(t.path("a"), RECURSIVE)
    w2.add_watch(t.path("a"), RECURSIVE)
    w2.add_watch(t.path("a"), PERSISTENT)
    c.create(t.path("a", "k"))
    c.set_data(t.path("a"), b"1")
    w1.barrier()
    w2.barrier()


@scenario("persistent.added_twice")
def _(t):
    """The same persistent watch added twice notifies once per event."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.add_watch(t.path("a"), PERSISTENT)
    w.add_watch(t.path("a"), PERSISTENT)
    c.set_data(t.path("a"), b"1")
    w.barrier()


@scenario("persistent.recursive_nested_watches")
def _(t):
    """Recursive watches on a node and on its child: an event below both is notified once."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    c.create(t.path("a", "b"))
    w.add_watch(t.path("a"), RECURSIVE)
    w.add_watch(t.path("a", "b"), RECURSIVE)
    c.create(t.path("a", "b", "c"))
    w.barrier()


for _mode_name, _mode in [("two", 2), ("minus_one", -1), ("large", 1000)]:

    def _f(t, mode=_mode):
        w, c = t.session(), t.session()
        w.add_watch(t.path("a"), mode)
        if not w.closed:
            c.create(t.path("a"))
            w.barrier()

    register("persistent.invalid_mode.%s" % _mode_name, _f, "addWatch with mode %d." % _mode)


@scenario("persistent.own_write_order")
def _(t):
    """A session's own write under its recursive watch: notifications precede the reply."""
    c = t.session()
    c.add_watch(t.root, RECURSIVE)
    c.create(t.path("a"))
    c.set_data(t.path("a"), b"x")


# --- removeWatches / checkWatches -----------------------------------------------------------------


@scenario("remove_watches.data")
def _(t):
    """removeWatches(DATA) removes an exists watch: OK, no event afterwards, a second removal is NOWATCHER."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.exists(t.path("a"), watch=True)
    w.remove_watches(t.path("a"), WatcherType.DATA)
    c.set_data(t.path("a"), b"1")
    w.barrier()
    w.remove_watches(t.path("a"), WatcherType.DATA)


@scenario("remove_watches.children")
def _(t):
    """removeWatches(CHILDREN) removes a child watch but not a data watch on the same node."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.get_children(t.path("a"), watch=True)
    w.get_data(t.path("a"), watch=True)
    w.remove_watches(t.path("a"), WatcherType.CHILDREN)
    c.create(t.path("a", "k"))
    c.set_data(t.path("a"), b"1")
    w.barrier()


@scenario("remove_watches.any")
def _(t):
    """removeWatches(ANY) removes data and child watches together."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.get_children(t.path("a"), watch=True)
    w.get_data(t.path("a"), watch=True)
    w.remove_watches(t.path("a"), WatcherType.ANY)
    c.delete(t.path("a"))
    w.barrier()
    w.remove_watches(t.path("a"), WatcherType.ANY)


@scenario("remove_watches.wrong_type")
def _(t):
    """Removing a child watch where only a data watch exists is NOWATCHER, and the data watch stays."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    w.remove_watches(t.path("a"), WatcherType.CHILDREN)
    c.set_data(t.path("a"), b"1")
    w.barrier()


@scenario("remove_watches.exist_watch_on_missing")
def _(t):
    """An exists watch on a missing node can be removed as a DATA watch."""
    w, c = t.session(), t.session()
    w.exists(t.path("m"), watch=True)
    w.remove_watches(t.path("m"), WatcherType.DATA)
    c.create(t.path("m"))
    w.barrier()


@scenario("remove_watches.other_sessions_watch")
def _(t):
    """A session cannot remove another session's watch: NOWATCHER, and the owner is still notified."""
    w, other, c = t.session(), t.session(), t.session()
    c.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    other.remove_watches(t.path("a"), WatcherType.ANY)
    c.set_data(t.path("a"), b"1")
    w.wait_notification()


@scenario("remove_watches.persistent")
def _(t):
    """removeWatches of persistent and recursive watches with ANY, and with types 4/5 (which 3.8 does not know)."""
    w, c = t.session(), t.session()
    c.create(t.path("p"))
    c.create(t.path("r"))
    w.add_watch(t.path("p"), PERSISTENT)
    w.add_watch(t.path("r"), RECURSIVE)
    w.remove_watches(t.path("p"), WatcherType.PERSISTENT)
    w.remove_watches(t.path("r"), WatcherType.PERSISTENT_RECURSIVE)
    c.set_data(t.path("p"), b"1")
    c.set_data(t.path("r"), b"1")
    w.barrier()
    w.remove_watches(t.path("p"), WatcherType.ANY)
    w.remove_watches(t.path("r"), WatcherType.ANY)
    c.set_data(t.path("p"), b"2")
    c.set_data(t.path("r"), b"2")
    w.barrier()


@scenario("remove_watches.persistent_with_data_type")
def _(t):
    """removeWatches(DATA) / (CHILDREN) on a path that has only a persistent watch."""
    w, c = t.session(), t.session()
    c.create(t.path("p"))
    w.add_watch(t.path("p"), PERSISTENT)
    w.remove_watches(t.path("p"), WatcherType.DATA)
    w.remove_watches(t.path("p"), WatcherType.CHILDREN)
    c.set_data(t.path("p"), b"1")
    w.barrier()


@scenario("remove_watches.invalid_type")
def _(t):
    """removeWatches with type 0 and 99."""
    w = t.session()
    w.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    w.remove_watches(t.path("a"), 0, timeout_s=3)
    if not w.closed:
        w.remove_watches(t.path("a"), 99, timeout_s=3)


@scenario("remove_watches.zxid")
def _(t):
    """removeWatches consumes no zxid."""
    w = t.session()
    w.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    w.ping()
    w.remove_watches(t.path("a"), WatcherType.DATA)
    w.ping()


@scenario("check_watches.types")
def _(t):
    """checkWatches answers OK for an existing watch of that type and NOWATCHER otherwise, leaving watches in place."""
    w, c = t.session(), t.session()
    c.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    for wt in (WatcherType.DATA, WatcherType.CHILDREN, WatcherType.ANY):
        w.check_watches(t.path("a"), wt)
    w.get_children(t.path("a"), watch=True)
    w.check_watches(t.path("a"), WatcherType.CHILDREN)
    w.check_watches(t.path("missing"), WatcherType.ANY)
    c.set_data(t.path("a"), b"1")
    w.barrier()


@scenario("check_watches.persistent")
def _(t):
    """checkWatches on a path that has only a persistent (or recursive) watch, per type."""
    w = t.session()
    w.create(t.path("p"))
    w.add_watch(t.path("p"), PERSISTENT)
    w.add_watch(t.path("r"), RECURSIVE)
    for wt in (1, 2, 3, 4, 5):
        w.check_watches(t.path("p"), wt, timeout_s=3)
        if w.closed:
            return
    for wt in (1, 2, 3):
        w.check_watches(t.path("r"), wt, timeout_s=3)


@scenario("check_watches.invalid_type")
def _(t):
    """checkWatches with type 0."""
    w = t.session()
    w.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    w.check_watches(t.path("a"), 0, timeout_s=3)
    if not w.closed:
        w.ping()


# --- setWatches / setWatches2 ---------------------------------------------------------------------


def _prepare(t, c):
    """Nodes for setWatches: "same" (untouched since the mark), "changed", "gone" (deleted), "born" (created)."""
    c.create(t.path("same"))
    c.create(t.path("changed"))
    c.create(t.path("gone"))
    c.create(t.path("kids"))
    c.create(t.path("kids_same"))
    mark = zxid_of(c.ping())
    c.set_data(t.path("changed"), b"1")
    c.delete(t.path("gone"))
    c.create(t.path("born"))
    c.create(t.path("kids", "k"))
    return mark


@scenario("set_watches.data_watches")
def _(t):
    """setWatches data watches: NodeDataChanged if mzxid > relativeZxid, NodeDeleted if gone, else re-armed."""
    c = t.session()
    mark = _prepare(t, c)
    w = t.session()
    w.set_watches(mark, data=[t.path("same"), t.path("changed"), t.path("gone")])
    c.set_data(t.path("same"), b"x")
    w.barrier()


@scenario("set_watches.exist_watches")
def _(t):
    """setWatches exist watches: NodeCreated if the node exists now, else re-armed until it is created."""
    c = t.session()
    mark = _prepare(t, c)
    w = t.session()
    w.set_watches(mark, exist=[t.path("born"), t.path("never"), t.path("same")])
    c.create(t.path("never"))
    w.barrier()


@scenario("set_watches.child_watches")
def _(t):
    """setWatches child watches: NodeChildrenChanged if pzxid > relativeZxid, NodeDeleted if gone, else re-armed."""
    c = t.session()
    mark = _prepare(t, c)
    w = t.session()
    w.set_watches(mark, child=[t.path("kids"), t.path("gone"), t.path("kids_same")])
    c.create(t.path("kids_same", "x"))
    w.barrier()


@scenario("set_watches.relative_zero")
def _(t):
    """setWatches with relativeZxid 0: every existing watched node counts as changed."""
    c = t.session()
    _prepare(t, c)
    w = t.session()
    w.set_watches(0, data=[t.path("same")], exist=[t.path("born"), t.path("never")], child=[t.path("kids_same")])
    w.barrier()


@scenario("set_watches.relative_in_future")
def _(t):
    """setWatches with a relativeZxid beyond the server's: nothing fires, watches are armed."""
    c = t.session()
    _prepare(t, c)
    w = t.session()
    w.set_watches(1 << 50, data=[t.path("changed")], child=[t.path("kids")])
    c.set_data(t.path("changed"), b"again")
    w.barrier()


@scenario("set_watches.all_kinds_order")
def _(t):
    """setWatches triggering several events at once: their order relative to each other and to the reply."""
    c = t.session()
    mark = _prepare(t, c)
    w = t.session()
    w.set_watches(
        mark, data=[t.path("changed"), t.path("gone")], exist=[t.path("born")], child=[t.path("kids"), t.path("gone")]
    )
    w.barrier()


@scenario("set_watches.after_reconnect")
def _(t):
    """The client flow: watch, lose the connection, miss a change, resume the session, setWatches with the last zxid."""
    c1 = t.session()
    c1.create(t.path("a"))
    c1.get_data(t.path("a"), watch=True)
    last = zxid_of(c1.ping())
    c1.close_socket()
    other = t.session()
    other.set_data(t.path("a"), b"missed")
    c2 = t.reconnect(c1, last_zxid_seen=last)
    c2.set_watches(last, data=[t.path("a")])
    c2.barrier()


@scenario("set_watches.normal_xid")
def _(t):
    """setWatches sent with an ordinary xid (7): the reply's xid."""
    c = t.session()
    c.create(t.path("a"))
    mark = zxid_of(c.ping())
    c.set_watches(mark, data=[t.path("a")], xid=7)
    c.set_data(t.path("a"), b"1")


@scenario("set_watches.empty")
def _(t):
    """setWatches with empty lists is answered OK and consumes no zxid."""
    c = t.session()
    c.ping()
    c.set_watches(0)
    c.ping()


@scenario("set_watches.no_read_perm")
def _(t):
    """setWatches on a node without READ permission."""
    c = t.session()
    c.create(t.path("a"), b"", [acl(2, "world", "anyone")])
    mark = zxid_of(c.ping())
    c.set_data(t.path("a"), b"1")
    w = t.session()
    w.set_watches(mark, data=[t.path("a")])
    w.barrier()


@scenario("set_watches2.persistent")
def _(t):
    """setWatches2 re-arms persistent and recursive watches without immediate events; later changes fire them."""
    c = t.session()
    mark = _prepare(t, c)
    w = t.session()
    w.set_watches2(mark, data=[t.path("changed")], persistent=[t.path("same")], recursive=[t.path("kids")])
    c.set_data(t.path("same"), b"p")
    c.set_data(t.path("same"), b"q")
    c.create(t.path("kids", "k2"))
    w.barrier()


@scenario("set_watches2.on_plain_set_watches_opcode")
def _(t):
    """A SetWatches2 body sent with the setWatches opcode (101): how the trailing lists are treated."""
    from protocol import records as r

    c = t.session()
    mark = _prepare(t, c)
    w = t.session()
    body = r.SetWatches2(mark, [t.path("changed")], [], [], [t.path("same")], []).to_bytes()
    w.call(OpCode.SET_WATCHES, body=body, xid=-8)
    c.set_data(t.path("same"), b"p")
    w.barrier()


@scenario("set_watches2.missing_paths")
def _(t):
    """setWatches2 persistent watches on missing paths fire NodeCreated when created."""
    c = t.session()
    w = t.session()
    w.set_watches2(0, persistent=[t.path("later")], recursive=[t.path("tree")])
    c.create(t.path("later"))
    c.create(t.path("tree"))
    c.create(t.path("tree", "leaf"))
    w.barrier()


# --- ACL filtering of events (ZOOKEEPER-4799 / CVE-2024-23944) ----------------------------------------
# The reference, Debian's 3.8.0-11+deb12u2, carries the CVE-2024-23944 backport: a watch event is
# delivered only if the watcher may READ the node at trigger time, as in 3.8.4 and later.


@scenario("watch.acl_filtered.data_changed")
def _(t):
    """A watcher that lost READ on a node gets no NodeDataChanged (events are filtered by the READ ACL)."""
    owner, w = t.session(), t.session()
    add_digest(owner, "owner", "pw")
    owner.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    owner.set_acl(t.path("a"), [digest_acl(31, "owner", "pw")])
    owner.set_data(t.path("a"), b"secret")
    w.barrier()


@scenario("watch.acl_filtered.persistent_on_unreadable")
def _(t):
    """A persistent watch on a node the watcher cannot read delivers nothing; readable children are still notified."""
    owner, w = t.session(), t.session()
    add_digest(owner, "owner", "pw")
    owner.create(t.path("a"), b"", [digest_acl(31, "owner", "pw")])
    w.add_watch(t.path("a"), PERSISTENT)
    owner.set_data(t.path("a"), b"1")
    owner.create(t.path("a", "k"), b"", OPEN_ACL)
    w.add_watch(t.path("a", "k"), PERSISTENT)
    owner.set_data(t.path("a", "k"), b"2")
    w.barrier()


@scenario("watch.acl_filtered.recursive_mixed_children")
def _(t):
    """A recursive watch over readable and unreadable children: only events on readable nodes arrive."""
    owner, w = t.session(), t.session()
    add_digest(owner, "owner", "pw")
    owner.create(t.path("r"))
    w.add_watch(t.path("r"), RECURSIVE)
    owner.create(t.path("r", "secret"), b"", [digest_acl(31, "owner", "pw")])
    owner.create(t.path("r", "public"), b"", OPEN_ACL)
    owner.set_data(t.path("r", "secret"), b"1")
    owner.set_data(t.path("r", "public"), b"1")
    owner.delete(t.path("r", "secret"))
    w.barrier()
