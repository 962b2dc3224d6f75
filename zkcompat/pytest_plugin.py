"""pytest fixtures for code that uses ZooKeeper: installing zkcompat is enough.

- ``zk_server``: one in-process zkcompat server for the test session (an
  ``EmbeddedServer``: real ZooKeeper protocol, in memory, on a free port);
- ``zk_hosts``: a connection string with a fresh chroot for each test, so
  tests sharing the server never see each other's znodes;
- ``zk_control``: the same server, for its fault controls
  (``expire_session``, ``drop_connections``, ``reject_connections``, and
  ZooKeeperServerController's request faults ``delay_requests(ms)``,
  ``fail_requests(n)``, ``drop_requests(n)``, ``reset_faults()``; a test that
  sets a fault should reset it, since the server is shared);
- ``zk_ensemble``: a fresh three-member ensemble for each test (an
  ``EmbeddedEnsemble``: in memory, on loopback, tickTime 200 ms, started once
  every member serves).  ``zk_ensemble.hosts`` names all members,
  ``member_hosts(n)`` one; its controls (``kill``, ``restart``, ``pause``,
  ``resume``, ``partition``, ``heal``, ``force_election``, ``leader``,
  ``mode`` and the request faults per member) act on the members as the real
  faults would.
"""

from __future__ import annotations

import itertools

import pytest

_namespaces = itertools.count(1)


@pytest.fixture(scope="session")
def zk_server():
    from zkcompat.testing import EmbeddedServer

    server = EmbeddedServer().start()
    yield server
    server.stop()


@pytest.fixture
def zk_hosts(zk_server, request):
    from zkcompat.testing import create_path

    chroot = "/zkcompat-test-%d" % next(_namespaces)
    create_path(zk_server.hosts, chroot)
    return zk_server.hosts + chroot


@pytest.fixture
def zk_control(zk_server):
    return zk_server


@pytest.fixture
def zk_ensemble():
    from zkcompat.testing import EmbeddedEnsemble

    ensemble = EmbeddedEnsemble(3).start()
    yield ensemble
    ensemble.stop()
