"""Apache ZooKeeper's Java client and Apache Curator, from Debian's packages, against the server.

java/ZkClientChecks.java and java/CuratorChecks.java are compiled once per session with
javac against the jars in /usr/share/java (no Maven), then each runs in one JVM and prints
one CHECK line per feature; every expected check must report PASS.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from clientkit import (
    HERE,
    build,
    debian_version,
    program_args,
    record_result,
    require_file,
    require_tool,
    run_checks,
    unique_base,
)
from tcp_proxy import CuttableProxy

JARS = Path("/usr/share/java")
ZK_JARS = ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar"]
CURATOR_JARS = ["curator-client.jar", "curator-framework.jar", "curator-recipes.jar", "guava.jar"]
LOGGING_JARS = ["slf4j-simple.jar"]  # the client's own log goes to the program's stderr file
JVM_FLAGS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss512k", "-Dorg.slf4j.simpleLogger.defaultLogLevel=info"]

ZK_CHECKS = [
    "connect_session",
    "crud_and_stat",
    "create_errors",
    "create2_stat_and_children_stat",
    "sequential_nodes",
    "ephemeral_lifecycle",
    "one_shot_watches",
    "default_watcher_and_own_writes",
    "chroot",
    "watches_survive_reconnect",
    "persistent_watch",
    "persistent_recursive_watch",
    "persistent_watches_survive_reconnect",
    "remove_watches",
    "multi_transaction",
    "multi_read",
    "acl_digest_and_auth",
    "acl_ip_and_world",
    "who_am_i",
    "get_all_children_number",
    "container_node",
    "ttl_node",
    "sync",
    "async_pipelining_order",
    "large_data",
    "session_reattach",
    "session_expiry",
]

CURATOR_CHECKS = [
    "framework_crud",
    "namespace",
    "transaction",
    "inter_process_mutex",
    "inter_process_read_write_lock",
    "inter_process_semaphore",
    "leader_latch",
    "leader_selector",
    "distributed_atomic_long",
    "shared_count",
    "curator_cache",
    "curator_cache_after_reconnect",
    "persistent_watcher",
    "persistent_node",
    "session_expiry_connection_state",
]


def _classpath(names: list[str]) -> str:
    return os.pathsep.join(
        str(require_file(JARS / n, "apt-get install -y zookeeper libcurator-recipes-java")) for n in names
    )


def compile_java_programs(build_dir) -> Path:
    """ZkClientChecks and CuratorChecks compiled with javac into a temp dir."""
    require_tool("javac", "apt-get install -y default-jdk-headless")
    require_tool("java", "apt-get install -y default-jre-headless")
    out = build_dir / "java"
    out.mkdir()
    sources = sorted(str(p) for p in (HERE / "java").glob("*.java"))
    build(
        ["javac", "-nowarn", "-encoding", "UTF-8", "-d", str(out), "-cp", _classpath(ZK_JARS + CURATOR_JARS), *sources],
        what="the Java client programs",
    )
    return out


def _run_java(main: str, jars: list[str], expected: list[str], client_server, java_classes, log_root):
    cp = os.pathsep.join([str(java_classes), _classpath(jars + LOGGING_JARS)])
    proxy = CuttableProxy((client_server.host, client_server.port))
    try:
        cmd = [shutil.which("java") or "java", *JVM_FLAGS, "-cp", cp, main]
        cmd += program_args(client_server, proxy, unique_base(main))
        return run_checks(main, cmd, expected, log_dir=log_root / main, timeout=150)
    finally:
        proxy.close()


@pytest.fixture(scope="module")
def zk_java_run(client_server, java_classes, log_root):
    """One run of ZkClientChecks (the plain Java client) against the server."""
    run = _run_java("ZkClientChecks", ZK_JARS, ZK_CHECKS, client_server, java_classes, log_root)
    version = debian_version("libzookeeper-java")
    record_result(
        run,
        name="Apache ZooKeeper Java client",
        version="%s (Debian libzookeeper-java)" % version,
        covers="CRUD and Stat fields, sequential/ephemeral/container/TTL nodes, one-shot watches, "
        "watch re-registration after a forced reconnect (setWatches, setWatches2), persistent and "
        "persistent recursive watches (addWatch), removeWatches, multi and multiRead, ACLs "
        "(digest/ip/world/super), whoAmI, getAllChildrenNumber, getEphemerals, async pipelining, "
        "1 MB data, session reattach and expiry",
        server_target=client_server.target,
    )
    return run


@pytest.fixture(scope="module")
def curator_run(client_server, java_classes, log_root):
    """One run of CuratorChecks (Apache Curator recipes) against the server."""
    run = _run_java("CuratorChecks", ZK_JARS + CURATOR_JARS, CURATOR_CHECKS, client_server, java_classes, log_root)
    record_result(
        run,
        name="Apache Curator",
        version="%s (Debian libcurator-*-java)" % debian_version("libcurator-recipes-java"),
        covers="framework CRUD, namespaces, transactions, InterProcessMutex, read-write lock, semaphore, "
        "LeaderLatch, LeaderSelector, DistributedAtomicLong, SharedCount, CuratorCache (persistent "
        "recursive watches, also across a forced reconnect), PersistentWatcher, PersistentNode, "
        "session expiry seen through ConnectionStateListener",
        server_target=client_server.target,
    )
    return run


@pytest.mark.parametrize("check", ZK_CHECKS)
def test_java_client(zk_java_run, check):
    """The Java client's check passes against the server."""
    zk_java_run.assert_check(check)


def test_java_client_run_is_complete(zk_java_run):
    """The Java client program exits 0 and reports exactly the expected checks."""
    zk_java_run.assert_complete()


@pytest.mark.parametrize("check", CURATOR_CHECKS)
def test_curator(curator_run, check):
    """The Curator recipe check passes against the server."""
    curator_run.assert_check(check)


def test_curator_run_is_complete(curator_run):
    """The Curator program exits 0 and reports exactly the expected checks."""
    curator_run.assert_complete()
