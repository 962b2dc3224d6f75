"""``zkcompat bench`` against a real server: every workload does what it says, checked through kazoo.

The workloads run with a few hundred operations against an in-process ``EmbeddedServer`` (seconds in
all); one test runs ``zkcompat bench compare --quick --workloads get`` end to end against Apache
ZooKeeper.  No test asserts a speed: the numbers of a shared machine say nothing about correctness.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from kazoo.client import KazooClient

from zkcompat import bench
from zkcompat.testing import EmbeddedServer


@pytest.fixture(scope="module")
def server():
    with EmbeddedServer(max_client_cnxns=0) as s:
        yield s


@pytest.fixture
def kazoo(server):
    client = KazooClient(server.hosts)
    client.start(timeout=10)
    yield client
    client.stop()
    client.close()


def _run(server, workload, prefix, **kw):
    kw.setdefault("clients", 4)
    kw.setdefault("depth", 4)
    kw.setdefault("duration", 30)
    res = bench.run_workload(server.hosts, workload, prefix=prefix, **kw)
    assert res["workload"] == workload and res["errors"] == 0
    assert 0 <= res["p50_ms"] <= res["p90_ms"] <= res["p99_ms"] <= res["max_ms"]
    if workload != "watch-storm":  # a storm's notifications may all arrive before the writer's reply
        assert res["p50_ms"] > 0
    assert res["ops_per_sec"] > 0
    return res


@pytest.mark.parametrize("workload", ["get", "exists", "mixed"])
def test_read_workloads_run_the_requested_operations(server, kazoo, workload):
    res = _run(server, workload, "/b-%s" % workload, ops=200, value_size=100)
    assert res["ops"] == 200
    data, stat = kazoo.get("/b-%s/n" % workload)
    assert len(data) == 100
    if workload == "mixed":
        assert stat.version > 0  # some of the mix were setData
    else:
        assert stat.version == 0


def test_set_changes_the_node_once_per_operation(server, kazoo):
    res = _run(server, "set", "/b-set", ops=150, value_size=10)
    assert res["ops"] == 150
    assert kazoo.get("/b-set/n")[1].version == 150


@pytest.mark.parametrize("workload", ["create", "create-seq"])
def test_create_workloads_make_one_node_per_operation(server, kazoo, workload):
    prefix = "/b-%s" % workload
    res = _run(server, workload, prefix, ops=203)
    assert res["ops"] == 203
    assert len(kazoo.get_children(prefix)) == 203 + 1  # and the "n" node every workload reads


def test_delete_removes_every_node_it_created(server, kazoo):
    res = _run(server, "delete", "/b-delete", ops=301)
    assert res["ops"] == 301
    assert kazoo.get_children("/b-delete") == ["n"]


def test_ops_fewer_than_clients_still_stop(server, kazoo):
    res = _run(server, "create", "/b-few", ops=3, clients=8)
    assert res["ops"] == 3
    assert len(kazoo.get_children("/b-few")) == 4


def test_duration_bounds_a_run_without_ops(server):
    res = _run(server, "get", "/b-duration", duration=0.3)
    assert res["ops"] > 0 and res["seconds"] < 10


def test_watch_storm_gets_every_notification_of_every_round(server, kazoo):
    res = _run(server, "watch-storm", "/b-storm", clients=20, ops=3, value_size=5)
    assert (res["rounds"], res["ops"]) == (3, 60)
    assert kazoo.get("/b-storm/n")[1].version == 3
    assert res["from_send_p50_ms"] > 0


def test_connect_storm_closes_every_session_it_opens(server):
    before = set(server.session_ids())
    res = _run(server, "connect-storm", "/b-connect", ops=40, clients=4)
    assert res["ops"] == 40
    assert set(server.session_ids()) == before  # closeSession went through for each


def test_open_loop_keeps_to_its_schedule(server):
    """At --rate R for D seconds, the generator sends no more than R x D requests (plus one tick)."""
    res = _run(server, "get", "/b-rate", rate=400, duration=0.5, clients=4)
    assert res["rate"] == 400
    assert 0 < res["ops"] <= 400 * 0.5 + 10


def test_two_generator_processes_share_the_clients(server, kazoo):
    res = _run(server, "set", "/b-procs", ops=100, procs=2)
    assert res["ops"] == 100
    assert kazoo.get("/b-procs/n")[1].version == 100


def test_idle_sessions_ping_and_close(server):
    marks = []
    before = set(server.session_ids())
    res = asyncio.run(bench.hold_idle_sessions(
        server.hosts, 30, 0.3, timeout_ms=4000,
        on_idle_start=lambda: marks.append(len(set(server.session_ids()) - before)),
        on_idle_end=lambda: marks.append("end")))
    assert res["sessions"] == 30 and marks == [30, "end"]
    assert set(server.session_ids()) == before


def test_cli_prints_json_lines_and_no_progress_when_quiet(server):
    out = subprocess.run(
        [sys.executable, "-m", "zkcompat", "bench", "--hosts", server.hosts, "--workload", "get",
         "--workload", "delete", "--ops", "50", "--clients", "2", "--json", "--quiet"],
        capture_output=True, text=True, timeout=60, check=True)
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["workload"], r["ops"], r["errors"]) for r in results] == [("get", 50, 0), ("delete", 50, 0)]
    assert out.stderr == ""


@pytest.mark.real_zookeeper
def test_compare_quick_end_to_end_against_real_zookeeper(tmp_path):
    """`zkcompat bench compare --quick --workloads get,soak` starts both servers, measures both, and reports."""
    js, png = tmp_path / "r.json", tmp_path / "r.png"
    out = subprocess.run(
        [sys.executable, "-m", "zkcompat", "bench", "compare", "--quick", "--workloads", "get,soak",
         "--soak-seconds", "1", "--json", str(js), "--plot", str(png)],
        capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(js.read_text())
    rows = {r["key"]: r for r in result["rows"]}
    assert list(rows) == ["get:ops_per_sec", "soak:rss_mib", "soak:ops_per_sec", "startup", "rss-idle", "rss-loaded"]
    for row in rows.values():
        assert row["zkcompat"] > 0 and row["zookeeper"] > 0 and row["ratio"] > 0
    assert len(rows["get:ops_per_sec"]["zkcompat_runs"]) == 2  # the default two rounds
    assert [(r["spec"], r["server"], r["round"]) for r in result["runs"]] == [
        ("get", "zkcompat", 1), ("get", "zookeeper", 1), ("get", "zkcompat", 2), ("get", "zookeeper", 2),
        ("soak", "zkcompat", 1), ("soak", "zookeeper", 1)]  # the soak runs once, after the other loads
    assert rows["soak:rss_mib"]["label"] == "resident memory after 1 s of mixed load 32x4"
    assert all(r["errors"] == 0 and r["ops"] > 0 for r in result["runs"])
    # ZooKeeper's memory is the JVM's (hundreds of threads' stacks and a heap), not a wrapper shell's
    assert rows["rss-idle"]["zookeeper"] > 30
    assert "getData 32x16 1 KiB" in out.stdout and "higher is better" in out.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "[compare" in out.stderr  # progress goes to stderr
