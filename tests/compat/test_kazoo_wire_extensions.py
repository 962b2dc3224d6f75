"""Requests kazoo 2.11 has no public API for, sent through kazoo's own connection and framing:
createContainer (19), createTTL (21), create flag validation, addWatch (106) persistent and
persistent-recursive watches, and removeWatches (18).

The request classes follow kazoo's own (kazoo.protocol.serialization) so that
``client._call`` frames, sends and decodes them like any kazoo request.  Paths go
out unchrooted, so these tests name the full server path (``unchrooted``).
"""

from __future__ import annotations

from collections import namedtuple

import pytest
from compat_helpers import WAIT, flush_events, unchrooted
from kazoo.exceptions import (
    BadArgumentsError,
    MarshallingError,
    NodeExistsError,
    NoNodeError,
    NoWatcherError,
)
from kazoo.protocol.serialization import int_struct, long_struct, read_string, stat_struct, write_buffer, write_string
from kazoo.protocol.states import ZnodeStat
from kazoo.security import OPEN_ACL_UNSAFE

PERSISTENT, PERSISTENT_RECURSIVE = 0, 1  # AddWatchModes
CHILDREN, DATA, ANY = 1, 2, 3  # WatcherType
FLAG_EPHEMERAL, FLAG_SEQUENTIAL, FLAG_CONTAINER, FLAG_TTL, FLAG_TTL_SEQUENTIAL = 1, 2, 4, 5, 6
MAX_TTL = 0xFFFFFFFFFF  # EphemeralType.TTL's 40-bit limit


def _acl_bytes(acl):
    out = bytearray(int_struct.pack(len(acl)))
    for entry in acl:
        out += int_struct.pack(entry.perms) + write_string(entry.id.scheme) + write_string(entry.id.id)
    return out


def _create_response(buffer, offset):
    path, offset = read_string(buffer, offset)
    return path, ZnodeStat._make(stat_struct.unpack_from(buffer, offset))


class CreateContainer(namedtuple("CreateContainer", "path data acl flags")):
    type = 19

    def serialize(self):
        return write_string(self.path) + write_buffer(self.data) + _acl_bytes(self.acl) + int_struct.pack(self.flags)

    @classmethod
    def deserialize(cls, buffer, offset):
        return _create_response(buffer, offset)


class CreateTTL(namedtuple("CreateTTL", "path data acl flags ttl")):
    type = 21

    def serialize(self):
        return (
            write_string(self.path)
            + write_buffer(self.data)
            + _acl_bytes(self.acl)
            + int_struct.pack(self.flags)
            + long_struct.pack(self.ttl)
        )

    @classmethod
    def deserialize(cls, buffer, offset):
        return _create_response(buffer, offset)


class Create2Raw(namedtuple("Create2Raw", "path data acl flags")):
    """Create2 (15) with arbitrary flags."""

    type = 15

    def serialize(self):
        return write_string(self.path) + write_buffer(self.data) + _acl_bytes(self.acl) + int_struct.pack(self.flags)

    @classmethod
    def deserialize(cls, buffer, offset):
        return _create_response(buffer, offset)


class AddWatch(namedtuple("AddWatch", "path mode")):
    type = 106

    def serialize(self):
        return write_string(self.path) + int_struct.pack(self.mode)

    @classmethod
    def deserialize(cls, buffer, offset):
        return True


class RemoveWatches(namedtuple("RemoveWatches", "path watcher_type")):
    type = 18

    def serialize(self):
        return write_string(self.path) + int_struct.pack(self.watcher_type)

    @classmethod
    def deserialize(cls, buffer, offset):
        return True


def call(client, request):
    result = client.handler.async_result()
    client._call(request, result)
    return result.get(timeout=WAIT)


# --------------------------------------------------------------------------- containers


def test_create_container(zk):
    """createContainer makes a node that takes children; its stat shows ephemeralOwner 0."""
    path, stat = call(zk, CreateContainer(unchrooted(zk, "/box"), b"d", OPEN_ACL_UNSAFE, FLAG_CONTAINER))
    assert path == unchrooted(zk, "/box")
    assert stat == zk.exists("/box")
    assert (stat.ephemeralOwner, stat.dataLength, stat.version) == (0, 1, 0)
    zk.create("/box/item")
    assert zk.get_children("/box") == ["item"]
    with pytest.raises(NodeExistsError):
        call(zk, CreateContainer(unchrooted(zk, "/box"), b"", OPEN_ACL_UNSAFE, FLAG_CONTAINER))
    with pytest.raises(NoNodeError):
        call(zk, CreateContainer(unchrooted(zk, "/none/box"), b"", OPEN_ACL_UNSAFE, FLAG_CONTAINER))


def test_create_container_ignores_flags_except_sequential(zk):
    """createContainer accepts any valid flags; only the sequential bit changes anything (the name)."""
    path, stat = call(zk, CreateContainer(unchrooted(zk, "/c1"), b"", OPEN_ACL_UNSAFE, FLAG_EPHEMERAL))
    assert path == unchrooted(zk, "/c1") and stat.ephemeralOwner == 0
    path, _ = call(zk, CreateContainer(unchrooted(zk, "/c2-"), b"", OPEN_ACL_UNSAFE, FLAG_SEQUENTIAL))
    assert path == unchrooted(zk, "/c2-0000000001")
    path, _ = call(zk, CreateContainer(unchrooted(zk, "/c3"), b"", OPEN_ACL_UNSAFE, 0))
    assert path == unchrooted(zk, "/c3")


# --------------------------------------------------------------------------- TTL nodes


def test_create_ttl(zk):
    """createTTL (extended types enabled) makes a persistent node, ephemeralOwner 0, with children allowed."""
    path, stat = call(zk, CreateTTL(unchrooted(zk, "/ttl"), b"t", OPEN_ACL_UNSAFE, FLAG_TTL, 60000))
    assert path == unchrooted(zk, "/ttl")
    assert stat == zk.exists("/ttl") and stat.ephemeralOwner == 0
    zk.create("/ttl/child")
    path, _ = call(zk, CreateTTL(unchrooted(zk, "/seq-"), b"", OPEN_ACL_UNSAFE, FLAG_TTL_SEQUENTIAL, 60000))
    assert path == unchrooted(zk, "/seq-0000000001")
    path, _ = call(zk, CreateTTL(unchrooted(zk, "/max"), b"", OPEN_ACL_UNSAFE, FLAG_TTL, MAX_TTL))
    assert path == unchrooted(zk, "/max")
    with pytest.raises(NodeExistsError):
        call(zk, CreateTTL(unchrooted(zk, "/ttl"), b"", OPEN_ACL_UNSAFE, FLAG_TTL, 60000))
    with pytest.raises(NoNodeError):
        call(zk, CreateTTL(unchrooted(zk, "/none/ttl"), b"", OPEN_ACL_UNSAFE, FLAG_TTL, 60000))


@pytest.mark.parametrize(
    "flags, ttl",
    [(FLAG_TTL, 0), (FLAG_TTL, -1), (FLAG_TTL, MAX_TTL + 1), (0, 1000), (FLAG_EPHEMERAL, 1000), (FLAG_CONTAINER, 1000)],
    ids=["ttl-zero", "ttl-negative", "ttl-too-big", "persistent-mode", "ephemeral-mode", "container-mode"],
)
def test_create_ttl_bad_arguments(zk, flags, ttl):
    """createTTL needs a TTL mode (5/6) and 0 < ttl <= 2**40-1, else BadArgumentsError."""
    with pytest.raises(BadArgumentsError):
        call(zk, CreateTTL(unchrooted(zk, "/bad"), b"", OPEN_ACL_UNSAFE, flags, ttl))
    assert zk.exists("/bad") is None


# --------------------------------------------------------------------------- create flags


@pytest.mark.parametrize("flags", [FLAG_TTL, FLAG_TTL_SEQUENTIAL, 7, -1, 100])
def test_plain_create_rejects_ttl_and_unknown_flags(zk, flags):
    """create2 with a TTL mode or an unknown flag value fails with BadArgumentsError."""
    with pytest.raises(BadArgumentsError):
        call(zk, Create2Raw(unchrooted(zk, "/f"), b"", OPEN_ACL_UNSAFE, flags))
    assert zk.exists("/f") is None


def test_plain_create_with_container_flag_is_accepted(zk):
    """create2 with the container flag is accepted (the node is created; ephemeralOwner 0)."""
    path, stat = call(zk, Create2Raw(unchrooted(zk, "/f"), b"", OPEN_ACL_UNSAFE, FLAG_CONTAINER))
    assert path == unchrooted(zk, "/f") and stat.ephemeralOwner == 0


def test_plain_create_with_ephemeral_sequential_flags(zk):
    """create2 with flags 3 is an ephemeral sequential node owned by the session."""
    path, stat = call(zk, Create2Raw(unchrooted(zk, "/es-"), b"", OPEN_ACL_UNSAFE, FLAG_EPHEMERAL | FLAG_SEQUENTIAL))
    assert path == unchrooted(zk, "/es-0000000000")
    assert stat.ephemeralOwner == zk.client_id[0]


# --------------------------------------------------------------------------- persistent watches


def test_persistent_watch_fires_repeatedly_for_node_and_children(zk, zk_factory):
    """A PERSISTENT watch stays: data changes, child changes and delete/create of the node all notify."""
    other = zk_factory()
    zk.create("/pw")
    assert call(zk, AddWatch(unchrooted(zk, "/pw"), PERSISTENT)) is True
    other.set("/pw", b"1")
    other.set("/pw", b"2")
    other.create("/pw/kid")
    other.set("/pw/kid", b"not watched")
    other.create("/pw/kid/grandkid")
    other.delete("/pw/kid/grandkid")
    other.delete("/pw/kid")
    other.delete("/pw")
    other.create("/pw")
    p = unchrooted(zk, "/pw")
    assert flush_events(zk) == [
        ("NodeDataChanged", p),
        ("NodeDataChanged", p),
        ("NodeChildrenChanged", p),
        ("NodeChildrenChanged", p),
        ("NodeDeleted", p),
        ("NodeCreated", p),
    ]


def test_persistent_watch_on_missing_node(zk, zk_factory):
    """addWatch on a missing path is fine; the watch reports its creation and later changes."""
    other = zk_factory()
    assert call(zk, AddWatch(unchrooted(zk, "/later"), PERSISTENT)) is True
    other.create("/later")
    other.set("/later", b"x")
    p = unchrooted(zk, "/later")
    assert flush_events(zk) == [("NodeCreated", p), ("NodeDataChanged", p)]


def test_persistent_recursive_watch_covers_subtree_without_child_events(zk, zk_factory):
    """PERSISTENT_RECURSIVE notifies create/change/delete anywhere below, never NodeChildrenChanged."""
    other = zk_factory()
    zk.create("/tree/a", makepath=True)
    zk.create("/outside")
    assert call(zk, AddWatch(unchrooted(zk, "/tree"), PERSISTENT_RECURSIVE)) is True
    other.create("/tree/a/b")
    other.set("/tree/a/b", b"x")
    other.set("/tree", b"root")
    other.create("/outside/x")
    other.create("/tree/a/b/c/d", makepath=True)
    other.delete("/tree/a/b/c/d")
    other.set("/tree/a/b", b"y")
    u = lambda path: unchrooted(zk, path)
    assert flush_events(zk) == [
        ("NodeCreated", u("/tree/a/b")),
        ("NodeDataChanged", u("/tree/a/b")),
        ("NodeDataChanged", u("/tree")),
        ("NodeCreated", u("/tree/a/b/c")),
        ("NodeCreated", u("/tree/a/b/c/d")),
        ("NodeDeleted", u("/tree/a/b/c/d")),
        ("NodeDataChanged", u("/tree/a/b")),
    ]


def test_watch_mode_of_latest_registration_wins(zk, zk_factory):
    """One session, one node: the latest watch registration sets the mode (one-shot or persistent)."""
    # ZooKeeper 3.8 keeps one mode per (session, path): a get() watch added after a persistent
    # watch turns it into a one-shot watch; a persistent watch added after a one-shot one wins too.
    other = zk_factory()
    zk.create("/n")
    zk.create("/m")
    call(zk, AddWatch(unchrooted(zk, "/n"), PERSISTENT))
    zk.get("/n", watch=lambda event: None)
    zk.get("/m", watch=lambda event: None)
    call(zk, AddWatch(unchrooted(zk, "/m"), PERSISTENT))
    for value in (b"1", b"2"):
        other.set("/n", value)
        other.set("/m", value)
    n, m = unchrooted(zk, "/n"), unchrooted(zk, "/m")
    assert flush_events(zk) == [("NodeDataChanged", n), ("NodeDataChanged", m), ("NodeDataChanged", m)]


def test_remove_watches(zk, zk_factory):
    """removeWatches removes by type; a missing watch answers NoWatcherError; removal sends no notification."""
    other = zk_factory()
    zk.create("/w")
    zk.create("/p")
    path_w, path_p = unchrooted(zk, "/w"), unchrooted(zk, "/p")

    zk.get("/w", watch=lambda event: None)
    with pytest.raises(NoWatcherError):
        call(zk, RemoveWatches(path_w, CHILDREN))  # there is only a data watch
    assert call(zk, RemoveWatches(path_w, DATA)) is True
    with pytest.raises(NoWatcherError):
        call(zk, RemoveWatches(path_w, ANY))

    zk.get_children("/w", watch=lambda event: None)
    assert call(zk, RemoveWatches(path_w, ANY)) is True

    # A persistent watch counts as both a data and a child watch.
    call(zk, AddWatch(path_p, PERSISTENT))
    assert call(zk, RemoveWatches(path_p, DATA)) is True
    assert call(zk, RemoveWatches(path_p, CHILDREN)) is True
    with pytest.raises(NoWatcherError):
        call(zk, RemoveWatches(path_p, ANY))

    call(zk, AddWatch(path_p, PERSISTENT_RECURSIVE))
    assert call(zk, RemoveWatches(path_p, ANY)) is True

    with pytest.raises(NoWatcherError):
        call(zk, RemoveWatches(unchrooted(zk, "/never"), ANY))

    other.set("/w", b"x")
    other.create("/w/kid")
    other.set("/p", b"x")
    other.create("/p/kid")
    assert flush_events(zk) == []


def test_remove_watches_with_unknown_type_is_marshalling_error(zk):
    """removeWatches with a watcher type outside 1..3 answers MarshallingError; the session carries on."""
    zk.create("/w")
    with pytest.raises(MarshallingError):
        call(zk, RemoveWatches(unchrooted(zk, "/w"), 9))
    assert zk.exists("/w") is not None
