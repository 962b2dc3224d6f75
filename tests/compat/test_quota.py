"""Quota enforcement seen by kazoo, and the "Quota exceeded" log lines, next to real ZooKeeper 3.8.

Both servers start with ``enforceQuota=true`` in zoo.cfg (Apache ZooKeeper turns the key into its
``zookeeper.enforceQuota`` system property).  The same writes go to each; the outcomes and the
log lines about quotas must be the same.  The workload never repeats a log message, so
ZooKeeper's RateLogger writes every one at once and the lines do not depend on timing.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

from zkcompat.servers import RealZooKeeper, ZkcompatProcess

pytestmark = pytest.mark.real_zookeeper

WAIT_S = 10.0
QUOTA_LINE = re.compile(r"Message:Quota exceeded: .*")


@pytest.fixture(scope="module")
def servers():
    made = [RealZooKeeper(extra_cfg={"enforceQuota": "true"}), ZkcompatProcess(config={"enforceQuota": "true"})]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: s.start(), made))
    yield made
    for s in made:
        s.stop()


def log_text(server) -> str:
    path = server.log_path if isinstance(server, RealZooKeeper) else server.stderr_path
    return path.read_text(errors="replace")


def quota_lines(server, want: int) -> list[str]:
    """The server's quota log lines, once ``want`` of them are there (or the deadline passed)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        lines = QUOTA_LINE.findall(log_text(server))
        if len(lines) >= want or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def workload(server) -> list[str]:
    """Soft and hard limits on two quotas; returns each write's outcome."""
    zk = KazooClient(hosts="%s:%d" % (server.host, server.port))
    zk.start(timeout=WAIT_S)
    out = []

    def attempt(fn, *args):
        try:
            fn(*args)
            out.append("ok")
        except KazooException as e:
            out.append(type(e).__name__)

    try:
        for root, limits in (("/soft", b"count=2,bytes=4"), ("/hard", b"count=-1,bytes=-1=;byteHardLimit=6;countHardLimit=3")):
            zk.create(root)
            zk.create("/zookeeper/quota" + root)
            zk.create("/zookeeper/quota%s/zookeeper_limits" % root, limits)
            zk.create("/zookeeper/quota%s/zookeeper_stats" % root, b"count=0,bytes=0")
        for i in range(3):
            attempt(zk.create, "/soft/n%d" % i, b"abc")
        attempt(zk.set, "/soft/n0", b"abcdef")
        attempt(zk.create, "/hard/a", b"abcd")
        attempt(zk.create, "/hard/b", b"abc")  # bytes 7 > 6
        attempt(zk.create, "/hard/b", b"ab")
        attempt(zk.create, "/hard/c")  # count 4 > 3
        attempt(zk.set, "/hard/a", b"abcde")  # bytes 7 > 6
        tx = zk.transaction()
        tx.set_data("/hard/a", b"a")
        tx.create("/hard/d")  # count 4 > 3 again: the same message as before, logged since another came between
        out.append(repr(tx.commit()))
        out.append(zk.get("/zookeeper/quota/soft/zookeeper_stats")[0].decode())
        out.append(zk.get("/zookeeper/quota/hard/zookeeper_stats")[0].decode())
    finally:
        zk.stop()
        zk.close()
    return out


def test_enforced_quota_outcomes_and_log_lines_match_real_zookeeper(servers):
    """kazoo sees the same successes and QuotaExceededErrors, and the servers log the same quota lines."""
    real, ours = servers
    real_out, our_out = workload(real), workload(ours)
    assert real_out == our_out
    assert "QuotaExceededError" in real_out  # the workload does reach a hard limit
    real_lines = quota_lines(real, 1)
    assert real_lines, "real ZooKeeper logged no quota line"
    assert quota_lines(ours, len(real_lines)) == real_lines
    assert len(real_lines) == 9
