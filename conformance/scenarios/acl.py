"""ACLs and authentication: getACL/setACL, permission checks per operation, digest, ip, world, auth, super, whoAmI."""

from __future__ import annotations

from protocol.codes import CreateMode, OpCode, Xid

from ..client import OPEN_ACL, READ_ACL, acl, digest
from ..client import MultiOp as M
from . import register, scenario
from .common import add_digest, add_super, digest_acl

ALL, READ, WRITE, CREATE, DELETE, ADMIN = 31, 1, 2, 4, 8, 16

# --- getACL / setACL ------------------------------------------------------------------------------


@scenario("acl.get_acl.open_node")
def _(t):
    """getACL of an open node returns world:anyone ALL and the node's Stat."""
    c = t.session()
    c.create(t.path("a"))
    c.get_acl(t.path("a"))


@scenario("acl.get_acl.missing")
def _(t):
    """getACL of a missing node is NONODE."""
    c = t.session()
    c.get_acl(t.path("missing"))


@scenario("acl.get_acl.needs_read_or_admin")
def _(t):
    """getACL works with READ only or ADMIN only, and is NOAUTH with neither."""
    c = t.session()
    c.create(t.path("r"), b"", [acl(READ, "world", "anyone")])
    c.create(t.path("a"), b"", [acl(ADMIN, "world", "anyone")])
    c.create(t.path("w"), b"", [acl(WRITE | CREATE | DELETE, "world", "anyone")])
    for n in "raw":
        c.get_acl(t.path(n))


@scenario("acl.get_acl.digest_shown_to_reader")
def _(t):
    """A reader without ADMIN sees digest ids masked as "user:x"."""
    c = t.session()
    c.create(t.path("x"), b"", [acl(READ, "world", "anyone"), digest_acl(ALL, "u", "p")])
    c.get_acl(t.path("x"))


@scenario("acl.set_acl.basic")
def _(t):
    """setACL replaces the ACL, bumps aversion only (not version/cversion/mzxid), and returns the Stat."""
    c = t.session()
    c.create(t.path("a"), b"d")
    c.set_acl(t.path("a"), [acl(READ | WRITE | ADMIN, "world", "anyone")])
    c.get_acl(t.path("a"))
    c.exists(t.path("a"))


@scenario("acl.set_acl.versions")
def _(t):
    """setACL checks the ACL version (aversion): wrong is BADVERSION, exact and -1 succeed."""
    c = t.session()
    c.create(t.path("a"))
    c.set_acl(t.path("a"), OPEN_ACL, version=3)
    c.set_acl(t.path("a"), OPEN_ACL, version=0)
    c.set_acl(t.path("a"), OPEN_ACL, version=0)
    c.set_acl(t.path("a"), OPEN_ACL, version=-1)
    c.get_acl(t.path("a"))


@scenario("acl.set_acl.missing")
def _(t):
    """setACL on a missing node is NONODE."""
    c = t.session()
    c.set_acl(t.path("missing"), OPEN_ACL)


@scenario("acl.set_acl.needs_admin")
def _(t):
    """setACL without ADMIN is NOAUTH even with every other permission."""
    c = t.session()
    c.create(t.path("a"), b"", [acl(ALL & ~ADMIN, "world", "anyone")])
    c.set_acl(t.path("a"), OPEN_ACL)
    c.create(t.path("b"), b"", [acl(ADMIN, "world", "anyone")])
    c.set_acl(t.path("b"), OPEN_ACL)


@scenario("acl.set_acl.invalid")
def _(t):
    """setACL with an empty list, an unknown scheme, a bad ip, or auth without identities is INVALIDACL."""
    c = t.session()
    c.create(t.path("a"))
    for bad in ([], [acl(ALL, "foo", "x")], [acl(ALL, "ip", "1.2.3")], [acl(ALL, "auth", "")]):
        c.set_acl(t.path("a"), bad)
    c.get_acl(t.path("a"))


@scenario("acl.set_acl.auth_expands")
def _(t):
    """setACL with the auth scheme stores the session's digest identities."""
    c = t.session()
    add_digest(c, "carol", "pw")
    c.create(t.path("a"))
    c.set_acl(t.path("a"), [acl(ALL, "auth", "")])
    c.get_acl(t.path("a"))


@scenario("acl.set_acl.lock_out_self")
def _(t):
    """After setting an ACL that excludes the caller, reads, writes and ACL operations are NOAUTH."""
    c = t.session()
    c.create(t.path("a"), b"v")
    c.set_acl(t.path("a"), [digest_acl(ALL, "other", "pw")])
    c.get_data(t.path("a"))
    c.set_data(t.path("a"), b"w")
    c.get_acl(t.path("a"))
    c.set_acl(t.path("a"), OPEN_ACL)
    c.get_children(t.path("a"))
    c.create(t.path("a", "x"))


@scenario("acl.exists_requires_read.locked_out")
def _(t):
    """exists on a node whose ACL excludes the caller: 3.8.0 returns the Stat (ZOOKEEPER-2590: NOAUTH in 3.8.4)."""
    c = t.session()
    c.create(t.path("a"), b"v")
    c.set_acl(t.path("a"), [digest_acl(ALL, "other", "pw")])
    c.exists(t.path("a"))
    c.exists(t.path("missing"))


@scenario("acl.set_acl.system_nodes")
def _(t):
    """setACL on /zookeeper/config (READ only for world) is NOAUTH."""
    c = t.session()
    c.set_acl("/zookeeper/config", OPEN_ACL)
    c.get_acl("/zookeeper/config")


# --- one permission at a time ---------------------------------------------------------------------

_PERM_OPS = {
    "get_data": lambda t, c: c.get_data(t.path("n")),
    "exists": lambda t, c: c.exists(t.path("n")),
    "get_children": lambda t, c: c.get_children(t.path("n")),
    "get_children2": lambda t, c: c.get_children2(t.path("n")),
    "get_all_children_number": lambda t, c: c.get_all_children_number(t.path("n")),
    "set_data": lambda t, c: c.set_data(t.path("n"), b"new"),
    "create_child": lambda t, c: c.create(t.path("n", "child")),
    "delete_child": lambda t, c: c.delete(t.path("n", "kid")),
    "get_acl": lambda t, c: c.get_acl(t.path("n")),
    "set_acl": lambda t, c: c.set_acl(t.path("n"), [acl(ALL, "digest", digest("owner", "pw"))]),
    "add_watch": lambda t, c: c.add_watch(t.path("n"), 0),
    "multi_read": lambda t, c: c.multi_read([M.get_data(t.path("n")), M.get_children(t.path("n"))]),
    "sync": lambda t, c: c.sync(t.path("n")),
}

for _perm_name, _perm in [
    ("read", READ),
    ("write", WRITE),
    ("create", CREATE),
    ("delete", DELETE),
    ("admin", ADMIN),
    ("none", 0),
]:

    def _f(t, perm=_perm):
        owner = t.session()
        add_digest(owner, "owner", "pw")
        owner.create(t.path("n"), b"data", [digest_acl(ALL, "owner", "pw"), acl(perm, "world", "anyone")])
        owner.create(t.path("n", "kid"), b"", OPEN_ACL)
        c = t.session()
        for name, op in _PERM_OPS.items():
            if name == "exists":
                continue  # exists needs READ only since 3.8.4: see acl.exists_requires_read
            op(t, c)
        owner.get_children2(t.path("n"))

    register(
        "acl.perm.%s" % _perm_name,
        _f,
        "An unauthenticated session granted only %s: which operations pass and which are NOAUTH." % _perm_name.upper(),
    )


@scenario("acl.exists_requires_read")
def _(t):
    """exists on a node the caller may not READ: 3.8.0 returns the Stat (ZOOKEEPER-2590 makes it NOAUTH in 3.8.4)."""
    owner = t.session()
    add_digest(owner, "owner", "pw")
    owner.create(t.path("n"), b"data", [digest_acl(ALL, "owner", "pw")])
    c = t.session()
    c.exists(t.path("n"))
    c.exists(t.path("n"), watch=True)
    owner.set_data(t.path("n"), b"x")
    c.barrier()


# --- digest, ip, world, super ---------------------------------------------------------------------


@scenario("acl.digest.match")
def _(t):
    """A digest ACL grants exactly the user whose user:password hashes to it."""
    c1 = t.session()
    add_digest(c1, "dave", "right")
    c1.create(t.path("a"), b"v", [digest_acl(ALL, "dave", "right")])
    c1.get_data(t.path("a"))
    c2 = t.session()
    add_digest(c2, "dave", "wrong")
    c2.get_data(t.path("a"))
    c3 = t.session()
    add_digest(c3, "dave", "right")
    c3.get_data(t.path("a"))


@scenario("acl.digest.multiple_identities")
def _(t):
    """A session with several digest identities is granted by any of them."""
    c = t.session()
    add_digest(c, "u1", "p1")
    add_digest(c, "u2", "p2")
    c.create(t.path("a"), b"v", [digest_acl(READ, "u2", "p2")])
    c.get_data(t.path("a"))
    c.who_am_i()


@scenario("acl.ip.match_and_mismatch")
def _(t):
    """ip ACLs match 127.0.0.1 exactly, by prefix (/8, /32), and do not match 10.0.0.0/8."""
    c = t.session()
    for name, ip in (
        ("exact", "127.0.0.1"),
        ("p8", "127.0.0.0/8"),
        ("p32", "127.0.0.1/32"),
        ("other", "10.0.0.0/8"),
        ("p0", "0.0.0.0/0"),
        ("host", "127.0.0.2"),
    ):
        c.create(t.path(name), b"v", [acl(READ, "ip", ip)])
        c.get_data(t.path(name))


@scenario("acl.world.read_only_node")
def _(t):
    """A world:anyone READ node can be read but not written, deleted under, or re-ACLed."""
    c = t.session()
    c.create(t.path("a"), b"v", READ_ACL)
    c.get_data(t.path("a"))
    c.set_data(t.path("a"), b"w")
    c.create(t.path("a", "x"))
    c.set_acl(t.path("a"), OPEN_ACL)


@scenario("acl.super.bypasses_acl")
def _(t):
    """The super digest (superDigest) reads, writes and re-ACLs a node whose ACL names someone else."""
    c = t.session()
    c.create(t.path("a"), b"v", [digest_acl(ALL, "nobody", "x")])
    c.get_data(t.path("a"))
    add_super(c)
    c.get_data(t.path("a"))
    c.set_data(t.path("a"), b"w")
    c.get_acl(t.path("a"))
    c.set_acl(t.path("a"), OPEN_ACL)
    c.who_am_i()


@scenario("acl.super.wrong_password")
def _(t):
    """Authenticating as super with a wrong password yields a plain digest identity without super powers."""
    c = t.session()
    c.create(t.path("a"), b"v", [digest_acl(ALL, "nobody", "x")])
    add_digest(c, "super", "wrong")
    c.get_data(t.path("a"))
    c.who_am_i()


@scenario("acl.super.auth_scheme_acl")
def _(t):
    """A super session creating with the auth scheme: which identities the ACL gets."""
    c = t.session()
    add_super(c)
    c.create(t.path("a"), b"", [acl(ALL, "auth", "")])
    c.get_acl(t.path("a"))


@scenario("acl.creator_all_across_sessions")
def _(t):
    """CREATOR_ALL (auth scheme) protects a node from another session until it authenticates as the creator."""
    c1 = t.session()
    add_digest(c1, "erin", "pw")
    c1.create(t.path("a"), b"v", [acl(ALL, "auth", "")])
    c2 = t.session()
    c2.get_data(t.path("a"))
    add_digest(c2, "erin", "pw")
    c2.get_data(t.path("a"))


@scenario("acl.ephemeral_with_restrictive_acl")
def _(t):
    """An ephemeral with an ACL its owner cannot delete still vanishes when the session closes."""
    c1 = t.session()
    c2 = t.session()
    c1.create(t.path("e"), b"", [acl(READ, "world", "anyone")], flags=CreateMode.EPHEMERAL)
    c1.close_session()
    c1.wait_close()
    c2.exists(t.path("e"))


@scenario("acl.multi_noauth")
def _(t):
    """A multi whose second op lacks permission fails whole with NOAUTH in place and RUNTIMEINCONSISTENCY after."""
    c = t.session()
    c.create(t.path("ro"), b"", READ_ACL)
    c.multi([M.create(t.path("a")), M.set_data(t.path("ro"), b"x"), M.create(t.path("b"))])
    c.get_children(t.root)


# --- the auth packet -----------------------------------------------------------------------------


@scenario("auth.digest_ok")
def _(t):
    """A digest auth packet is answered with xid -4, err 0 (and zxid 0), and whoAmI lists the identity."""
    c = t.session()
    add_digest(c, "frank", "pw")
    c.who_am_i()


@scenario("auth.unknown_scheme")
def _(t):
    """An auth packet with an unknown scheme is answered AUTHFAILED and the connection is closed."""
    c = t.session()
    c.auth("nosuchscheme", b"x")
    c.wait_close()


@scenario("auth.digest_without_colon")
def _(t):
    """A digest auth without "user:password" form: accepted or AUTHFAILED."""
    c = t.session()
    c.auth("digest", b"nocolon")
    if not c.closed:
        c.who_am_i()


@scenario("auth.digest_empty")
def _(t):
    """A digest auth with empty credentials."""
    c = t.session()
    c.auth("digest", b"")
    if not c.closed:
        c.who_am_i()


@scenario("auth.ip_scheme")
def _(t):
    """An auth packet for the ip scheme (which authenticates by address, not by packet)."""
    c = t.session()
    c.auth("ip", b"127.0.0.1")
    if not c.closed:
        c.who_am_i()


@scenario("auth.world_scheme")
def _(t):
    """An auth packet for the world scheme."""
    c = t.session()
    c.auth("world", b"anyone")
    if not c.closed:
        c.who_am_i()


@scenario("auth.same_identity_twice")
def _(t):
    """Adding the same digest twice: whoAmI lists it once or twice."""
    c = t.session()
    add_digest(c, "gina", "pw")
    add_digest(c, "gina", "pw")
    c.who_am_i()


@scenario("auth.normal_xid")
def _(t):
    """An auth packet sent with an ordinary xid (5) instead of -4: the reply's xid."""
    c = t.session()
    c.submit(OpCode.AUTH, None, xid=5, body=__import__("protocol").records.AuthPacket(0, "digest", b"h:pw").to_bytes())
    c.wait_for(lambda e: e.kind in ("reply", "closed"), "auth reply")
    c.who_am_i()


@scenario("auth.type_field_ignored")
def _(t):
    """The AuthPacket's type field (here 7) does not change the outcome."""
    c = t.session()
    c.auth("digest", b"ivan:pw", auth_type=7)
    c.who_am_i()


@scenario("auth.pipelined_with_requests")
def _(t):
    """An auth packet then two requests in one write: answered in order, and the requests see the identity.

    (Not the other way round: ZooKeeper answers auth on the connection thread, outside the request
    pipeline, so an auth pipelined *after* a request may be answered before that request: racy.)
    """
    from protocol import records as r

    c = t.session()
    data = c.encode_request(OpCode.AUTH, r.AuthPacket(0, "digest", b"judy:pw"), xid=Xid.AUTH)
    data += c.encode_request(OpCode.EXISTS, r.ExistsRequest(t.root, False))
    data += c.encode_request(OpCode.WHO_AM_I)
    c.send_bytes(data)
    for _ in range(3):
        c.wait_for(lambda e: e.kind == "reply", "reply")


@scenario("auth.failed_closes_but_session_lives")
def _(t):
    """After AUTHFAILED closes the connection, the session itself survives and can be resumed."""
    c1 = t.session()
    c1.create(t.path("e"), flags=CreateMode.EPHEMERAL)
    c1.auth("bogus", b"x")
    c1.wait_close()
    c2 = t.reconnect(c1)
    c2.exists(t.path("e"))


@scenario("auth.whoami_order")
def _(t):
    """whoAmI lists identities in the server's set order (not the order added): several digests and ip."""
    c = t.session()
    for u in ("zed", "amy", "bob", "frank", "ivan", "gina"):
        add_digest(c, u, "pw")
    c.who_am_i()


@scenario("auth.whoami_after_super")
def _(t):
    """whoAmI after authenticating as super lists the ip and the super digest identity."""
    c = t.session()
    add_super(c)
    c.who_am_i()
