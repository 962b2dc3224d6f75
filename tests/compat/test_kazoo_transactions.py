"""kazoo transactions (multi): results on success and the exact shape of every failure."""

from __future__ import annotations

import pytest
from compat_helpers import WAIT
from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import ZnodeStat
from kazoo.security import make_acl


def _kinds(results):
    return [type(r) if isinstance(r, Exception) else r for r in results]


def test_successful_transaction_results(zk):
    """A committed multi answers one result per op: path, stat, True (check), True (delete)."""
    zk.create("/existing", b"v0")
    zk.create("/doomed")
    t = zk.transaction()
    t.create("/new", b"n")
    t.set_data("/existing", b"v1")
    t.check("/existing", 1)
    t.delete("/doomed")
    results = t.commit()
    assert results[0] == "/new"
    assert isinstance(results[1], ZnodeStat) and results[1].version == 1
    assert results[1] == zk.exists("/existing")
    assert results[2:] == [True, True]
    assert zk.get("/new")[0] == b"n"
    assert zk.exists("/doomed") is None


def test_empty_transaction(zk):
    """A multi with no ops succeeds with an empty result list."""
    assert zk.transaction().commit() == []


def test_transaction_ops_see_earlier_ops(zk):
    """Later ops of a multi see the effects of earlier ones (create parent then child, then delete)."""
    t = zk.transaction()
    t.create("/p", b"parent")
    t.create("/p/c", b"child")
    t.set_data("/p/c", b"changed")
    t.check("/p/c", 1)
    t.create("/tmp")
    t.delete("/tmp")
    results = t.commit()
    assert results[:2] == ["/p", "/p/c"]
    assert results[3:] == [True, "/tmp", True]
    assert zk.get("/p/c")[0] == b"changed"
    assert zk.exists("/tmp") is None


def test_transaction_ops_share_one_zxid(zk):
    """Every change made by one multi carries the same zxid."""
    zk.create("/old")
    t = zk.transaction()
    t.create("/a")
    t.create("/b")
    t.set_data("/old", b"x")
    t.commit()
    a, b, old = zk.exists("/a"), zk.exists("/b"), zk.exists("/old")
    assert a.czxid == b.czxid == old.mzxid
    assert zk.exists("/").pzxid == a.czxid


def test_transaction_sequential_and_ephemeral_create(zk):
    """Sequential and ephemeral creates in a multi answer the generated (chroot-relative) name."""
    zk.create("/q")
    t = zk.transaction()
    t.create("/q/item-", sequence=True)
    t.create("/q/item-", sequence=True)
    t.create("/q/eph", ephemeral=True)
    assert t.commit() == ["/q/item-0000000000", "/q/item-0000000001", "/q/eph"]
    assert zk.exists("/q/eph").ephemeralOwner == zk.client_id[0]


def _assert_nothing_happened(zk):
    assert zk.exists("/should-not-exist") is None
    assert zk.exists("/after") is None


@pytest.mark.parametrize(
    "failing_op, error",
    [
        (lambda t: t.check("/target", 5), BadVersionError),
        (lambda t: t.check("/missing", 0), NoNodeError),
        (lambda t: t.create("/target"), NodeExistsError),
        (lambda t: t.create("/missing/child"), NoNodeError),
        (lambda t: t.delete("/parent"), NotEmptyError),
        (lambda t: t.delete("/missing"), NoNodeError),
        (lambda t: t.delete("/target", version=7), BadVersionError),
        (lambda t: t.set_data("/target", b"x", version=3), BadVersionError),
        (lambda t: t.set_data("/missing", b"x"), NoNodeError),
        (lambda t: t.create("/eph/child"), NoChildrenForEphemeralsError),
        (lambda t: t.create("/locked/child"), NoAuthError),
        (lambda t: t.create("/bad\u0000path"), BadArgumentsError),
    ],
    ids=[
        "check-version",
        "check-missing",
        "create-existing",
        "create-no-parent",
        "delete-not-empty",
        "delete-missing",
        "delete-version",
        "set-version",
        "set-missing",
        "create-under-ephemeral",
        "create-no-auth",
        "create-bad-path",
    ],
)
def test_failed_transaction_shape(zk, failing_op, error):
    """A failed multi applies nothing: ops before the failure answer RolledBack, after it RuntimeInconsistency."""
    zk.create("/target", b"t")
    zk.create("/parent/kid", makepath=True)
    zk.create("/eph", ephemeral=True)
    zk.create("/locked", acl=[make_acl("world", "anyone", read=True)])
    before = zk.exists("/target")
    t = zk.transaction()
    t.create("/should-not-exist")
    t.set_data("/target", b"changed")
    failing_op(t)
    t.create("/after")
    results = t.commit()
    assert _kinds(results) == [RolledBackError, RolledBackError, error, RuntimeInconsistency]
    _assert_nothing_happened(zk)
    assert zk.exists("/target") == before


def test_failure_in_first_op(zk):
    """When the first op fails, every later op answers RuntimeInconsistency."""
    zk.create("/p/kid", makepath=True)
    t = zk.transaction()
    t.delete("/p")
    t.create("/after")
    t.create("/after2")
    assert _kinds(t.commit()) == [NotEmptyError, RuntimeInconsistency, RuntimeInconsistency]
    assert zk.exists("/after") is None


def test_failure_depending_on_earlier_op(zk):
    """An op that fails only because of an earlier op of the same multi fails the whole multi."""
    t = zk.transaction()
    t.create("/x")
    t.create("/x")
    assert _kinds(t.commit()) == [RolledBackError, NodeExistsError]
    assert zk.exists("/x") is None
    t = zk.transaction()
    t.create("/y", b"")
    t.set_data("/y", b"1")
    t.check("/y", 0)
    assert _kinds(t.commit()) == [RolledBackError, RolledBackError, BadVersionError]
    assert zk.exists("/y") is None


def test_failed_transaction_does_not_consume_sequence_numbers(zk):
    """A rolled-back sequential create leaves the parent's counter where it was."""
    zk.create("/q")
    t = zk.transaction()
    t.create("/q/n-", sequence=True)
    t.check("/q", 99)
    assert _kinds(t.commit()) == [RolledBackError, BadVersionError]
    assert zk.create("/q/n-", sequence=True) == "/q/n-0000000000"
    assert zk.exists("/q").cversion == 1


def test_transaction_commit_async(zk):
    """commit_async delivers the same results through an async result."""
    t = zk.transaction()
    t.create("/async")
    t.check("/async", 0)
    assert t.commit_async().get(timeout=WAIT) == ["/async", True]


def test_transaction_as_context_manager(zk):
    """The `with zk.transaction()` form commits on exit."""
    with zk.transaction() as t:
        t.create("/cm", b"1")
        t.create("/cm/kid")
    assert zk.get_children("/cm") == ["kid"]
    assert t.committed
