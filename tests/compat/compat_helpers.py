"""Shared helpers for the compat suite: waiting on events without sleeping, and
seeing the raw watch notifications the server sends.

Kazoo pops a path's watchers when the first notification arrives, so a server
that wrongly sent a second notification would go unnoticed at the API level.
``RawEvents`` therefore listens to kazoo's connection logger ("Received EVENT")
and records every notification exactly as it came off the wire (unchrooted
path, numeric type), so tests can assert the precise notification stream.

To assert that *no further* notification arrives, ``flush_events`` uses the
ZooKeeper ordering guarantee: notifications reach a session in the order of
the transactions that caused them.  It watches a fresh sentinel node, creates
it, and waits for that NodeCreated; anything caused earlier has arrived by then.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
import threading
import uuid

from kazoo.protocol.serialization import Create, Delete, Exists
from kazoo.security import OPEN_ACL_UNSAFE

WAIT = 10.0
BLATHER = 5  # kazoo's most verbose log level; it logs the negotiated session timeout there
SUPER_USER = "super"
SUPER_PASSWORD = "test"
FLUSH_ROOT = "/compat"  # exists for the whole session (the conftest creates it)

CREATED, DELETED, CHANGED, CHILD = 1, 2, 3, 4
EVENT_NAMES = {CREATED: "NodeCreated", DELETED: "NodeDeleted", CHANGED: "NodeDataChanged", CHILD: "NodeChildrenChanged"}


def digest(user: str, password: str) -> str:
    """ZooKeeper's DigestAuthenticationProvider.generateDigest: user:base64(sha1(user:password))."""
    raw = hashlib.sha1(("%s:%s" % (user, password)).encode()).digest()
    return "%s:%s" % (user, base64.b64encode(raw).decode())


def poll_until(predicate, timeout: float = WAIT, what: str = "condition", interval: float = 0.01):
    """Re-evaluate `predicate` until it is true (returning its value); fail the test after `timeout`.

    Only for states no callback announces (e.g. another client's recipe node appearing).
    """
    import time

    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "%s not reached within %.0fs" % (what, timeout)
        pause.wait(interval)


class EventCollector:
    """Thread-safe sink for callbacks; ``wait(n)`` blocks until n items arrived, else fails the test."""

    def __init__(self):
        self.items: list = []
        self._cond = threading.Condition()

    def __call__(self, item=None, *rest):
        with self._cond:
            self.items.append(item if not rest else (item, *rest))
            self._cond.notify_all()

    def wait(self, count: int = 1, timeout: float = WAIT) -> list:
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.items) >= count, timeout)
            items = list(self.items)
        assert ok, "expected %d item(s) within %.0fs, got %r" % (count, timeout, items)
        return items

    def wait_for(self, predicate, timeout: float = WAIT, what: str = "condition") -> list:
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate(list(self.items)), timeout)
            items = list(self.items)
        assert ok, "%s not met within %.0fs, got %r" % (what, timeout, items)
        return items

    def __len__(self):
        with self._cond:
            return len(self.items)

    def __bool__(self):  # kazoo rejects falsy listeners; an empty collector is still a listener
        return True


class RawEvents(logging.Handler):
    """Records every watch notification a KazooClient's connection receives: (event name, raw path)."""

    def __init__(self):
        super().__init__(BLATHER)
        self.events: list[tuple[str, str]] = []
        self.sessions: list[tuple[int, int]] = []  # (session id, negotiated timeout ms) per ConnectResponse
        self.expired = 0  # ConnectResponses that said "session expired" (timeout <= 0)
        self._cond = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("Session created, session_id:"):
            with self._cond:
                self.sessions.append((record.args[0], record.args[2]))
        elif record.msg == "Session has expired":
            with self._cond:
                self.expired += 1
        elif record.msg == "Received EVENT: %s" and record.args:
            watch = record.args[0] if isinstance(record.args, tuple) else record.args
            with self._cond:
                self.events.append((EVENT_NAMES.get(watch.type, str(watch.type)), watch.path))
                self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = WAIT, what: str = "raw events") -> list:
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate(list(self.events)), timeout)
            events = list(self.events)
        assert ok, "%s not seen within %.0fs, got %r" % (what, timeout, events)
        return events

    @property
    def negotiated_timeout(self) -> int:
        """The session timeout (ms) the server answered in the latest ConnectResponse."""
        with self._cond:
            assert self.sessions, "no ConnectResponse seen yet"
            return self.sessions[-1][1]

    def snapshot(self) -> list[tuple[str, str]]:
        with self._cond:
            return list(self.events)


_logger_ids = itertools.count()


def attach_raw_events(kwargs: dict) -> RawEvents:
    """Give a KazooClient (via its kwargs) a private logger that feeds a RawEvents recorder."""
    recorder = RawEvents()
    logger = logging.getLogger("compat.kazoo.client%d" % next(_logger_ids))
    logger.setLevel(BLATHER)
    logger.propagate = False
    logger.addHandler(recorder)
    kwargs["logger"] = logger
    return recorder


def detach_raw_events(client) -> None:
    logger = getattr(client, "logger", None)
    if logger is not None and logger.name.startswith("compat.kazoo."):
        for handler in list(logger.handlers):
            logger.removeHandler(handler)


def flush_events(client, timeout: float = WAIT) -> list[tuple[str, str]]:
    """Return the client's raw notifications once every notification caused so far has surely arrived.

    The sentinel lives outside every test's chroot (under FLUSH_ROOT, which nobody watches), so it
    never disturbs a test's own watches; requests go out unchrooted through kazoo's request layer.
    Sentinel notifications (of this and earlier flushes) are left out of the result.
    """
    sentinel = "%s/flush-%s" % (FLUSH_ROOT, uuid.uuid4().hex)
    fired = threading.Event()
    result = client.handler.async_result()
    client._call(Exists(sentinel, lambda ev: fired.set()), result)
    assert result.get(timeout=timeout) is None
    result = client.handler.async_result()
    client._call(Create(sentinel, b"", OPEN_ACL_UNSAFE, 1), result)  # ephemeral
    result.get(timeout=timeout)
    assert fired.wait(timeout), "sentinel watch on %s did not fire" % sentinel
    result = client.handler.async_result()
    client._call(Delete(sentinel, -1), result)
    result.get(timeout=timeout)
    prefix = "%s/flush-" % FLUSH_ROOT
    return [ev for ev in client.raw_events.snapshot() if not ev[1].startswith(prefix)]


def hosts_string(client) -> str:
    """The client's current connection string (host list plus chroot), as set_hosts accepts it."""
    return ",".join("%s:%d" % host_port for host_port in client.hosts) + (client.chroot or "")


def unreachable_hosts(client) -> str:
    """A connection string (same chroot) naming a loopback port nobody listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return "127.0.0.1:%d%s" % (port, client.chroot or "")


def expire_session(factory, victim) -> None:
    """Close `victim`'s session server-side, portably: attach a second client to it and close that one.

    While this happens the victim is pointed at an unreachable port, so that it cannot
    reattach and steal the session back (two live attachments would kick each other
    off forever); afterwards it may reach the server again, and learns its session expired.
    """
    real = hosts_string(victim)
    session_id, password = victim.client_id
    victim.set_hosts(unreachable_hosts(victim))
    thief = factory(client_id=(session_id, password), chroot=victim.chroot or False)
    assert thief.client_id[0] == session_id, "could not attach to the session"
    thief.stop()
    victim.set_hosts(real)


def unchrooted(client, path: str) -> str:
    """The absolute server path of a chrooted client's path (what the server puts in notifications)."""
    return (client.chroot + path) if path != "/" else (client.chroot or "/")


def target() -> str:
    """The server under test: 'zkcompat' (default) or 'real' (ZKCOMPAT_TARGET=real, the control run)."""
    import os

    import pytest

    value = os.environ.get("ZKCOMPAT_TARGET", "zkcompat").strip().lower()
    if value not in ("zkcompat", "real"):
        raise pytest.UsageError("ZKCOMPAT_TARGET must be 'real' or 'zkcompat', not %r" % value)
    return value
