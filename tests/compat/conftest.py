"""Fixtures for the real-client compatibility suite.

By default the suite runs against zkcompat (``python -m zkcompat serve``).  With
``ZKCOMPAT_TARGET=real`` the very same tests run against Apache ZooKeeper 3.8:
that is the control run, and the reference for every expectation here.

Both servers are configured alike: tickTime=2000, minSessionTimeout=4000,
maxSessionTimeout=40000, extended types (TTL) enabled, a super digest for
``super:test`` and every four-letter word whitelisted.

Every test gets its own chroot (``/compat/<test>-<uuid>``), so no test ever
sees another test's nodes; an admin client authenticated as ``super`` creates
the chroot and removes it afterwards whatever ACLs the test left behind.
"""

from __future__ import annotations

import re
import sys
import uuid
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

_HERE = Path(__file__).resolve().parent
for _p in (_HERE,):  # compat_helpers
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from compat_helpers import (
    FLUSH_ROOT,
    SUPER_PASSWORD,
    SUPER_USER,
    WAIT,
    EventCollector,
    attach_raw_events,
    detach_raw_events,
    digest,
    target,
)

from zkcompat.servers import RealZooKeeper, ZkcompatProcess

TICK_TIME = 2000
MIN_SESSION_TIMEOUT = 4000
MAX_SESSION_TIMEOUT = 40000
ROOT = FLUSH_ROOT  # every test chroot lives below it
SUPER_DIGEST = digest(SUPER_USER, SUPER_PASSWORD)


def make_server():
    if target() == "real":
        return RealZooKeeper(
            tick_time=TICK_TIME,
            min_session_timeout=MIN_SESSION_TIMEOUT,
            max_session_timeout=MAX_SESSION_TIMEOUT,
            extended_types=True,
            super_digest=SUPER_DIGEST,
            four_letter_words="*",
        )
    return ZkcompatProcess(
        config={
            "tickTime": str(TICK_TIME),
            "minSessionTimeout": str(MIN_SESSION_TIMEOUT),
            "maxSessionTimeout": str(MAX_SESSION_TIMEOUT),
            "extendedTypesEnabled": "true",
            "DigestAuthenticationProvider.superDigest": SUPER_DIGEST,
            "4lw.commands.whitelist": "*",
        }
    )


@pytest.fixture(scope="session")
def zk_server():
    """The server under test (zkcompat, or Apache ZooKeeper with ZKCOMPAT_TARGET=real)."""
    server = make_server()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def zk_hosts(zk_server) -> str:
    """Connection string of the server under test, without chroot."""
    return zk_server.hosts


@pytest.fixture(scope="session")
def zk_admin(zk_hosts):
    """A session-wide client authenticated as the super user (bypasses every ACL)."""
    client = KazooClient(hosts=zk_hosts, timeout=10.0, auth_data=[("digest", "%s:%s" % (SUPER_USER, SUPER_PASSWORD))])
    client.start(timeout=WAIT)
    client.ensure_path(ROOT)
    try:
        yield client
    finally:
        client.stop()
        client.close()


@pytest.fixture
def zk_chroot(request, zk_admin) -> str:
    """A fresh, unique, empty absolute path for this test; removed (with everything below) afterwards."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:60]
    path = "%s/%s-%s" % (ROOT, name, uuid.uuid4().hex[:8])
    zk_admin.create(path)
    yield path
    try:
        zk_admin.delete(path, recursive=True)
    except NoNodeError:
        pass


class ClientFactory:
    """Makes started KazooClients (chrooted to the test's path by default) and stops them all at teardown."""

    def __init__(self, hosts: str, chroot: str):
        self.hosts = hosts
        self.chroot = chroot
        self.clients: list[KazooClient] = []

    def __call__(self, *, chroot: str | None | bool = True, start: bool = True, **kwargs) -> KazooClient:
        if chroot is True:
            hosts = self.hosts + self.chroot
        elif chroot in (False, None):
            hosts = self.hosts
        else:
            hosts = self.hosts + chroot
        kwargs.setdefault("timeout", 10.0)
        raw = attach_raw_events(kwargs)
        client = KazooClient(hosts=hosts, **kwargs)
        client.raw_events = raw  # every notification off the wire: see compat_helpers.RawEvents
        self.clients.append(client)
        if start:
            client.start(timeout=WAIT)
        return client

    def close_all(self) -> None:
        for client in reversed(self.clients):
            try:
                client.stop()
            finally:
                client.close()
                detach_raw_events(client)
        self.clients.clear()


@pytest.fixture
def zk_factory(zk_hosts, zk_chroot):
    """Factory for extra clients: ``zk_factory(**KazooClient_kwargs)``; chroot=False for an unchrooted one."""
    factory = ClientFactory(zk_hosts, zk_chroot)
    try:
        yield factory
    finally:
        factory.close_all()


@pytest.fixture
def zk(zk_factory):
    """A connected KazooClient chrooted to this test's private path."""
    return zk_factory()


@pytest.fixture
def events():
    """The EventCollector class: ``c = events()`` gives a fresh thread-safe callback sink."""
    return EventCollector


@pytest.fixture
def kazoo(embedded):
    """A started kazoo client of the module's own ``embedded`` server fixture."""
    from kazoo.client import KazooClient

    client = KazooClient(hosts=embedded.hosts, timeout=10.0)
    client.start(timeout=10)
    yield client
    client.stop()
    client.close()
