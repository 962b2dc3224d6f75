"""Micro-benchmarks of ``zkcompat.core.tree.DataTree``: create, setData, get, delete of one znode.

The tree holds 10,000 sibling znodes, so that lookups and child sets are not trivially small.
"""

from __future__ import annotations

import itertools

import pytest

from protocol import records
from protocol.records import Stat
from zkcompat.core.tree import DataTree

OPEN_ACL = [records.ACL(31, records.Id("world", "anyone"))]
VALUE = b"x" * 1024
SIBLINGS = 10_000


@pytest.fixture
def tree():
    t = DataTree()
    t.create_node("/b", b"", OPEN_ACL, 0, -1, 1, 1, False)
    for i in range(SIBLINGS):
        t.create_node("/b/n%d" % i, VALUE, OPEN_ACL, 0, -1, 2 + i, 2, False)
    return t


def test_tree_create(benchmark, tree):
    names = ("/b/new%d" % i for i in itertools.count())
    zxids = itertools.count(100_000)
    benchmark(lambda: tree.create_node(next(names), VALUE, OPEN_ACL, 0, -1, next(zxids), 3, True))
    assert tree.get("/b/new0").data == VALUE


def test_tree_set_data(benchmark, tree):
    # the txn carries the new version (prep computed it); apply only stores it
    versions = itertools.count(1)
    zxids = itertools.count(100_000)
    stat = Stat.from_bytes(benchmark(lambda: tree.set_data("/b/n5000", VALUE, next(versions), next(zxids), 4)))
    assert stat.version >= 1 and stat.data_length == len(VALUE)


def test_tree_get(benchmark, tree):
    def get():
        node = tree.get("/b/n5000")
        return node.data, tree.stat_bytes(node)

    data, stat = benchmark(get)
    assert data == VALUE and len(stat) == 68


def test_tree_delete(benchmark, tree):
    # each round deletes a znode that a setup step created (setup is not timed)
    counter = itertools.count()

    def setup():
        i = next(counter)
        tree.create_node("/b/d%d" % i, VALUE, OPEN_ACL, 0, -1, 200_000 + 2 * i, 5, False)
        return ("/b/d%d" % i, 200_001 + 2 * i), {}

    benchmark.pedantic(tree.delete_node, setup=setup, rounds=2000)
    assert tree.get("/b/d0") is None
    assert tree.node_count == len(tree.nodes)  # ZooKeeper counts the root twice ("" and "/"), as here
