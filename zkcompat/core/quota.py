"""Quota enforcement in prep (ZooKeeperServer.checkQuota, ZooKeeper 3.7+).

Theory of operation
-------------------
The tree keeps a quota's usage up to date as txns apply (zkcompat.core.tree:
``/zookeeper/quota/<path>/zookeeper_stats``), whether or not quotas are enforced.
This module is the other half: with ``enforceQuota`` on (ZooKeeper's
``zookeeper.enforceQuota`` system property, off by default), prep asks
``QuotaEnforcer.check`` before it turns a create or a setData into a txn, and a
write that would go over a *hard* limit fails with QUOTAEXCEEDED (-125), path
the quota's root, as ZooKeeper's PrepRequestProcessor does.

What ZooKeeper 3.8 does, and so what this does:

- Only the deepest ancestor-or-self of the written path that has a quota counts
  (DataTree.getMaxPrefixWithQuota); its ``zookeeper_limits`` node is read as a
  StatsTrack (``count=..,bytes=..`` plus, since 3.7, ``countHardLimit`` and
  ``byteHardLimit`` after a ';').
- A limit is checked when the write changes that quantity (a create adds one
  node and its data's length; a setData changes bytes by new length minus the
  length the node will have once in-flight writes apply) and the limit is set
  (> -1).  A hard limit, when set, replaces the soft one.
- The usage compared is the ``zookeeper_stats`` node of the *applied* tree:
  writes still in flight, including earlier ops of the same multi, are not
  counted.  So a multi of creates can go past a limit that each op alone keeps.
- Going over a soft limit, or a hard one, logs "Quota exceeded: ..." through
  ZooKeeper's RateLogger (the first occurrence at once, repeats within 100 ms
  counted and summarised).  Nothing is logged with enforcement off: 3.7 moved
  these warnings from DataTree's apply into this check.
- A limits or stats node whose data is not a StatsTrack (or is null) makes
  ZooKeeper throw a runtime exception in prep: the request fails with
  MARSHALLINGERROR.  ``MalformedQuota`` carries that to prep.

The tree's own bookkeeping is unchanged by enforcement: a refused write never
becomes a txn, so it never reaches the stats.
"""

from __future__ import annotations

import logging
import re

from protocol.codes import Err

from .errors import KeeperError
from .tree import QUOTA_LIMITS, QUOTA_ROOT, QUOTA_STATS, DataTree

log = logging.getLogger("zkcompat.quota")

_PAIRS_SEPARATOR = re.compile("[,;]+")
_JAVA_LONG = re.compile(r"[+-]?[0-9]+")
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1

RATE_LOG_INTERVAL_MS = 100  # RateLogger's default interval


class MalformedQuota(ValueError):
    """A quota node that StatsTrack cannot parse (ZooKeeper: a runtime exception in prep)."""


def _java_split(text: str, pattern) -> list[str]:
    """String.split(regex): trailing empty strings are dropped."""
    parts = pattern.split(text) if not isinstance(pattern, str) else text.split(pattern)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _parse_long(text: str) -> int:
    if _JAVA_LONG.fullmatch(text) is None:
        raise MalformedQuota("not a long: %r" % text)
    v = int(text)
    if not _LONG_MIN <= v <= _LONG_MAX:
        raise MalformedQuota("out of range for a long: %r" % text)
    return v


def parse_stats_track(data: bytes | None) -> dict[str, int]:
    """StatsTrack(byte[]): pairs ``key=value`` split on runs of ',' and ';'; an empty value is -1.

    Raises MalformedQuota where Java's constructor throws (null data, a pair without
    '=', a value that is not a long).
    """
    if data is None:
        raise MalformedQuota("null quota data")
    text = bytes(data).decode("utf-8", "replace")
    stats: dict[str, int] = {}
    if not text:
        return stats
    for pair in _java_split(text, _PAIRS_SEPARATOR):
        kv = _java_split(pair, "=")
        if len(kv) < 2:
            raise MalformedQuota("not a key=value pair: %r" % pair)
        stats[kv[0]] = -1 if kv[1] == "" else _parse_long(kv[1])
    return stats


class RateLogger:
    """ZooKeeper's RateLogger: a new message is logged at once; the same message again within
    the interval is counted and logged as "[N times] Message: ..." once the interval has passed
    or another message arrives.  Time comes from the caller (prep's txn time)."""

    def __init__(self, logger: logging.Logger, interval_ms: int = RATE_LOG_INTERVAL_MS):
        self.logger = logger
        self.interval_ms = interval_ms
        self.msg: str | None = None
        self.timestamp_ms = 0
        self.count = 0

    def flush(self) -> None:
        if self.msg is not None and self.count > 0:
            prefix = "[%d times] " % self.count if self.count > 1 else ""
            self.logger.warning("%sMessage: %s", prefix, self.msg)
        self.msg = None
        self.count = 0

    def rate_limit_log(self, msg: str, now_ms: int) -> None:
        if msg == self.msg:
            self.count += 1
            if now_ms - self.timestamp_ms >= self.interval_ms:
                self.flush()
                self.msg = msg
                self.timestamp_ms = now_ms
        else:
            self.flush()
            self.msg = msg
            self.timestamp_ms = now_ms
            self.logger.warning("Message:%s Value:null", msg)


class QuotaEnforcer:
    """ZooKeeperServer.checkQuota against one tree; prep holds one when enforceQuota is on."""

    def __init__(self, tree: DataTree, rate_logger: RateLogger | None = None):
        self.tree = tree
        self.rate_logger = rate_logger or RateLogger(log)

    def check(self, path: str, bytes_diff: int, count_diff: int, now_ms: int) -> None:
        """Raise KeeperError(QUOTAEXCEEDED, quota root) if the write goes over a hard limit."""
        tree = self.tree
        if not tree.quota_paths:
            return
        prefix = tree._max_quota_prefix(path)
        if prefix is None:
            return
        limit_path = QUOTA_ROOT + prefix + "/" + QUOTA_LIMITS
        node = tree.nodes.get(limit_path)
        if node is None:
            log.error("Missing limit node for quota %s", limit_path)
            return
        limits = parse_stats_track(node.data)
        count_limit_soft = limits.get("count", -1)
        count_limit_hard = limits.get("countHardLimit", -1)
        byte_limit_soft = limits.get("bytes", -1)
        byte_limit_hard = limits.get("byteHardLimit", -1)
        check_count = count_diff != 0 and (count_limit_soft > -1 or count_limit_hard > -1)
        check_bytes = bytes_diff != 0 and (byte_limit_soft > -1 or byte_limit_hard > -1)
        if not check_count and not check_bytes:
            return
        stat_path = QUOTA_ROOT + prefix + "/" + QUOTA_STATS
        node = tree.nodes.get(stat_path)
        if node is None:
            log.error("Missing node for stat %s", stat_path)
            return
        current = parse_stats_track(node.data)
        if check_count:
            new_count = current.get("count", -1) + count_diff
            hard = count_limit_hard > -1
            limit = count_limit_hard if hard else count_limit_soft
            if new_count > limit:
                self.rate_logger.rate_limit_log(
                    "Quota exceeded: %s [current count=%d, %sCountLimit=%d]"
                    % (prefix, new_count, "hard" if hard else "soft", limit), now_ms)
                if hard:
                    raise KeeperError(Err.QUOTAEXCEEDED, prefix)
        if check_bytes:
            new_bytes = current.get("bytes", -1) + bytes_diff
            hard = byte_limit_hard > -1
            limit = byte_limit_hard if hard else byte_limit_soft
            if new_bytes > limit:
                self.rate_logger.rate_limit_log(
                    "Quota exceeded: %s [current bytes=%d, %sByteLimit=%d]"
                    % (prefix, new_bytes, "hard" if hard else "soft", limit), now_ms)
                if hard:
                    raise KeeperError(Err.QUOTAEXCEEDED, prefix)
