"""The serving process's GC policy (zkcompat.net.gcpolicy) and the fact it rests on.

The policy freezes what survives a full collection, so a reference cycle among frozen objects is
never reclaimed.  That is safe only while serving makes no cycles: the first test serves a mix of
loads through the real edge (``zkcompat serve`` with a durable log) with the collector off, then
collects and asserts that nothing of the server's was cyclic garbage.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NoNodeError

from zkcompat import bench

# `zkcompat serve`, with the policy replaced by a census of cyclic garbage taken on SIGUSR1
_SERVE_WATCHED = textwrap.dedent("""
    import collections, gc, json, signal, sys
    from zkcompat.net import gcpolicy

    def watch():
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)

    def census(*_):
        gc.garbage.clear()
        gc.collect()
        ours = collections.Counter(
            "%s.%s" % (type(o).__module__, type(o).__qualname__) for o in gc.garbage
            if type(o).__module__.split(".")[0] in ("zkcompat", "protocol", "twisted"))
        print(json.dumps({"garbage": len(gc.garbage), "ours": ours}), flush=True)

    gcpolicy.install = watch
    signal.signal(signal.SIGUSR1, census)
    from zkcompat.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_serving_makes_no_reference_cycles(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE_WATCHED, "serve", "--port", "0", "--print-port",
         "--data-dir", str(tmp_path / "data"), "--host", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        hosts = "127.0.0.1:%d" % int(proc.stdout.readline())
        for workload in ("create", "set", "get", "exists", "delete", "watch-storm", "connect-storm"):
            res = bench.run_workload(hosts, workload, prefix="/gc-" + workload, clients=4, depth=4,
                                     duration=30, ops=300, value_size=100)
            assert res["errors"] == 0
        zk = KazooClient(hosts)
        zk.start(timeout=10)
        zk.create("/gc-e", b"", ephemeral=True)
        zk.get("/gc-e", watch=lambda event: None)
        zk.set("/gc-e", b"changed")
        try:
            zk.set("/gc-e", b"", version=99)
        except BadVersionError:
            pass
        try:
            zk.get("/gc-missing")
        except NoNodeError:
            pass
        with zk.transaction() as t:
            t.create("/gc-t", b"")
            t.delete("/gc-t")
        t = zk.transaction()
        t.create("/gc-e", b"")  # exists: the multi fails
        assert t.commit()[0].__class__.__name__ == "NodeExistsError"
        zk.sync("/")
        zk.stop()  # closes the session: its ephemeral goes
        zk.close()
        proc.send_signal(signal.SIGUSR1)
        census = json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(30)
    assert census["ours"] == {}, census


_POLICY = textwrap.dedent("""
    import gc
    from zkcompat.net import gcpolicy
    assert not gcpolicy.installed()
    gcpolicy.install()
    assert gcpolicy.installed() and gc.get_threshold()[0] == gcpolicy.YOUNG_THRESHOLD
    frozen = gc.get_freeze_count()
    assert frozen > 0  # start-up's survivors
    kept = [[i] for i in range(50_000)]  # long-lived objects, like znodes
    gc.collect()
    assert gc.get_freeze_count() >= frozen + 50_000  # a full collection froze its survivors
    a = []
    a.append(a)  # a young cycle is still reclaimed
    del a
    assert gc.collect(0) >= 1
    print("ok")
""")


def test_policy_freezes_survivors_of_full_collections_and_still_collects_young_cycles():
    out = subprocess.run([sys.executable, "-c", _POLICY], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
