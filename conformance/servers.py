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
"""

from __future__ import annotations

from zkcompat.servers import RealZooKeeper, ZkcompatProcess

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
}


def real_server(extra: dict[str, str] | None = None) -> RealZooKeeper:
    """``extra``: zoo.cfg keys on top of SETTINGS; Apache ZooKeeper turns keys it does not know
    (``enforceQuota``) into ``zookeeper.<key>`` system properties."""
    s = SETTINGS
    return RealZooKeeper(
        tick_time=int(s["tickTime"]),
        min_session_timeout=int(s["minSessionTimeout"]),
        max_session_timeout=int(s["maxSessionTimeout"]),
        extended_types=s["extendedTypesEnabled"] == "true",
        super_digest=s["DigestAuthenticationProvider.superDigest"],
        jute_maxbuffer=int(s["jute.maxbuffer"]),
        four_letter_words=s["4lw.commands.whitelist"],
        extra_cfg={"forceSync": s["forceSync"], **(extra or {})},
        system_properties={"znode.container.checkIntervalMs": s["znode.container.checkIntervalMs"]},
    )


def zkcompat_server(extra: dict[str, str] | None = None) -> ZkcompatProcess:
    return ZkcompatProcess(config={**SETTINGS, **(extra or {})})


def make_server(kind: str, extra: dict[str, str] | None = None):
    """A server of ``kind`` configured with SETTINGS plus the zoo.cfg keys in ``extra``."""
    if kind == "real":
        return real_server(extra)
    if kind == "zkcompat":
        return zkcompat_server(extra)
    raise ValueError("unknown server kind %r (real or zkcompat)" % kind)
