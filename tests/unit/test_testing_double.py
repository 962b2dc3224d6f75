"""The in-process test double and its pytest fixtures, observed through kazoo."""

from __future__ import annotations

import threading

from kazoo.client import KazooClient, KazooState

from zkcompat.testing import EmbeddedServer


def test_embedded_server_serves_kazoo_and_stops():
    """An EmbeddedServer binds a free port, serves a real client, and refuses connections once stopped."""
    import socket

    server = EmbeddedServer().start()
    port = server.port
    try:
        client = KazooClient(server.hosts)
        client.start(timeout=10)
        client.create("/x", b"1")
        assert client.get("/x")[0] == b"1"
        client.stop()
    finally:
        server.stop()
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        refused = False
    except OSError:
        refused = True
    assert refused


def test_zk_hosts_gives_each_test_its_own_namespace(zk_hosts, zk_server):
    """zk_hosts carries a chroot that exists and is empty."""
    client = KazooClient(zk_hosts)
    client.start(timeout=10)
    try:
        assert client.get_children("/") == []
        client.create("/mine")
    finally:
        client.stop()
    assert zk_hosts.startswith(zk_server.hosts + "/zkcompat-test-")


def test_expire_session_is_seen_by_kazoo_as_lost(zk_hosts, zk_control):
    """expire_session() makes the client's session end: ephemerals go, kazoo goes LOST."""
    client = KazooClient(zk_hosts)
    states = []
    lost = threading.Event()

    def listener(state):
        states.append(state)
        if state == KazooState.LOST:
            lost.set()

    client.add_listener(listener)
    client.start(timeout=10)
    client.create("/eph", ephemeral=True)
    observer = KazooClient(zk_hosts)
    observer.start(timeout=10)
    try:
        zk_control.expire_session(client.client_id[0])
        assert lost.wait(15)
        assert observer.exists("/eph") is None
    finally:
        client.stop()
        observer.stop()


def test_drop_connections_keeps_the_session(zk_hosts, zk_control):
    """drop_connections() gives CONNECTION_LOSS (SUSPENDED), then the client reconnects to its session."""
    client = KazooClient(zk_hosts)
    reconnected = threading.Event()
    suspended = threading.Event()

    def listener(state):
        if state == KazooState.SUSPENDED:
            suspended.set()
        elif state == KazooState.CONNECTED and suspended.is_set():
            reconnected.set()

    client.add_listener(listener)
    client.start(timeout=10)
    sid = client.client_id[0]
    client.create("/eph", ephemeral=True)
    try:
        zk_control.drop_connections()
        assert suspended.wait(10) and reconnected.wait(15)
        assert client.client_id[0] == sid
        assert client.exists("/eph") is not None
    finally:
        client.stop()


def test_readme_lock_example(zk_hosts, zk_control):
    """The README's lock example: an expired session releases its lock to the other client."""
    a, b = KazooClient(zk_hosts), KazooClient(zk_hosts)
    a.start()
    b.start()
    try:
        a.Lock("/lock", "a").acquire()
        zk_control.expire_session(a.client_id[0])
        assert b.Lock("/lock", "b").acquire(timeout=10)
    finally:
        a.stop()
        b.stop()
