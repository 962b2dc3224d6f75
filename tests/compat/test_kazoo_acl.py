"""ACLs and authentication through kazoo: schemes world/digest/ip/auth, permissions, super user, errors."""

from __future__ import annotations

import pytest
from compat_helpers import SUPER_PASSWORD, SUPER_USER, target
from kazoo.client import KazooState
from kazoo.exceptions import AuthFailedError, BadVersionError, InvalidACLError, NoAuthError
from kazoo.security import (
    ACL,
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Id,
    Permissions,
    make_acl,
    make_digest_acl,
    make_digest_acl_credential,
)

ALL = Permissions.ALL


def _acl_key(acl):
    return (acl.id.scheme, acl.id.id, acl.perms)


def _sorted(acls):
    return sorted(acls, key=_acl_key)


@pytest.fixture
def superuser(zk_factory):
    """A client (same chroot) authenticated as the configured super user."""
    return zk_factory(auth_data=[("digest", "%s:%s" % (SUPER_USER, SUPER_PASSWORD))])


def test_default_acl_is_world_anyone_all(zk):
    """A node created without an ACL gets world:anyone with all permissions (kazoo's default)."""
    zk.create("/open")
    acls, stat = zk.get_acls("/open")
    assert acls == [ACL(ALL, Id("world", "anyone"))]
    assert stat == zk.exists("/open")


def test_digest_acl_denies_anonymous_and_allows_authenticated(zk, zk_factory):
    """A digest ACL refuses every guarded op to other identities (NoAuthError) and allows its user."""
    zk.add_auth("digest", "alice:secret")
    zk.create("/private", b"data", acl=[make_digest_acl("alice", "secret", all=True)])
    zk.create("/private/child")

    anon = zk_factory()
    for call in (
        lambda: anon.get("/private"),
        lambda: anon.set("/private", b"x"),
        lambda: anon.get_children("/private"),
        lambda: anon.create("/private/new"),
        lambda: anon.delete("/private/child"),
        lambda: anon.get_acls("/private"),
        lambda: anon.set_acls("/private", OPEN_ACL_UNSAFE),
    ):
        with pytest.raises(NoAuthError):
            call()
    if target() == "real":
        # Debian's 3.8.0 answers exists() without an ACL check
        assert anon.exists("/private").dataLength == 4
    else:
        # since 3.8.4 exists() needs READ (ZOOKEEPER-2590): zkcompat follows the newest 3.8.x
        with pytest.raises(NoAuthError):
            anon.exists("/private")
    assert anon.sync("/private") == "/private"

    wrong = zk_factory(auth_data=[("digest", "alice:wrong")])
    with pytest.raises(NoAuthError):
        wrong.get("/private")

    right = zk_factory(auth_data=[("digest", "alice:secret")])
    assert right.get("/private")[0] == b"data"
    right.set("/private", b"new")
    right.create("/private/new")
    right.delete("/private/child")
    assert sorted(right.get_children("/private")) == ["new"]


def test_add_auth_later_grants_access(zk, zk_factory):
    """add_auth on a connected session grants access from then on."""
    zk.create("/p", b"x", acl=[make_digest_acl("bob", "pw", read=True)])
    other = zk_factory()
    with pytest.raises(NoAuthError):
        other.get("/p")
    other.add_auth("digest", "bob:pw")
    assert other.get("/p")[0] == b"x"
    assert other.add_auth_async("digest", "carol:pw").get(timeout=10) is True


@pytest.mark.parametrize(
    "perm, allowed",
    [
        ("read", {"get", "get_children", "get_acls"}),
        ("write", {"set"}),
        ("create", {"create"}),
        ("delete", {"delete"}),
        ("admin", {"set_acls", "get_acls"}),
    ],
)
def test_each_permission_guards_its_operations(zk, superuser, zk_factory, perm, allowed):
    """Each permission bit allows exactly its operations (getACL needs READ or ADMIN)."""
    superuser.create("/n", b"d", acl=[make_acl("world", "anyone", **{perm: True})])
    superuser.create("/n/victim")
    client = zk_factory()
    ops = {
        "get": lambda: client.get("/n"),
        "get_children": lambda: client.get_children("/n"),
        "get_acls": lambda: client.get_acls("/n"),
        "set": lambda: client.set("/n", b"w"),
        "create": lambda: client.create("/n/new"),
        "delete": lambda: client.delete("/n/victim"),
        "set_acls": lambda: client.set_acls("/n", [make_acl("world", "anyone", **{perm: True})]),
    }
    outcome = {}
    for name, op in ops.items():
        try:
            op()
            outcome[name] = True
        except NoAuthError:
            outcome[name] = False
    assert {name for name, ok in outcome.items() if ok} == allowed


def test_delete_checks_parent_not_node(zk):
    """Deleting needs DELETE on the parent; the node's own ACL (even no permissions) does not matter."""
    zk.create("/parent")
    zk.create("/parent/locked", acl=[ACL(0, Id("world", "anyone"))])
    with pytest.raises(NoAuthError):
        zk.get("/parent/locked")
    zk.delete("/parent/locked")
    zk.create("/nodel", acl=[make_acl("world", "anyone", read=True, create=True)])
    zk.create("/nodel/child")
    with pytest.raises(NoAuthError):
        zk.delete("/nodel/child")


def test_acls_are_or_of_matching_entries(zk, zk_factory):
    """Permissions are the union over all matching ACL entries."""
    acl = [make_acl("world", "anyone", read=True), make_digest_acl("w", "pw", write=True)]
    zk.create("/mix", b"0", acl=acl)
    anon = zk_factory()
    writer = zk_factory(auth_data=[("digest", "w:pw")])
    assert anon.get("/mix")[0] == b"0"
    with pytest.raises(NoAuthError):
        anon.set("/mix", b"1")
    writer.set("/mix", b"1")
    assert writer.get("/mix")[0] == b"1"


def test_get_acls_redacts_digest_without_admin(zk, zk_factory):
    """getACL by a reader without ADMIN shows digest ids as 'user:x'; with ADMIN the full hash."""
    digest_id = make_digest_acl_credential("bob", "pw")
    zk.create("/r", acl=[ACL(Permissions.READ, Id("world", "anyone")), ACL(ALL, Id("digest", digest_id))])
    anon = zk_factory()
    assert anon.get_acls("/r")[0] == [
        ACL(Permissions.READ, Id("world", "anyone")),
        ACL(ALL, Id("digest", "bob:x")),
    ]
    bob = zk_factory(auth_data=[("digest", "bob:pw")])
    assert bob.get_acls("/r")[0] == [ACL(Permissions.READ, Id("world", "anyone")), ACL(ALL, Id("digest", digest_id))]


def test_creator_all_acl_expands_to_authenticated_digest_ids(zk):
    """CREATOR_ALL_ACL (scheme auth) is stored as one digest entry per digest identity of the session."""
    zk.add_auth("digest", "alice:pw")
    zk.add_auth("digest", "bob:pw2")
    zk.add_auth("digest", "alice:pw")  # the same identity twice counts once
    zk.create("/mine", acl=CREATOR_ALL_ACL)
    acls = zk.get_acls("/mine")[0]
    assert _sorted(acls) == _sorted(
        [
            ACL(ALL, Id("digest", make_digest_acl_credential("alice", "pw"))),
            ACL(ALL, Id("digest", make_digest_acl_credential("bob", "pw2"))),
        ]
    )
    # An id given with scheme auth is ignored: it still means "the session's identities".
    # (Read back without ADMIN, so the digests come back redacted.)
    zk.create("/mine2", acl=[ACL(Permissions.READ, Id("auth", "somebody"))])
    assert _sorted(zk.get_acls("/mine2")[0]) == _sorted(
        [ACL(Permissions.READ, Id("digest", "alice:x")), ACL(Permissions.READ, Id("digest", "bob:x"))]
    )


def test_creator_all_acl_without_auth_is_invalid(zk):
    """Scheme auth on a session with no (non-ip) identity fails with InvalidACLError."""
    with pytest.raises(InvalidACLError):
        zk.create("/x", acl=CREATOR_ALL_ACL)
    zk.add_auth("ip", "ignored")  # the ip provider authenticates but does not count for scheme auth
    with pytest.raises(InvalidACLError):
        zk.create("/x", acl=CREATOR_ALL_ACL)
    assert zk.exists("/x") is None


def test_mixed_acl_keeps_order_and_drops_duplicates(zk):
    """ACL entries keep their order, exact duplicates are dropped, auth expands in place."""
    zk.add_auth("digest", "me:pw")
    acl = READ_ACL_UNSAFE + CREATOR_ALL_ACL + READ_ACL_UNSAFE + [make_acl("world", "anyone", write=True)]
    zk.create("/m", acl=acl)
    assert zk.get_acls("/m")[0] == [
        ACL(Permissions.READ, Id("world", "anyone")),
        ACL(ALL, Id("digest", make_digest_acl_credential("me", "pw"))),
        ACL(Permissions.WRITE, Id("world", "anyone")),
    ]


def test_ip_acl(zk, zk_factory):
    """ip ACLs match the client address exactly or by CIDR prefix."""
    zk.create("/lo", b"1", acl=[make_acl("ip", "127.0.0.1", all=True)])
    zk.create("/lo8", b"2", acl=[make_acl("ip", "127.0.0.0/8", read=True)])
    zk.create("/ten", b"3", acl=[make_acl("ip", "10.1.2.3", all=True)])
    zk.create("/ten8", b"4", acl=[make_acl("ip", "10.0.0.0/8", all=True)])
    other = zk_factory()
    assert other.get("/lo")[0] == b"1"
    assert other.get("/lo8")[0] == b"2"
    for path in ("/ten", "/ten8"):
        with pytest.raises(NoAuthError):
            other.get(path)


def test_super_user_bypasses_every_acl(zk, superuser):
    """The configured super digest user may do anything, even on a node with no permissions at all."""
    zk.create("/vault", b"gold", acl=[ACL(0, Id("world", "anyone"))])
    for call in (lambda: zk.get("/vault"), lambda: zk.get_acls("/vault"), lambda: zk.create("/vault/x")):
        with pytest.raises(NoAuthError):
            call()
    assert superuser.get("/vault")[0] == b"gold"
    superuser.set("/vault", b"lead")
    superuser.create("/vault/x")
    assert superuser.get_children("/vault") == ["x"]
    assert superuser.get_acls("/vault")[0] == [ACL(0, Id("world", "anyone"))]
    superuser.set_acls("/vault", OPEN_ACL_UNSAFE)
    assert zk.get("/vault")[0] == b"lead"


def test_super_user_creator_all_is_its_digest(superuser):
    """The super user's own identity is digest super:<hash>, which scheme auth expands to."""
    superuser.create("/s", acl=CREATOR_ALL_ACL)
    assert superuser.get_acls("/s")[0] == [
        ACL(ALL, Id("digest", make_digest_acl_credential(SUPER_USER, SUPER_PASSWORD)))
    ]


def test_super_user_with_wrong_password_is_nobody(zk, zk_factory):
    """A super login with the wrong password is just another digest identity."""
    zk.create("/v", acl=[ACL(0, Id("world", "anyone"))])
    impostor = zk_factory(auth_data=[("digest", "%s:wrong" % SUPER_USER)])
    with pytest.raises(NoAuthError):
        impostor.get("/v")


@pytest.mark.parametrize(
    "acl",
    [
        [ACL(ALL, Id("nosuchscheme", "x"))],
        [ACL(ALL, Id("ip", "not-an-ip"))],
        [ACL(ALL, Id("ip", "127.0.0.0/33"))],
        [ACL(ALL, Id("digest", "no-colon"))],
        [ACL(ALL, Id("world", "someone"))],
    ],
    ids=["unknown-scheme", "bad-ip", "bad-cidr", "digest-without-colon", "world-not-anyone"],
)
def test_invalid_acl_rejected_on_create_and_set(zk, acl):
    """Malformed ACLs fail with InvalidACLError, on create and on setACL."""
    with pytest.raises(InvalidACLError):
        zk.create("/bad", acl=acl)
    assert zk.exists("/bad") is None
    zk.create("/good")
    with pytest.raises(InvalidACLError):
        zk.set_acls("/good", acl)
    assert zk.get_acls("/good")[0] == OPEN_ACL_UNSAFE


def test_empty_acl_is_invalid_for_set_acls(zk):
    """setACL with an empty list fails with InvalidACLError."""
    zk.create("/n")
    with pytest.raises(InvalidACLError):
        zk.set_acls("/n", [])


def test_set_acls_versions(zk):
    """setACL bumps aversion only, honours the expected aversion and answers the new stat."""
    _, before = zk.create("/n", b"d", include_data=True)
    stat = zk.set_acls("/n", READ_ACL_UNSAFE + [make_acl("world", "anyone", admin=True)], version=0)
    assert stat == zk.exists("/n")
    assert (stat.aversion, stat.version, stat.cversion, stat.mzxid) == (1, 0, 0, before.mzxid)
    with pytest.raises(BadVersionError):
        zk.set_acls("/n", OPEN_ACL_UNSAFE, version=0)
    assert zk.set_acls_async("/n", OPEN_ACL_UNSAFE, version=1).get(timeout=10).aversion == 2
    assert zk.get_acls_async("/n").get(timeout=10)[0] == OPEN_ACL_UNSAFE


def test_unknown_permission_bits_are_kept(zk):
    """Permission bits outside ALL are stored and returned verbatim (no masking)."""
    zk.create("/odd", acl=[ACL(Permissions.READ | 64, Id("world", "anyone"))])
    assert zk.get_acls("/odd")[0][0].perms == Permissions.READ | 64
    assert zk.get("/odd")[0] == b""


def test_digest_auth_without_colon_is_accepted(zk):
    """add_auth('digest', 'nocolon') succeeds (the digest provider never fails) and the session lives on."""
    assert zk.add_auth("digest", "nocolon") is True
    zk.create("/still-alive")
    assert zk.connected


@pytest.mark.parametrize("scheme", ["nosuchscheme", "world"])
def test_auth_with_unknown_scheme_fails_and_closes_session(zk_factory, events, scheme):
    """add_auth with a scheme that has no auth provider fails with AuthFailedError and the session is lost."""
    client = zk_factory()
    states = events()
    client.add_listener(states)
    with pytest.raises(AuthFailedError):
        client.add_auth(scheme, "anything")
    states.wait_for(lambda items: KazooState.LOST in items, what="LOST after auth failure")


def test_system_config_node_is_read_only(zk_factory):
    """/zookeeper/config is world-readable but writable by nobody except super."""
    root = zk_factory(chroot=False)
    assert root.get_acls("/zookeeper/config")[0] == READ_ACL_UNSAFE
    with pytest.raises(NoAuthError):
        root.set("/zookeeper/config", b"x")
    with pytest.raises(NoAuthError):
        root.create("/zookeeper/config/child")
