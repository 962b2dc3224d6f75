"""getChildren, getChildren2, getAllChildrenNumber, getEphemerals: contents, order, errors."""

from __future__ import annotations

from protocol.codes import CreateMode

from ..client import acl
from . import register, scenario


@scenario("children.empty_and_missing")
def _(t):
    """getChildren of a childless node is an empty list; of a missing node NONODE; getChildren2 adds the Stat."""
    c = t.session()
    c.create(t.path("leaf"))
    c.get_children(t.path("leaf"))
    c.get_children2(t.path("leaf"))
    c.get_children(t.path("missing"))
    c.get_children2(t.path("missing"))


for _n, _names in [
    ("letters", ["a", "b", "c", "d", "e", "f", "g", "h"]),
    ("reverse_letters", ["h", "g", "f", "e", "d", "c", "b", "a"]),
    ("numbers", [str(i) for i in range(20)]),
    ("mixed_lengths", ["x" * i for i in range(1, 15)]),
    ("unicode", ["\u00e9", "\u00e8", "z", "\u4e2d", "\u6587", "a"]),
    ("similar_prefixes", ["node-%03d" % i for i in range(0, 40, 3)]),
]:

    def _f(t, names=_names):
        c = t.session()
        for n in names:
            c.create(t.path(n))
        c.get_children(t.root)
        c.get_children2(t.root)

    register(
        "children.order.%s" % _n,
        _f,
        "The order of getChildren for %d children named like %r (Java HashSet order)." % (len(_names), _names[:3]),
    )


@scenario("children.order.after_deletes")
def _(t):
    """Children order after some children are deleted and others re-created."""
    c = t.session()
    for i in range(12):
        c.create(t.path("c%d" % i))
    for i in (3, 7, 0):
        c.delete(t.path("c%d" % i))
    c.create(t.path("c0"))
    c.create(t.path("new"))
    c.get_children(t.root)


@scenario("children.order.many_with_resize")
def _(t):
    """The order of 100 children (past several HashSet resizes), then after deleting every third."""
    c = t.session()
    with c.unrecorded():
        for i in range(100):
            c.create(t.path("k%d" % i))
    c.get_children(t.root)
    with c.unrecorded():
        for i in range(0, 100, 3):
            c.delete(t.path("k%d" % i))
    c.get_children2(t.root)


@scenario("children.order.sequential")
def _(t):
    """The order of sequential children, of two prefixes interleaved."""
    c = t.session()
    for _ in range(6):
        c.create(t.path("lock-"), flags=CreateMode.EPHEMERAL_SEQUENTIAL)
        c.create(t.path("q-"), flags=CreateMode.PERSISTENT_SEQUENTIAL)
    c.get_children(t.root)


@scenario("children.of_zookeeper")
def _(t):
    """getChildren of /zookeeper and its children."""
    c = t.session()
    c.get_children2("/zookeeper")
    c.get_children2("/zookeeper/quota")
    c.get_children2("/zookeeper/config")


@scenario("children.get_children2_stat")
def _(t):
    """getChildren2's Stat is the parent's, with numChildren matching the list."""
    c = t.session()
    c.create(t.path("p"), b"pd")
    c.create(t.path("p", "a"), b"12345")
    c.create(t.path("p", "b"), flags=CreateMode.EPHEMERAL)
    c.get_children2(t.path("p"))


@scenario("children.all_children_number.nested")
def _(t):
    """getAllChildrenNumber counts all descendants (not the node itself)."""
    c = t.session()
    c.create(t.path("a"))
    c.create(t.path("a", "b"))
    c.create(t.path("a", "b", "c"))
    c.create(t.path("a", "d"))
    c.create(t.path("ab"))  # a sibling whose name extends "a": not a descendant
    c.get_all_children_number(t.path("a"))
    c.get_all_children_number(t.path("a", "b", "c"))
    c.get_all_children_number(t.root)
    c.get_all_children_number(t.path("missing"))


@scenario("children.all_children_number.zookeeper")
def _(t):
    """getAllChildrenNumber of /zookeeper."""
    c = t.session()
    c.get_all_children_number("/zookeeper")


@scenario("children.all_children_number.no_read_perm")
def _(t):
    """getAllChildrenNumber needs READ on the node."""
    c = t.session()
    c.create(t.path("a"), b"", [acl(2, "world", "anyone")])
    c.get_all_children_number(t.path("a"))


@scenario("children.ephemerals.prefixes")
def _(t):
    """getEphemerals lists the session's own ephemerals matching a path prefix (a string prefix, not a subtree)."""
    c = t.session()
    other = t.session()
    c.create(t.path("d"))
    c.create(t.path("d", "e1"), flags=CreateMode.EPHEMERAL)
    c.create(t.path("d", "e2"), flags=CreateMode.EPHEMERAL_SEQUENTIAL)
    c.create(t.path("dx"), flags=CreateMode.EPHEMERAL)
    c.create(t.path("p"))
    other.create(t.path("d", "o1"), flags=CreateMode.EPHEMERAL)
    for prefix in (t.path("d"), t.path("d") + "/", t.root, t.path("nope"), t.path("d", "e")):
        c.get_ephemerals(prefix)
    other.get_ephemerals(t.root)


@scenario("children.ephemerals.all")
def _(t):
    """getEphemerals with "/" lists every ephemeral of the session; a session without any gets an empty list."""
    c = t.session()
    other = t.session()
    for i in range(5):
        c.create(t.path("e%d" % i), flags=CreateMode.EPHEMERAL)
    c.get_ephemerals("/")
    other.get_ephemerals("/")


@scenario("children.ephemerals.bad_prefix")
def _(t):
    """getEphemerals with an empty or relative prefix."""
    c = t.session()
    c.create(t.path("e"), flags=CreateMode.EPHEMERAL)
    c.get_ephemerals("")
    c.get_ephemerals("abc")
