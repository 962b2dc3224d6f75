"""create, create2, createContainer, createTTL: every flag, bad input, sequential naming, parent stats."""

from __future__ import annotations

from protocol import records as r
from protocol.codes import CreateMode, OpCode

from ..client import OPEN_ACL, acl, digest
from . import register, scenario
from .common import add_digest, int32, int64, ustring

CREATE_OPS = {
    "create": OpCode.CREATE,
    "create2": OpCode.CREATE2,
    "create_container": OpCode.CREATE_CONTAINER,
    "create_ttl": OpCode.CREATE_TTL,
}
FLAGS = {
    "persistent": 0,
    "ephemeral": 1,
    "persistent_sequential": 2,
    "ephemeral_sequential": 3,
    "container": 4,
    "ttl": 5,
    "ttl_sequential": 6,
    "flag7": 7,
    "flag_minus1": -1,
}


def _create_with(t, c, op, flags, path, ttl=60000):
    if op == OpCode.CREATE_TTL:
        return c.create(path, b"d", OPEN_ACL, flags, op=op, ttl=ttl)
    return c.create(path, b"d", OPEN_ACL, flags, op=op)


for _op_name, _op in CREATE_OPS.items():
    for _flag_name, _flag in FLAGS.items():

        def _f(t, op=_op, flags=_flag):
            c = t.session()
            _create_with(t, c, op, flags, t.path("n"))
            c.get_children2(t.root)
            for name in ("n", "n0000000000"):
                c.exists(t.path(name))

        register(
            "create.flags.%s.%s" % (_op_name, _flag_name),
            _f,
            "%s with flags=%d (%s): reply, the node's stat (ephemeralOwner) and the parent's."
            % (_op_name, _flag, _flag_name),
        )


for _ttl_name, _ttl in [
    ("zero", 0),
    ("negative", -1),
    ("one_ms_sequential", None),
    ("max", (1 << 40) - 1),
    ("max_plus_one", 1 << 40),
    ("huge", 1 << 62),
]:

    def _f(t, ttl=_ttl):
        c = t.session()
        flags = 5
        if ttl is None:  # sequential TTL with a valid but long ttl (the short-ttl reaping lives in reaper.py)
            flags, ttl = 6, 3_600_000
        c.create_ttl(t.path("t-"), b"", flags=flags, ttl=ttl)
        c.get_children(t.root)

    register(
        "create.ttl_value.%s" % _ttl_name,
        _f,
        "createTTL with ttl=%r: accepted or BADARGUMENTS; owner encoding." % (_ttl,),
    )


@scenario("create.ttl_body_on_plain_create")
def _(t):
    """op create (1) carrying a CreateTTLRequest body (8 trailing bytes): how the server reads it."""
    c = t.session()
    c.call(OpCode.CREATE, r.CreateTTLRequest(t.path("x"), b"d", OPEN_ACL, 0, 5000))
    c.exists(t.path("x"))


@scenario("create.plain_body_on_create_ttl")
def _(t):
    """op createTTL (21) with a CreateRequest body (no ttl field): MARSHALLINGERROR; zxid consumption."""
    c = t.session()
    c.ping()
    c.call(OpCode.CREATE_TTL, r.CreateRequest(t.path("x"), b"d", OPEN_ACL, 5))
    c.create(t.path("y"))


@scenario("create.node_exists")
def _(t):
    """Creating an existing path is NODEEXISTS, and the failed create consumes a zxid."""
    c = t.session()
    c.create(t.path("a"), b"1")
    c.create(t.path("a"), b"2")
    c.create2(t.path("a"), b"3")
    c.get_data(t.path("a"))
    c.ping()


@scenario("create.no_parent")
def _(t):
    """Creating under a missing parent is NONODE (for each create opcode)."""
    c = t.session()
    c.create(t.path("missing", "x"))
    c.create2(t.path("missing", "x"))
    c.create_container(t.path("missing", "x"))
    c.create_ttl(t.path("missing", "x"))
    c.ping()


@scenario("create.under_ephemeral")
def _(t):
    """Children of an ephemeral are refused with NOCHILDRENFOREPHEMERALS, also for the owner and sequential children."""
    c = t.session()
    c.create(t.path("e"), b"", flags=CreateMode.EPHEMERAL)
    c.create(t.path("e", "x"))
    c.create(t.path("e", "y"), flags=CreateMode.EPHEMERAL_SEQUENTIAL)
    c2 = t.session()
    c2.create(t.path("e", "z"))
    c.exists(t.path("e"))


@scenario("create.under_container_and_ttl")
def _(t):
    """Containers and TTL nodes may have children of every kind."""
    c = t.session()
    c.create_container(t.path("c"))
    c.create_ttl(t.path("t"), ttl=3_600_000)
    for p in ("c", "t"):
        c.create(t.path(p, "x"))
        c.create(t.path(p, "e"), flags=CreateMode.EPHEMERAL)
        c.create_ttl(t.path(p, "tt"), ttl=3_600_000)
        c.get_children2(t.path(p))


@scenario("create.data_variants")
def _(t):
    """Null data (length -1), empty data and binary data: what getData returns for each and the dataLength."""
    c = t.session()
    c.create(t.path("null"), None)
    c.create(t.path("empty"), b"")
    c.create(t.path("bin"), bytes(range(256)))
    for n in ("null", "empty", "bin"):
        c.get_data(t.path(n))


@scenario("create.returns_path_not_input")
def _(t):
    """create returns the created path; create2 returns path and the new node's stat."""
    c = t.session()
    c.create(t.path("a"), b"abc")
    c.create2(t.path("b"), b"abcd")
    c.create_container(t.path("c"), b"x")
    c.create_ttl(t.path("d"), b"x", ttl=1234567)


@scenario("create.parent_stat_evolution")
def _(t):
    """Each create under a parent bumps its cversion and pzxid (not mzxid/version); numChildren counts."""
    c = t.session()
    c.create(t.path("p"), b"")
    for i in range(3):
        c.create(t.path("p", "c%d" % i))
        c.exists(t.path("p"))
    c.create(t.path("p", "c0"))  # NODEEXISTS: does it touch the parent?
    c.exists(t.path("p"))


@scenario("create.sequential.first_and_next")
def _(t):
    """Sequential names append the parent's cversion as %010d: 0000000000, then 0000000001..."""
    c = t.session()
    for _ in range(3):
        c.create(t.path("s-"), flags=CreateMode.PERSISTENT_SEQUENTIAL)


@scenario("create.sequential.counter_is_cversion")
def _(t):
    """The sequence counter is the parent's cversion: plain creates and deletes advance it too."""
    c = t.session()
    c.create(t.path("a"))
    c.create(t.path("b"))
    c.delete(t.path("a"))
    c.create(t.path("s"), flags=CreateMode.PERSISTENT_SEQUENTIAL)
    c.create(t.path("s"), flags=CreateMode.EPHEMERAL_SEQUENTIAL)
    c.get_children2(t.root)


@scenario("create.sequential.failed_create_does_not_advance")
def _(t):
    """A failed create (NODEEXISTS) under a parent leaves its cversion, so the next sequence number is unchanged."""
    c = t.session()
    c.create(t.path("a"))
    c.create(t.path("a"))
    c.create(t.path("s"), flags=CreateMode.PERSISTENT_SEQUENTIAL)


@scenario("create.sequential.trailing_slash_name")
def _(t):
    """A sequential create of "<parent>/" names the child by the counter alone (a trailing slash is allowed)."""
    c = t.session()
    c.create(t.root + "/", flags=CreateMode.PERSISTENT_SEQUENTIAL)
    c.create(t.root + "/", flags=CreateMode.PERSISTENT)
    c.get_children(t.root)


@scenario("create.sequential.collision")
def _(t):
    """A sequential create whose generated name already exists is NODEEXISTS and leaves the counter."""
    c = t.session()
    c.create(t.path("s0000000001"))  # internal cversion is now 1: the next sequential "s" collides
    c.create(t.path("s"), flags=CreateMode.PERSISTENT_SEQUENTIAL)
    c.create(t.path("s"), flags=CreateMode.PERSISTENT_SEQUENTIAL)
    c.get_children2(t.root)


@scenario("create.sequential.ephemeral_owner")
def _(t):
    """EPHEMERAL_SEQUENTIAL nodes are owned by the session and vanish with it."""
    c1 = t.session()
    c2 = t.session()
    c1.create(t.path("e-"), flags=CreateMode.EPHEMERAL_SEQUENTIAL)
    c1.create(t.path("e-"), flags=CreateMode.EPHEMERAL_SEQUENTIAL)
    c2.get_children(t.root)
    c1.close_session()
    c1.wait_close()
    c2.get_children2(t.root)


@scenario("create.sequential.high_counter")
def _(t):
    """After 1000 child changes the sequence suffix still has ten digits (0000001000)."""
    c = t.session()
    c.create(t.path("p"))
    with c.unrecorded():  # 1000 identical replies carry no information; their effect is checked below
        for _ in range(500):
            c.create(t.path("p", "x"), flags=0)
            c.delete(t.path("p", "x"))
    c.create(t.path("p", "s"), flags=CreateMode.PERSISTENT_SEQUENTIAL)
    c.exists(t.path("p"))


@scenario("create.ephemeral.stat")
def _(t):
    """An ephemeral's stat carries the session as ephemeralOwner; other sessions see the same owner."""
    c1 = t.session()
    c2 = t.session()
    c1.create2(t.path("e"), b"x", flags=CreateMode.EPHEMERAL)
    c2.exists(t.path("e"))
    c2.get_ephemerals("/")


@scenario("create.ephemeral.delete_by_other_session")
def _(t):
    """Another session may delete an ephemeral; the owner's getEphemerals no longer lists it."""
    c1 = t.session()
    c2 = t.session()
    c1.create(t.path("e"), flags=CreateMode.EPHEMERAL)
    c2.delete(t.path("e"))
    c1.get_ephemerals(t.root)
    c1.create(t.path("e"), flags=CreateMode.EPHEMERAL)
    c1.get_ephemerals(t.root)


@scenario("create.acl.empty_list")
def _(t):
    """An empty ACL list is INVALIDACL."""
    c = t.session()
    c.create(t.path("x"), b"", [])
    c.create2(t.path("x"), b"", [])


@scenario("create.acl.null_list")
def _(t):
    """A null ACL vector (count -1) is INVALIDACL (or whatever the server makes of it)."""
    c = t.session()
    body = ustring(t.path("x")) + int32(0) + int32(-1) + int32(0)
    c.raw_request(OpCode.CREATE, body)
    c.exists(t.path("x"))


for _acl_name, _acl in [
    ("unknown_scheme", [acl(31, "foo", "bar")]),
    ("world_not_anyone", [acl(31, "world", "someone")]),
    ("world_read_only", [acl(1, "world", "anyone")]),
    ("ip_single", [acl(31, "ip", "127.0.0.1")]),
    ("ip_cidr", [acl(31, "ip", "127.0.0.0/8")]),
    ("ip_cidr_zero", [acl(31, "ip", "0.0.0.0/0")]),
    ("ip_bad_prefix", [acl(31, "ip", "10.0.0.0/33")]),
    ("ip_not_an_address", [acl(31, "ip", "not-an-ip")]),
    ("ip_ipv6", [acl(31, "ip", "::1")]),
    ("digest_valid", [acl(31, "digest", digest("u", "p"))]),
    ("digest_no_colon", [acl(31, "digest", "justuser")]),
    ("auth_unauthenticated", [acl(31, "auth", "")]),
    ("super_scheme", [acl(31, "super", "x")]),
    ("x509_scheme", [acl(31, "x509", "CN=x")]),
    ("sasl_scheme", [acl(31, "sasl", "x")]),
    ("perms_zero", [acl(0, "world", "anyone")]),
    ("perms_32", [acl(32, "world", "anyone")]),
    ("perms_minus1", [acl(-1, "world", "anyone")]),
    ("duplicate_entries", [acl(31, "world", "anyone"), acl(31, "world", "anyone"), acl(1, "world", "anyone")]),
    ("mixed_valid_invalid", [acl(31, "world", "anyone"), acl(31, "foo", "bar")]),
    ("many_entries", [acl(1, "digest", digest("u%d" % i, "p")) for i in range(20)] + [acl(31, "world", "anyone")]),
]:

    def _f(t, a=_acl):
        c = t.session()
        c.create(t.path("x"), b"v", a)
        c.get_acl(t.path("x"))

    register(
        "create.acl.%s" % _acl_name, _f, "create with ACL %s: accepted or INVALIDACL, and the stored ACL." % _acl_name
    )


@scenario("create.acl.auth_after_digest")
def _(t):
    """The auth scheme expands to the session's digest identity (the ip identity is not added)."""
    c = t.session()
    add_digest(c, "alice", "secret")
    c.create(t.path("x"), b"", [acl(31, "auth", "")])
    c.get_acl(t.path("x"))
    c.create(t.path("y"), b"", [acl(31, "auth", "ignored-id")])
    c.get_acl(t.path("y"))


@scenario("create.acl.auth_with_two_digests")
def _(t):
    """With two digest identities, the auth scheme expands to both, in the order they were added."""
    c = t.session()
    add_digest(c, "alice", "a")
    add_digest(c, "bob", "b")
    c.create(t.path("x"), b"", [acl(31, "auth", "")])
    c.get_acl(t.path("x"))


@scenario("create.acl.digest_needs_matching_auth")
def _(t):
    """A node created with a digest ACL of another user cannot be read back by its creator."""
    c = t.session()
    c.create(t.path("x"), b"v", [acl(31, "digest", digest("u", "p"))])
    c.get_data(t.path("x"))
    add_digest(c, "u", "p")
    c.get_data(t.path("x"))


@scenario("create.parent_without_create_perm")
def _(t):
    """Creating under a parent whose ACL lacks CREATE is NOAUTH (and consumes a zxid)."""
    c = t.session()
    c.create(t.path("p"), b"", [acl(31 & ~4, "world", "anyone")])
    c.create(t.path("p", "x"))
    c.create(t.path("p", "y"), flags=CreateMode.EPHEMERAL)
    c.ping()


@scenario("create.root_and_system_paths")
def _(t):
    """Creating "/", "/zookeeper", "/zookeeper/quota" and "/zookeeper/config": which errors."""
    c = t.session()
    for p in ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        c.create(p)
    c.ping()


@scenario("create.under_zookeeper_config")
def _(t):
    """Creating a child of /zookeeper/config (READ-only ACL) is NOAUTH."""
    c = t.session()
    c.create("/zookeeper/config/x")
    c.ping()


@scenario("create.malformed.truncated_body")
def _(t):
    """A create whose body stops inside the ACL vector: MARSHALLINGERROR, and whether it consumes a zxid."""
    c = t.session()
    c.ping()
    body = r.CreateRequest(t.path("x"), b"d", OPEN_ACL, 0).to_bytes()
    c.raw_request(OpCode.CREATE, body[:-6], timeout_s=3)
    if not c.closed:
        c.create(t.path("y"))


@scenario("create.malformed.trailing_bytes")
def _(t):
    """A create with extra bytes after its body is executed normally."""
    c = t.session()
    body = r.CreateRequest(t.path("x"), b"d", OPEN_ACL, 0).to_bytes() + b"\x00" * 7
    c.raw_request(OpCode.CREATE, body)
    c.exists(t.path("x"))


@scenario("create.malformed.negative_data_length")
def _(t):
    """A data buffer length of -2 (not the null marker): MARSHALLINGERROR, and whether it consumes a zxid."""
    c = t.session()
    c.ping()
    body = ustring(t.path("x")) + int32(-2) + r.CreateRequest("", b"", OPEN_ACL, 0).to_bytes()[8:]
    c.raw_request(OpCode.CREATE, body, timeout_s=3)
    if not c.closed:
        c.create(t.path("y"))


@scenario("create.malformed.huge_string_length")
def _(t):
    """A path length far beyond the frame: MARSHALLINGERROR, and whether it consumes a zxid."""
    c = t.session()
    c.ping()
    body = int32(1 << 30) + b"/abc" + int64(0)
    c.raw_request(OpCode.CREATE, body, timeout_s=3)
    if not c.closed:
        c.create(t.path("y"))


@scenario("create.malformed.null_path")
def _(t):
    """A null path (length -1) in create: MARSHALLINGERROR, and whether it consumes a zxid."""
    c = t.session()
    c.ping()
    body = ustring(None) + r.CreateRequest("", b"", OPEN_ACL, 0).to_bytes()[4:]
    c.raw_request(OpCode.CREATE, body, timeout_s=3)
    if not c.closed:
        c.create(t.path("y"))


@scenario("create.data_at_limits")
def _(t):
    """Data of 0, 1 KiB and 60 000 bytes (below jute.maxbuffer=65536) is stored whole."""
    c = t.session()
    for n, size in (("a", 0), ("b", 1024), ("c", 60000)):
        c.create(t.path(n), b"z" * size)
        c.exists(t.path(n))
