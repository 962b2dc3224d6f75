"""The /zookeeper subtree, reconfig, standalone check, and opcodes a client should not send."""

from __future__ import annotations

from protocol import records as r
from protocol.codes import OpCode

from ..client import OPEN_ACL
from . import register, scenario
from .common import add_super


@scenario("system.zookeeper_nodes")
def _(t):
    """/zookeeper, /zookeeper/quota and /zookeeper/config: data, stats, ACLs and children."""
    c = t.session()
    for p in ("/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        c.get_data(p)
        c.get_acl(p)
        c.get_children2(p)
        c.get_all_children_number(p)


@scenario("system.root_node_children")
def _(t):
    """getChildren("/") lists zookeeper and this scenario's root (nothing else is left by other scenarios)."""
    c = t.session()
    c.get_children("/")


@scenario("system.zookeeper_nodes_watchable")
def _(t):
    """A data watch on /zookeeper/config (the getConfig watch) is accepted and fires on nothing here."""
    c = t.session()
    c.get_data("/zookeeper/config", watch=True)
    c.exists("/zookeeper/quota", watch=True)
    c.barrier()


@scenario("system.write_under_zookeeper_quota")
def _(t):
    """A child of /zookeeper/quota can be created (open ACL) and deleted: quota nodes are ordinary znodes."""
    c = t.session()
    p = "/zookeeper/quota/" + t.root[1:]
    c.create(p)
    c.create(p + "/zookeeper_limits", b"count=10,bytes=-1")
    c.get_children2("/zookeeper/quota")
    c.delete(p + "/zookeeper_limits")
    c.delete(p)
    c.get_children2("/zookeeper/quota")


@scenario("system.super_writes_config")
def _(t):
    """super reads /zookeeper/config; a setACL on it with a wrong version is BADVERSION (and consumes a zxid)."""
    c = t.session()
    add_super(c)
    c.get_data("/zookeeper/config")
    c.set_acl("/zookeeper/config", OPEN_ACL, version=99)  # BADVERSION at best: never really changes it
    c.ping()


# --- reconfig ------------------------------------------------------------------------------------


@scenario("system.reconfig.unauthenticated")
def _(t):
    """reconfig from an ordinary session on a standalone server without reconfigEnabled."""
    c = t.session()
    c.ping()
    c.reconfig(joining="server.2=127.0.0.1:2888:3888;2181")
    c.ping()


@scenario("system.reconfig.super")
def _(t):
    """reconfig as super on a standalone server without reconfigEnabled."""
    c = t.session()
    add_super(c)
    c.ping()
    c.reconfig(new_members="server.1=127.0.0.1:2888:3888;2181")
    c.reconfig(leaving="1")
    c.ping()


@scenario("system.reconfig.empty")
def _(t):
    """reconfig with every field empty."""
    c = t.session()
    c.reconfig()
    c.ping()


# --- check outside multi ---------------------------------------------------------------------------


def _check_scenario(version, node):
    def f(t):
        c = t.session()
        if node:
            c.create(t.path("a"))
        c.ping()
        # 3.8.0 never answers a standalone check: wait briefly, then see what the session still does
        c.check(t.path("a"), version, timeout_s=1.0)
        if not c.closed:
            c.ping()
            c.exists(t.path("a"))

    return f


for _name, _version, _node in [
    ("matching_version", 0, True),
    ("wrong_version", 3, True),
    ("any_version", -1, True),
    ("missing_node", 0, False),
]:
    register(
        "check.standalone.%s" % _name,
        _check_scenario(_version, _node),
        "check (13) outside multi, %s: 3.8.0's answer, if any, and its zxid use (3.8.6: UNIMPLEMENTED)." % _name,
    )


# --- opcodes a client does not send ---------------------------------------------------------------

for _op, _name, _body in [
    (OpCode.NOTIFICATION, "notification_0", b""),
    (10, "unassigned_10", b""),
    (OpCode.DELETE_CONTAINER, "delete_container_20", None),
    (23, "unassigned_23", b""),
    (99, "unassigned_99", b""),
    (OpCode.SASL, "sasl_102", r.GetSASLRequest(b"token").to_bytes()),
    (108, "unassigned_108", b""),
    (1000, "large_1000", b"\x00" * 8),
    (OpCode.CREATE_SESSION, "create_session_minus10", b""),
    (OpCode.ERROR, "error_minus1", b""),
    (-5, "negative_minus5", b""),
    (2**31 - 1, "int_max", b""),
]:

    def _f(t, op=_op, body=_body):
        c = t.session()
        c.create(t.path("n"), flags=0)
        c.ping()
        if body is None:  # deleteContainer carries the path as raw bytes
            body = t.path("n").encode()
        c.raw_request(op, body, timeout_s=2.0)
        if not c.closed:
            c.ping()
            c.exists(t.path("n"))
        c2 = t.session()
        c2.exists(t.path("n"))

    register(
        "opcode.%s" % _name,
        _f,
        "A request with opcode %d: the reply (or none), whether the connection survives, what it changed." % _op,
    )
