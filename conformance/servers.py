"""The two servers of a conformance run, configured alike from one table.

``SETTINGS`` is the single source of the configuration both servers get.  Apache
ZooKeeper reads some of these keys from zoo.cfg and others only as Java system
properties (``jute.maxbuffer``, ``znode.container.checkIntervalMs`` and the super
digest are read with System.getProperty / Integer.getInteger, and zoo.cfg would
turn them into ``zookeeper.<key>``, a different name); zkcompat reads all of them
from its zoo.cfg under Apache's key names.  ``real_server()`` and
``zkcompat_server()`` translate the table for each.

``forceSync=no`` only skips the real server's fsync per transaction: it changes
no protocol behaviour and makes the reference several times faster.

Both servers run their AdminServer (the ``/commands`` JSON API) on loopback with
the ``admin.*`` keys of the table, each on a port of its own: the reference on a
free port chosen before it starts (Jetty has no way to report a port 0 binding),
zkcompat on port 0, read back from its log.  ``admin_port`` holds it.
"""

from __future__ import annotations

import re
import time

from zkcompat.servers import RealZooKeeper, ServerStartError, ZkcompatProcess, free_port

from .client import digest

SUPER_USER = "super"
SUPER_PASSWORD = "test"

TICK_TIME_MS = 2000
MIN_SESSION_TIMEOUT_MS = 4000
MAX_SESSION_TIMEOUT_MS = 40000
JUTE_MAXBUFFER = 65536
CONTAINER_CHECK_INTERVAL_MS = 200

SETTINGS = {
    "tickTime": str(TICK_TIME_MS),
    "minSessionTimeout": str(MIN_SESSION_TIMEOUT_MS),
    "maxSessionTimeout": str(MAX_SESSION_TIMEOUT_MS),
    "extendedTypesEnabled": "true",
    "4lw.commands.whitelist": "*",
    "jute.maxbuffer": str(JUTE_MAXBUFFER),
    "znode.container.checkIntervalMs": str(CONTAINER_CHECK_INTERVAL_MS),
    "DigestAuthenticationProvider.superDigest": digest(SUPER_USER, SUPER_PASSWORD),
    "forceSync": "no",
    "admin.enableServer": "true",
    "admin.serverAddress": "127.0.0.1",
    "admin.commandURL": "/commands",
}

ADMIN_KEYS = ("admin.enableServer", "admin.serverAddress", "admin.commandURL")


def real_server(extra: dict[str, str] | None = None) -> RealZooKeeper:
    """``extra``: zoo.cfg keys on top of SETTINGS; Apache ZooKeeper turns keys it does not know
    (``enforceQuota``) into ``zookeeper.<key>`` system properties."""
    s = SETTINGS
    admin_port = free_port(s["admin.serverAddress"])
    server = RealZooKeeper(
        tick_time=int(s["tickTime"]),
        min_session_timeout=int(s["minSessionTimeout"]),
        max_session_timeout=int(s["maxSessionTimeout"]),
        extended_types=s["extendedTypesEnabled"] == "true",
        super_digest=s["DigestAuthenticationProvider.superDigest"],
        jute_maxbuffer=int(s["jute.maxbuffer"]),
        four_letter_words=s["4lw.commands.whitelist"],
        extra_cfg={
            "forceSync": s["forceSync"],
            **{k: s[k] for k in ADMIN_KEYS},
            "admin.serverPort": str(admin_port),
            **(extra or {}),
        },
        system_properties={"znode.container.checkIntervalMs": s["znode.container.checkIntervalMs"]},
    )
    server.admin_port = admin_port
    return server


class _Zkcompat(ZkcompatProcess):
    """``zkcompat serve`` whose AdminServer binds port 0; ``admin_port`` is the port it logged."""

    admin_port = 0

    def start(self, timeout: float = 30.0):
        super().start(timeout)
        # the line is logged before the client port is printed, so it is there once start() returns
        pattern = re.compile(r"AdminServer serving on http://[^\s]*:(\d+)/")
        deadline = time.monotonic() + timeout
        while True:
            m = pattern.search(self.stderr_path.read_text(errors="replace"))
            if m:
                self.admin_port = int(m.group(1))
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError("zkcompat logged no AdminServer port; see %s" % self.stderr_path)
            time.sleep(0.02)


def zkcompat_server(extra: dict[str, str] | None = None) -> ZkcompatProcess:
    return _Zkcompat(config={**SETTINGS, "admin.serverPort": "0", **(extra or {})})


def make_server(kind: str, extra: dict[str, str] | None = None):
    """A server of ``kind`` configured with SETTINGS plus the zoo.cfg keys in ``extra``."""
    if kind == "real":
        return real_server(extra)
    if kind == "zkcompat":
        return zkcompat_server(extra)
    raise ValueError("unknown server kind %r (real or zkcompat)" % kind)
