"""delete, exists, getData, setData, sync; stat evolution; path validation for every path-taking opcode."""

from __future__ import annotations

from protocol import records as r
from protocol.codes import CreateMode, OpCode

from ..client import OPEN_ACL, READ_ACL, acl
from . import register, scenario
from .common import int32, ustring

# --- delete ------------------------------------------------------------------------------------


@scenario("delete.basic")
def _(t):
    """delete removes the node (header-only reply, one zxid) and moves the parent's pzxid, cversion, numChildren."""
    c = t.session()
    c.create(t.path("a"), b"x")
    c.exists(t.root)
    c.delete(t.path("a"))
    c.exists(t.path("a"))
    c.exists(t.root)


@scenario("delete.no_node")
def _(t):
    """Deleting a missing node is NONODE and consumes a zxid."""
    c = t.session()
    c.ping()
    c.delete(t.path("missing"))
    c.ping()


@scenario("delete.versions")
def _(t):
    """delete with a wrong version is BADVERSION; the exact version and -1 succeed."""
    c = t.session()
    c.create(t.path("a"))
    c.set_data(t.path("a"), b"1")
    c.delete(t.path("a"), version=0)
    c.delete(t.path("a"), version=5)
    c.delete(t.path("a"), version=-2)
    c.delete(t.path("a"), version=1)
    c.create(t.path("b"))
    c.delete(t.path("b"), version=-1)


@scenario("delete.not_empty")
def _(t):
    """Deleting a node with children is NOTEMPTY; after the child goes it succeeds."""
    c = t.session()
    c.create(t.path("p"))
    c.create(t.path("p", "c"))
    c.delete(t.path("p"))
    c.delete(t.path("p", "c"))
    c.delete(t.path("p"))


@scenario("delete.not_empty_with_wrong_version")
def _(t):
    """A delete that is both NOTEMPTY and BADVERSION: which check comes first."""
    c = t.session()
    c.create(t.path("p"))
    c.create(t.path("p", "c"))
    c.delete(t.path("p"), version=7)


@scenario("delete.root_and_system")
def _(t):
    """Deleting "/", "/zookeeper", "/zookeeper/quota" and "/zookeeper/config": which errors."""
    c = t.session()
    for p in ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        c.delete(p)
    c.get_children("/zookeeper")


@scenario("delete.parent_without_delete_perm")
def _(t):
    """Deleting a child of a node whose ACL lacks DELETE is NOAUTH; the child's own ACL does not matter."""
    c = t.session()
    c.create(t.path("p"), b"", [acl(31 & ~8, "world", "anyone")])
    c.create(t.path("p", "c"), b"", OPEN_ACL)
    c.delete(t.path("p", "c"))
    c.create(t.path("q"), b"", OPEN_ACL)
    c.create(t.path("q", "c"), b"", READ_ACL)
    c.delete(t.path("q", "c"))


@scenario("delete.ephemeral_updates_owner_list")
def _(t):
    """Deleting one's own ephemeral removes it from getEphemerals."""
    c = t.session()
    c.create(t.path("e1"), flags=CreateMode.EPHEMERAL)
    c.create(t.path("e2"), flags=CreateMode.EPHEMERAL)
    c.delete(t.path("e1"))
    c.get_ephemerals(t.root)


@scenario("delete.then_recreate")
def _(t):
    """A deleted then recreated node starts over: version 0, new czxid."""
    c = t.session()
    c.create(t.path("a"), b"1")
    c.set_data(t.path("a"), b"2")
    c.delete(t.path("a"))
    c.create(t.path("a"), b"3")
    c.exists(t.path("a"))


# --- exists / getData ----------------------------------------------------------------------------


@scenario("exists.existing_and_missing")
def _(t):
    """exists returns the Stat of an existing node and NONODE (no body) for a missing one; no zxid consumed."""
    c = t.session()
    c.ping()
    c.exists(t.root)
    c.exists(t.path("missing"))
    c.ping()


@scenario("get_data.existing_and_missing")
def _(t):
    """getData returns data and Stat; a missing node is NONODE; no zxid consumed."""
    c = t.session()
    c.create(t.path("a"), b"hello")
    c.get_data(t.path("a"))
    c.get_data(t.path("missing"))
    c.ping()


@scenario("get_data.unicode_path")
def _(t):
    """Non-ASCII (valid) path names round-trip as UTF-8."""
    c = t.session()
    c.create(t.path("\u00fc\u00f1\u00ee"), "d\u00e4ta".encode())
    c.get_data(t.path("\u00fc\u00f1\u00ee"))
    c.get_children(t.root)


@scenario("get_data.no_read_perm")
def _(t):
    """getData without READ is NOAUTH; with READ only it succeeds."""
    c = t.session()
    c.create(t.path("w"), b"x", [acl(31 & ~1, "world", "anyone")])
    c.create(t.path("r"), b"x", READ_ACL)
    c.get_data(t.path("w"))
    c.get_data(t.path("r"))


# --- setData ------------------------------------------------------------------------------------


@scenario("set_data.basic")
def _(t):
    """setData bumps version and mzxid/mtime, keeps czxid/ctime, and returns the new Stat."""
    c = t.session()
    c.create(t.path("a"), b"1")
    c.set_data(t.path("a"), b"22")
    c.set_data(t.path("a"), b"333")
    c.get_data(t.path("a"))


@scenario("set_data.versions")
def _(t):
    """setData with a wrong version is BADVERSION (consuming a zxid); the exact version and -1 succeed."""
    c = t.session()
    c.create(t.path("a"), b"1")
    c.set_data(t.path("a"), b"x", version=1)
    c.set_data(t.path("a"), b"x", version=0)
    c.set_data(t.path("a"), b"y", version=0)
    c.set_data(t.path("a"), b"y", version=-1)
    c.set_data(t.path("a"), b"z", version=-5)
    c.get_data(t.path("a"))


@scenario("set_data.no_node")
def _(t):
    """setData on a missing node is NONODE."""
    c = t.session()
    c.set_data(t.path("missing"), b"x")
    c.ping()


@scenario("set_data.same_data")
def _(t):
    """Setting identical data still bumps the version and mzxid."""
    c = t.session()
    c.create(t.path("a"), b"same")
    c.set_data(t.path("a"), b"same")
    c.exists(t.path("a"))


@scenario("set_data.null_and_empty")
def _(t):
    """setData with null data (length -1) and with empty data: what getData returns after each."""
    c = t.session()
    c.create(t.path("a"), b"x")
    c.set_data(t.path("a"), None)
    c.get_data(t.path("a"))
    c.set_data(t.path("a"), b"")
    c.get_data(t.path("a"))


@scenario("set_data.no_write_perm")
def _(t):
    """setData without WRITE is NOAUTH (consuming a zxid)."""
    c = t.session()
    c.create(t.path("a"), b"x", READ_ACL)
    c.set_data(t.path("a"), b"y")
    c.get_data(t.path("a"))


@scenario("set_data.parent_unchanged")
def _(t):
    """setData on a child leaves the parent's cversion, pzxid and mzxid alone."""
    c = t.session()
    c.create(t.path("p"))
    c.create(t.path("p", "c"))
    c.exists(t.path("p"))
    c.set_data(t.path("p", "c"), b"v")
    c.exists(t.path("p"))


@scenario("set_data.system_nodes")
def _(t):
    """setData on /zookeeper/config (READ-only ACL) is NOAUTH."""
    c = t.session()
    c.set_data("/zookeeper/config", b"x")
    c.get_data("/zookeeper/config")


@scenario("set_data.large_version")
def _(t):
    """setData with version Integer.MAX_VALUE on a fresh node is BADVERSION."""
    c = t.session()
    c.create(t.path("a"))
    c.set_data(t.path("a"), b"", version=2**31 - 1)


# --- sync -----------------------------------------------------------------------------------------


@scenario("sync.basic")
def _(t):
    """sync answers with the path it was given; no zxid consumed."""
    c = t.session()
    c.ping()
    c.sync(t.root)
    c.sync("/")
    c.ping()


@scenario("sync.missing_node")
def _(t):
    """sync on a path that does not exist."""
    c = t.session()
    c.sync(t.path("missing"))


@scenario("sync.no_read_perm")
def _(t):
    """sync on a node the session cannot read."""
    c = t.session()
    c.create(t.path("a"), b"", [acl(2, "world", "anyone")])
    c.sync(t.path("a"))


# --- the lifecycle of one node's stat -----------------------------------------------------------


@scenario("stat.lifecycle")
def _(t):
    """A node's stat through create, setData, setACL, child create and child delete: every field."""
    c = t.session()
    c.create2(t.path("n"), b"v0")
    c.set_data(t.path("n"), b"v11")
    c.set_acl(t.path("n"), [acl(31, "world", "anyone"), acl(1, "ip", "127.0.0.1")])
    c.create(t.path("n", "c1"))
    c.create(t.path("n", "c2"), b"", flags=CreateMode.EPHEMERAL)
    c.exists(t.path("n"))
    c.delete(t.path("n", "c1"))
    c.exists(t.path("n"))
    c.set_data(t.path("n"), b"")
    c.get_children2(t.path("n"))
    c.get_acl(t.path("n"))


@scenario("stat.cversion_counts_changes")
def _(t):
    """Shown cversion counts child creates and deletes (stored: creates; shown: creates*2 - numChildren)."""
    c = t.session()
    c.create(t.path("p"))
    for i in range(3):
        c.create(t.path("p", "c%d" % i))
    c.delete(t.path("p", "c1"))
    c.exists(t.path("p"))
    c.create(t.path("p", "c1"))
    c.delete(t.path("p", "c0"))
    c.delete(t.path("p", "c2"))
    c.exists(t.path("p"))
    c.create(t.path("p", "s"), flags=CreateMode.PERSISTENT_SEQUENTIAL)


@scenario("stat.pzxid_on_child_delete")
def _(t):
    """Deleting a child moves the parent's pzxid to the delete's zxid."""
    c = t.session()
    c.create(t.path("p"))
    c.create(t.path("p", "c"))
    c.set_data(t.path("p"), b"x")
    c.delete(t.path("p", "c"))
    c.exists(t.path("p"))


@scenario("stat.data_length_and_num_children")
def _(t):
    """dataLength follows setData; numChildren follows creates and deletes, ephemeral children included."""
    c = t.session()
    c.create(t.path("p"), b"12345")
    c.create(t.path("p", "a"))
    c.create(t.path("p", "b"), flags=CreateMode.EPHEMERAL)
    c.exists(t.path("p"))
    c.set_data(t.path("p"), b"1")
    c.delete(t.path("p", "a"))
    c.exists(t.path("p"))


@scenario("stat.root_node")
def _(t):
    """The stat and data of "/" (czxid 0, empty data) and getData("") (ZooKeeper keys the root as "")."""
    c = t.session()
    c.get_data("/")
    c.get_data("")


# --- path validation, per opcode ----------------------------------------------------------------

BAD_PATHS = {
    "relative": ["", "a", "a/b"],
    "trailing_slash": ["{root}/", "{root}/a/"],
    "empty_component": ["//", "{root}//a", "/{rootname}//"],
    "dot_components": ["{root}/.", "{root}/..", "{root}/./a", "{root}/../a", "/.", "/.."],
    "dot_names": ["{root}/.a", "{root}/a.", "{root}/...", "{root}/..a"],
    "control_chars": ["{root}/a\u0000b", "{root}/a\u0001", "{root}/\u001f", "{root}/\u007f", "{root}/\u009f"],
    "unicode": ["{root}/\u00e9", "{root}/\ue000", "{root}/\ufff0", "{root}/\ufffd", "{root}/\U0001f600"],
}

PATH_OPS = {
    "create": lambda c, p: c.create(p, b""),
    "create2": lambda c, p: c.create2(p, b""),
    "create_container": lambda c, p: c.create_container(p, b""),
    "create_ttl": lambda c, p: c.create_ttl(p, b"", ttl=3_600_000),
    "delete": lambda c, p: c.delete(p),
    "exists": lambda c, p: c.exists(p),
    "get_data": lambda c, p: c.get_data(p),
    "set_data": lambda c, p: c.set_data(p, b"x"),
    "get_acl": lambda c, p: c.get_acl(p),
    "set_acl": lambda c, p: c.set_acl(p, OPEN_ACL),
    "get_children": lambda c, p: c.get_children(p),
    "get_children2": lambda c, p: c.get_children2(p),
    "sync": lambda c, p: c.sync(p),
    "get_all_children_number": lambda c, p: c.get_all_children_number(p),
    "add_watch": lambda c, p: c.add_watch(p, 0),
    "remove_watches": lambda c, p: c.remove_watches(p, 3),
}


def _paths_scenario(op_name, category):
    def f(t):
        c = t.session()
        c.ping()
        for raw in BAD_PATHS[category]:
            p = raw.format(root=t.root, rootname=t.root[1:])
            PATH_OPS[op_name](c, p)
        c.get_children(t.root)

    return f


for _op in PATH_OPS:
    for _cat in BAD_PATHS:
        register(
            "paths.%s.%s" % (_op, _cat),
            _paths_scenario(_op, _cat),
            "%s with %s paths: which are refused (BADARGUMENTS), which answer NONODE, what gets created." % (_op, _cat),
        )


@scenario("paths.invalid_utf8")
def _(t):
    """A path with bytes that are not UTF-8 (decoded by Java as U+FFFD): create, getData, exists."""
    c = t.session()
    p = t.root.encode() + b"/\xff\xfe"
    c.raw_request(OpCode.CREATE, ustring(p) + r.CreateRequest("", b"", OPEN_ACL, 0).to_bytes()[4:])
    c.raw_request(OpCode.EXISTS, ustring(p) + b"\x00")
    c.raw_request(OpCode.GET_DATA, ustring(p) + b"\x00")
    c.get_children(t.root)


@scenario("paths.null_path_reads")
def _(t):
    """A null path (string length -1) in exists and getData."""
    c = t.session()
    c.raw_request(OpCode.EXISTS, ustring(None) + b"\x00", timeout_s=3)
    if not c.closed:
        c.raw_request(OpCode.GET_DATA, ustring(None) + b"\x00", timeout_s=3)
    if not c.closed:
        c.ping()


@scenario("paths.long_component")
def _(t):
    """A 1000-character path component is accepted."""
    c = t.session()
    c.create(t.path("x" * 1000), b"")
    c.exists(t.path("x" * 1000))
    c.get_children(t.root)


@scenario("paths.reserved_names")
def _(t):
    """ "zookeeper" is only reserved at the top level: a child named zookeeper elsewhere is fine."""
    c = t.session()
    c.create(t.path("zookeeper"))
    c.create(t.path("zookeeper", "quota"))
    c.get_children(t.path("zookeeper"))


@scenario("paths.watch_flag_byte_2")
def _(t):
    """A watch flag byte of 2 in exists is read as true (a watch is set and fires)."""
    c = t.session()
    c.raw_request(OpCode.EXISTS, ustring(t.path("w")) + b"\x02")
    c.create(t.path("w"))  # the NodeCreated notification, if any, is recorded before this reply


@scenario("paths.int_field_truncated")
def _(t):
    """A delete whose version field is cut to two bytes."""
    c = t.session()
    c.ping()
    c.raw_request(OpCode.DELETE, ustring(t.path("x")) + int32(0)[:2], timeout_s=3)
    if not c.closed:
        c.ping()
