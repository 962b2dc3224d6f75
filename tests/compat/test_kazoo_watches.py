"""kazoo one-shot watches (get/exists/get_children watch=) and the DataWatch/ChildrenWatch helpers.

``zk.raw_events`` is every notification the server sent to that client, as it came
off the wire; ``flush_events`` makes sure every notification caused so far has
arrived (see compat_helpers), so "exactly these notifications" is asserted, not
merely "at least these".
"""

from __future__ import annotations

import pytest
from compat_helpers import WAIT, flush_events, unchrooted
from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import EventType, KazooState, WatchedEvent
from kazoo.security import READ_ACL_UNSAFE


def _raw(zk, kind, path):
    return (kind, unchrooted(zk, path))


def test_get_watch_fires_node_data_changed_once(zk, zk_factory, events):
    """A get() watch fires one NodeDataChanged on the next set, and nothing on later sets."""
    other = zk_factory()
    zk.create("/a", b"0")
    seen = events()
    zk.get("/a", watch=seen)
    other.set("/a", b"1")
    (event,) = seen.wait(1)
    assert event == WatchedEvent(EventType.CHANGED, "CONNECTED", "/a")
    other.set("/a", b"2")
    other.set("/a", b"3")
    assert flush_events(zk) == [_raw(zk, "NodeDataChanged", "/a")]
    assert len(seen) == 1


def test_exists_watch_on_missing_node_fires_node_created(zk, zk_factory, events):
    """An exists() watch on a missing node fires NodeCreated when it is created, once."""
    other = zk_factory()
    seen = events()
    assert zk.exists("/later", watch=seen) is None
    other.create("/later", b"x")
    (event,) = seen.wait(1)
    assert (event.type, event.path) == (EventType.CREATED, "/later")
    other.set("/later", b"y")
    other.delete("/later")
    assert flush_events(zk) == [_raw(zk, "NodeCreated", "/later")]


def test_exists_watch_on_existing_node_fires_data_changed_then_nothing(zk, zk_factory, events):
    """An exists() watch on an existing node is a data watch: NodeDataChanged on set."""
    other = zk_factory()
    zk.create("/e", b"")
    seen = events()
    assert zk.exists("/e", watch=seen) is not None
    other.set("/e", b"changed")
    (event,) = seen.wait(1)
    assert (event.type, event.path) == (EventType.CHANGED, "/e")
    other.delete("/e")
    assert flush_events(zk) == [_raw(zk, "NodeDataChanged", "/e")]


def test_data_watch_fires_node_deleted(zk, zk_factory, events):
    """get() and exists() watches fire NodeDeleted when the node is deleted."""
    other = zk_factory()
    zk.create("/g")
    zk.create("/x")
    on_get, on_exists = events(), events()
    zk.get("/g", watch=on_get)
    zk.exists("/x", watch=on_exists)
    other.delete("/g")
    other.delete("/x")
    assert [(e.type, e.path) for e in on_get.wait(1)] == [(EventType.DELETED, "/g")]
    assert [(e.type, e.path) for e in on_exists.wait(1)] == [(EventType.DELETED, "/x")]
    assert flush_events(zk) == [_raw(zk, "NodeDeleted", "/g"), _raw(zk, "NodeDeleted", "/x")]


def test_children_watch_fires_on_child_create_once(zk, zk_factory, events):
    """A get_children() watch fires one NodeChildrenChanged (path = parent) on the next child create."""
    other = zk_factory()
    zk.create("/p")
    seen = events()
    assert zk.get_children("/p", watch=seen) == []
    other.create("/p/c1")
    (event,) = seen.wait(1)
    assert (event.type, event.path) == (EventType.CHILD, "/p")
    other.create("/p/c2")
    other.delete("/p/c1")
    assert flush_events(zk) == [_raw(zk, "NodeChildrenChanged", "/p")]


def test_children_watch_fires_on_child_delete(zk, zk_factory, events):
    """A get_children() watch fires NodeChildrenChanged when a child is deleted."""
    other = zk_factory()
    zk.create("/p/c", makepath=True)
    seen = events()
    zk.get_children("/p", watch=seen)
    other.delete("/p/c")
    assert [(e.type, e.path) for e in seen.wait(1)] == [(EventType.CHILD, "/p")]


def test_children_watch_ignores_data_and_grandchildren(zk, zk_factory, events):
    """Child watches ignore the parent's data, children's data and grandchildren."""
    other = zk_factory()
    zk.create("/p/c", makepath=True)
    seen = events()
    zk.get_children("/p", watch=seen)
    other.set("/p", b"parent data")
    other.set("/p/c", b"child data")
    other.create("/p/c/grandchild")
    assert flush_events(zk) == []
    assert len(seen) == 0


def test_data_watch_ignores_child_changes_and_acl_changes(zk, zk_factory, events):
    """Data watches ignore child creates/deletes and setACL; only data changes and deletes fire them."""
    other = zk_factory()
    zk.create("/d")
    seen = events()
    zk.get("/d", watch=seen)
    other.create("/d/kid")
    other.delete("/d/kid")
    other.set_acls("/d", READ_ACL_UNSAFE)
    assert flush_events(zk) == []
    assert len(seen) == 0


def test_children_watch_fires_node_deleted_when_watched_node_deleted(zk, zk_factory, events):
    """Deleting a node fires NodeDeleted (not NodeChildrenChanged) for child watches on that node."""
    other = zk_factory()
    zk.create("/p")
    seen = events()
    zk.get_children("/p", watch=seen)
    other.delete("/p")
    assert [(e.type, e.path) for e in seen.wait(1)] == [(EventType.DELETED, "/p")]
    assert flush_events(zk) == [_raw(zk, "NodeDeleted", "/p")]


def test_delete_with_data_and_child_watch_sends_one_notification(zk, zk_factory, events):
    """A session watching a node's data and children gets a single NodeDeleted when it is deleted."""
    other = zk_factory()
    zk.create("/both")
    on_data, on_children = events(), events()
    zk.get("/both", watch=on_data)
    zk.get_children("/both", watch=on_children)
    other.delete("/both")
    on_data.wait(1)
    on_children.wait(1)
    assert flush_events(zk) == [_raw(zk, "NodeDeleted", "/both")]


def test_exists_and_get_watch_on_same_node_send_one_notification(zk, zk_factory, events):
    """get and exists watches of one session on one node are one server watch: one notification."""
    other = zk_factory()
    zk.create("/same")
    first, second, third = events(), events(), events()
    zk.get("/same", watch=first)
    zk.exists("/same", watch=second)
    zk.get("/same", watch=third)
    other.set("/same", b"x")
    for collector in (first, second, third):
        assert [(e.type, e.path) for e in collector.wait(1)] == [(EventType.CHANGED, "/same")]
    assert flush_events(zk) == [_raw(zk, "NodeDataChanged", "/same")]


def test_create_fires_parent_children_watch_and_exists_watch(zk, zk_factory, events):
    """One create fires both the parent's NodeChildrenChanged and the node's NodeCreated, created first."""
    other = zk_factory()
    zk.create("/p")
    zk.get_children("/p", watch=events())
    zk.exists("/p/new", watch=events())
    other.create("/p/new")
    assert flush_events(zk) == [_raw(zk, "NodeCreated", "/p/new"), _raw(zk, "NodeChildrenChanged", "/p")]


def test_delete_fires_node_deleted_before_parent_children_changed(zk, zk_factory, events):
    """One delete fires the node's NodeDeleted and then the parent's NodeChildrenChanged."""
    other = zk_factory()
    zk.create("/p/old", makepath=True)
    zk.get_children("/p", watch=events())
    zk.get("/p/old", watch=events())
    other.delete("/p/old")
    assert flush_events(zk) == [_raw(zk, "NodeDeleted", "/p/old"), _raw(zk, "NodeChildrenChanged", "/p")]


def test_notifications_follow_transaction_order(zk, zk_factory):
    """Notifications for different nodes arrive in the order of the writes that caused them."""
    other = zk_factory()
    names = ["/n%d" % i for i in range(8)]
    for name in names:
        zk.create(name)
        zk.get(name, watch=lambda ev: None)
    order = [3, 0, 7, 1, 6, 2, 5, 4]
    for i in order:
        other.set(names[i], b"x")
    assert flush_events(zk) == [_raw(zk, "NodeDataChanged", names[i]) for i in order]


def test_own_write_notification_arrives_before_response(zk):
    """A client sees the notification for its own write before that write's response."""
    zk.create("/own")
    zk.get("/own", watch=lambda ev: None)
    zk.set("/own", b"x")
    # The connection thread logged the notification before it handed us set()'s response.
    assert zk.raw_events.snapshot() == [_raw(zk, "NodeDataChanged", "/own")]


def test_watches_of_several_sessions_all_fire(zk, zk_factory, events):
    """Every session watching a node gets its own notification."""
    watchers = [zk_factory() for _ in range(3)]
    zk.create("/shared")
    collectors = []
    for client in watchers:
        seen = events()
        client.get("/shared", watch=seen)
        collectors.append(seen)
    zk.set("/shared", b"x")
    for client, seen in zip(watchers, collectors):
        assert [(e.type, e.path) for e in seen.wait(1)] == [(EventType.CHANGED, "/shared")]
        assert flush_events(client) == [_raw(client, "NodeDataChanged", "/shared")]


def test_transaction_fires_watches_and_failed_one_does_not(zk, zk_factory):
    """A committed multi fires the watches of all its ops; a failed multi fires none."""
    other = zk_factory()
    zk.create("/m1")
    zk.create("/m2")
    zk.get("/m1", watch=lambda ev: None)
    zk.get_children("/m2", watch=lambda ev: None)
    zk.exists("/m3", watch=lambda ev: None)

    failed = other.transaction()
    failed.set_data("/m1", b"x")
    failed.create("/m3")
    failed.create("/m2/kid")
    failed.check("/m1", 42)
    assert any(isinstance(r, Exception) for r in failed.commit())
    assert flush_events(zk) == []

    ok = other.transaction()
    ok.set_data("/m1", b"x")
    ok.create("/m3")
    ok.create("/m2/kid")
    assert ok.commit() == [other.exists("/m1"), "/m3", "/m2/kid"]
    assert flush_events(zk) == [
        _raw(zk, "NodeDataChanged", "/m1"),
        _raw(zk, "NodeCreated", "/m3"),
        _raw(zk, "NodeChildrenChanged", "/m2"),
    ]


def test_watch_is_set_even_when_read_fails_with_no_node_only_for_exists(zk, zk_factory, events):
    """exists() on a missing node leaves a watch; get() on a missing node leaves none."""
    other = zk_factory()
    on_exists = events()
    zk.exists("/a", watch=on_exists)
    with pytest.raises(NoNodeError):
        zk.get("/b", watch=events())
    with pytest.raises(NoNodeError):
        zk.get_children("/b", watch=events())
    other.create("/a")
    other.create("/b")
    on_exists.wait(1)
    assert flush_events(zk) == [_raw(zk, "NodeCreated", "/a")]


def test_sequential_create_fires_parent_children_watch(zk, zk_factory, events):
    """Sequential creates fire the parent's children watch like any create."""
    other = zk_factory()
    zk.create("/q")
    seen = events()
    zk.get_children("/q", watch=seen)
    path = other.create("/q/item-", sequence=True)
    assert path == "/q/item-0000000000"
    assert [(e.type, e.path) for e in seen.wait(1)] == [(EventType.CHILD, "/q")]


# --------------------------------------------------------------------------- DataWatch / ChildrenWatch


def test_datawatch_follows_node_through_create_change_delete(zk, zk_factory, events):
    """DataWatch is called with (data, stat) initially and on every change, (None, None) on delete."""
    other = zk_factory()
    calls = events()

    @zk.DataWatch("/dw")
    def watcher(data, stat):
        calls((data, stat.version if stat else None))

    calls.wait(1)
    other.create("/dw", b"born")
    calls.wait(2)
    other.set("/dw", b"grown")
    calls.wait(3)
    other.delete("/dw")
    calls.wait(4)
    other.create("/dw", b"again")
    assert calls.wait(5) == [(None, None), (b"born", 0), (b"grown", 1), (None, None), (b"again", 0)]


def test_datawatch_stops_when_callback_returns_false(zk, zk_factory, events):
    """A DataWatch whose callback returns False is not called again."""
    other = zk_factory()
    zk.create("/dw", b"0")
    calls = events()

    def watcher(data, stat):
        calls(data)
        return data != b"1"

    zk.DataWatch("/dw", watcher)
    calls.wait(1)
    other.set("/dw", b"1")
    calls.wait(2)
    other.set("/dw", b"2")
    # The sentinel's callback runs on kazoo's single callback thread after any DataWatch callback.
    flush_events(zk)
    assert calls.items == [b"0", b"1"]


def test_datawatch_with_event_argument(zk, zk_factory, events):
    """A three-argument DataWatch callback receives the WatchedEvent that triggered it."""
    other = zk_factory()
    zk.create("/dw", b"0")
    calls = events()
    zk.DataWatch("/dw", lambda data, stat, event: calls((data, event.type if event else None)))
    calls.wait(1)
    other.set("/dw", b"1")
    assert calls.wait(2) == [(b"0", None), (b"1", EventType.CHANGED)]


def test_childrenwatch_follows_children(zk, zk_factory, events):
    """ChildrenWatch is called with the child list initially and after each change."""
    other = zk_factory()
    zk.create("/cw")
    calls = events()
    zk.ChildrenWatch("/cw", lambda children: calls(sorted(children)))
    calls.wait(1)
    other.create("/cw/a")
    calls.wait(2)
    other.create("/cw/b")
    calls.wait(3)
    other.delete("/cw/a")
    assert calls.wait(4) == [[], ["a"], ["a", "b"], ["b"]]


def test_childrenwatch_send_event_and_stop(zk, zk_factory, events):
    """ChildrenWatch(send_event=True) passes the event; returning False stops the watch."""
    other = zk_factory()
    zk.create("/cw")
    calls = events()

    def watcher(children, event):
        calls((sorted(children), event.type if event else None))
        return len(children) < 1

    zk.ChildrenWatch("/cw", watcher, send_event=True)
    calls.wait(1)
    other.create("/cw/x")
    calls.wait(2)
    other.create("/cw/y")
    flush_events(zk)
    assert calls.items == [([], None), (["x"], EventType.CHILD)]


def test_watches_fire_none_event_when_connection_drops(zk, events):
    """When the connection drops, kazoo delivers pending watches a NONE event (no server notification)."""
    import socket

    zk.create("/w")
    seen, states = events(), events()
    zk.add_listener(states)
    zk.get("/w", watch=seen)
    zk._connection._socket.shutdown(socket.SHUT_RDWR)
    (event,) = seen.wait(1)
    assert event.type == EventType.NONE and event.path is None
    states.wait_for(lambda s: KazooState.CONNECTED in s, timeout=WAIT, what="reconnect")
    assert zk.get("/w")[0] == b""
