"""The forked snapshot writer: it writes a consistent image, and it never outlives its server.

The writer leaves ``snapshot.<zxid>.tmp``; the server's snapshot thread waits for it, then syncs the
file and renames it into place (``_wait_snapshot_writer``), so a snapshot name only ever names a
synced, complete file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from zkcompat.storage import datadir

_PARENT = textwrap.dedent("""
    import sys, time
    from zkcompat.core.tree import DataTree
    from pathlib import Path
    from zkcompat.net.durable import _fork_snapshot_writer, _wait_snapshot_writer
    from zkcompat.storage.snapshot import snapshot_name
    from protocol.records import TxnHeader, CreateTxn, ACL, Id
    from protocol.codes import OpCode
    tree = DataTree(lambda *a: None)
    acl = [ACL(31, Id("world", "anyone"))]
    n = int(sys.argv[2])
    for i in range(1, n + 1):
        tree.apply(TxnHeader(1, i, i, 0, OpCode.CREATE), CreateTxn("/n%d" % i, b"x" * 100, acl, False, i))
    pid = _fork_snapshot_writer(sys.argv[1], tree, {}, tree.last_processed_zxid)
    # the image is the tree at the fork: a change now must not reach the file
    tree.apply(TxnHeader(1, n + 1, n + 1, 0, OpCode.CREATE), CreateTxn("/late", b"", acl, False, n + 1))
    print(pid, flush=True)
    time.sleep(float(sys.argv[3]))
    # as the snapshot thread does: wait for the writer, then sync and rename its file
    _wait_snapshot_writer(pid, Path(sys.argv[1]) / snapshot_name(n))
    print(0, flush=True)
""")


def _start(snap_dir, nodes: int, linger: float) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", _PARENT, str(snap_dir), str(nodes), str(linger)],
                            stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())


def _alive(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_forked_writer_saves_the_tree_as_it_was_at_the_fork(tmp_path):
    proc, _ = _start(tmp_path, 2000, 0)
    assert proc.stdout.readline().strip() == "0"
    assert proc.wait(30) == 0
    snaps = datadir.list_snapshots(tmp_path)
    assert [p.name for p in snaps] == ["snapshot.7d0"]  # zxid 2000
    tree = datadir.newest_snapshot(tmp_path)[0].tree
    assert "/n2000" in tree.nodes and "/late" not in tree.nodes
    assert not list(tmp_path.glob("*.tmp"))


def test_forked_writer_dies_with_its_server(tmp_path):
    """SIGKILL the server while its writer serialises a large tree: the writer dies too, no file appears."""
    proc, child = _start(tmp_path, 150_000, 60)
    assert _alive(child)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(child), "the snapshot writer outlived its server"
    assert not datadir.list_snapshots(tmp_path)


def test_forked_writer_only_takes_idle_cpu(tmp_path):
    """The writer runs under SCHED_IDLE: a core it shares with the reactor goes to the reactor."""
    proc, child = _start(tmp_path, 150_000, 60)
    try:
        deadline = time.monotonic() + 10  # the child sets its policy first thing after the fork
        while os.sched_getscheduler(child) != os.SCHED_IDLE and time.monotonic() < deadline:
            time.sleep(0.01)
        assert os.sched_getscheduler(child) == os.SCHED_IDLE
        assert os.sched_getscheduler(proc.pid) == os.SCHED_OTHER
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
