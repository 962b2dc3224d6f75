"""Crash tests: zkcompat killed with SIGKILL under write load loses no acknowledged write.

Each round starts ``zkcompat serve --data-dir`` (a persistent dir shared by the
rounds), runs writer threads that create znodes and record each create whose
reply arrived, kills the server with SIGKILL at a random moment, restarts it
and checks that every acknowledged znode is there with its data, and that the
server's tree is the one rebuilt from the data dir.  A second test truncates the
newest log file at random offsets between rounds: the server must come back
with a prefix of the history (every txn before the cut), never refuse or lose
more.  Rounds and time are bounded; the seed is printed so a failure replays.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry

from zkcompat.servers import ZkcompatProcess
from zkcompat.storage import datadir

ROUNDS = 6
WRITERS = 4
# a snapshot every 30-60 txns: kills land while forked snapshot writers run, and recovery
# starts from snapshots as well as from logs
CONFIG = {"snapCount": "60"}


def _write_until_killed(hosts, prefix, acked, stop):
    client = KazooClient(hosts, connection_retry=KazooRetry(max_tries=0), command_retry=KazooRetry(max_tries=0),
                         timeout=4)
    try:
        client.start(timeout=10)
    except Exception:
        return
    i = 0
    try:
        while not stop.is_set():
            path = "%s-%d" % (prefix, i)
            data = ("%s:%d" % (prefix, i)).encode()
            try:
                # bounded: a create queued while the connection drops can wait for a reconnection
                # that never comes (the killed server's port stays closed)
                client.create_async(path, data).get(timeout=5)
            except (KazooException, KazooTimeoutError):
                break  # the server died: this create was never acknowledged
            acked.append((path, data))
            i += 1
    finally:
        try:
            client.stop()
            client.close()
        except Exception:
            pass


def _session_processes(sid: int) -> list[int]:
    """Live processes of session ``sid`` (the server and any child it forked)."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(name))
    return pids


def _run_round(data_dir, rnd, round_no, acked):
    server = ZkcompatProcess("--data-dir", data_dir, config=CONFIG).start()
    stop = threading.Event()
    threads = [
        threading.Thread(target=_write_until_killed, args=(server.hosts, "/w%d-%d" % (round_no, w), acked, stop),
                         daemon=True)
        for w in range(WRITERS)
    ]
    for t in threads:
        t.start()
    # let the writers get going, then kill at a random point of the load
    deadline = time.monotonic() + 10
    while len(acked) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(rnd.uniform(0.0, 0.4))
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    # a snapshot writer dies with the server: nothing may rename a snapshot into the data dir now
    deadline = time.monotonic() + 10
    while _session_processes(server.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _session_processes(server.proc.pid), "a forked snapshot writer outlived the killed server"
    stop.set()
    for t in threads:
        t.join(15)
    assert not any(t.is_alive() for t in threads), "a writer is still waiting on the killed server"
    server.stop()


def _check(data_dir, acked):
    server = ZkcompatProcess("--data-dir", data_dir, config=CONFIG).start()
    try:
        client = KazooClient(server.hosts)
        client.start(timeout=10)
        live = {}
        for name in client.get_children("/"):
            if name != "zookeeper":
                live["/" + name] = client.get("/" + name)[0]
        client.stop()
    finally:
        server.stop()
    missing = [p for p, d in acked if live.get(p) != d]
    rebuilt = datadir.load(data_dir).tree
    from_disk = {p: n.data for p, n in rebuilt.nodes.items() if p.count("/") == 1 and p not in ("/", "/zookeeper")}
    return missing, live, from_disk


def test_sigkill_under_load_loses_no_acknowledged_write(tmp_path):
    """Several SIGKILLs under 4 writers: every acknowledged create survives, the tree equals the data dir's."""
    seed = int(os.environ.get("ZKCOMPAT_CRASH_SEED", random.randrange(1 << 30)))
    print("crash test seed", seed)
    rnd = random.Random(seed)
    data_dir = str(tmp_path / "data")
    acked: list = []
    for round_no in range(ROUNDS):
        _run_round(data_dir, rnd, round_no, acked)
        missing, live, from_disk = _check(data_dir, acked)
        assert not missing, "round %d (seed %d): %d acknowledged writes lost, e.g. %s" % (
            round_no, seed, len(missing), missing[:3])
        assert live == from_disk
    assert len(acked) > ROUNDS * 20
    snapshots = len(datadir.list_snapshots(datadir.snap_dir(data_dir)))
    assert snapshots > ROUNDS, "the load should have taken snapshots"
    print("crash test: %d SIGKILLs, %d acknowledged writes checked after each, 0 lost, %d snapshots on disk" % (
        ROUNDS, len(acked), snapshots))


def test_truncated_log_recovers_a_prefix(tmp_path):
    """Cutting the newest log at random offsets: the server restarts with every txn before the cut."""
    seed = int(os.environ.get("ZKCOMPAT_CRASH_SEED", random.randrange(1 << 30)))
    print("truncation test seed", seed)
    rnd = random.Random(seed)
    data_dir = str(tmp_path / "data")
    server = ZkcompatProcess("--data-dir", data_dir).start()
    client = KazooClient(server.hosts)
    client.start(timeout=10)
    for i in range(200):
        client.create("/t%03d" % i, b"%d" % i)
    client.stop()
    server.proc.send_signal(signal.SIGKILL)
    server.stop()
    pristine = tmp_path / "pristine"
    shutil.copytree(data_dir, pristine)
    for round_no in range(6):
        work = tmp_path / ("round%d" % round_no)
        shutil.copytree(pristine, work)
        newest = sorted(datadir.log_dir(work).glob("log.*"), key=lambda p: int(p.name[4:], 16))[-1]
        cut = rnd.randrange(16, _used_bytes(newest) + 1)
        with open(newest, "r+b") as f:
            f.truncate(cut)
        server = ZkcompatProcess("--data-dir", str(work)).start()
        try:
            client = KazooClient(server.hosts)
            client.start(timeout=10)
            names = sorted(n for n in client.get_children("/") if n.startswith("t"))
            client.stop()
        finally:
            server.stop()
        # what survives is exactly a prefix of the creates: every record that was whole before the cut
        assert names == ["t%03d" % i for i in range(len(names))], (seed, cut, names[-3:])
        assert len(names) == _whole_records_before(pristine, newest.name, cut), (seed, cut)


def _whole_records_before(pristine, log_name, cut) -> int:
    """How many create txns end before byte ``cut`` of the pristine log (createSession excluded)."""
    from protocol.codes import OpCode
    from zkcompat.storage.txnlog import LogFile

    n = 0
    for entry in LogFile(datadir.log_dir(pristine) / log_name):
        if entry.end <= cut and entry.header.type == OpCode.CREATE:
            n += 1
    return n


def _used_bytes(path) -> int:
    """The length of a preallocated log file up to its last non-zero byte."""
    data = path.read_bytes()
    return len(data.rstrip(b"\0"))
