"""Prometheus /metrics over real HTTP: ZooKeeper's metric names, a per-op latency histogram, one registry per server."""

from __future__ import annotations

import time

import pytest
from http_helpers import http_get, metrics_port_of
from kazoo.client import KazooClient
from prometheus_client.parser import text_string_to_metric_families

from zkcompat.servers import ZkcompatProcess
from zkcompat.testing import EmbeddedServer

# ZooKeeper's own names (ZooKeeperServer.registerMetrics gauges; mntr prints them with zk_)
ZOOKEEPER_NAMES = ["znode_count", "watch_count", "ephemerals_count", "approximate_data_size",
                   "num_alive_connections", "outstanding_requests", "avg_latency", "min_latency", "max_latency",
                   "packets_received", "packets_sent", "open_file_descriptor_count", "max_file_descriptor_count",
                   "global_sessions", "uptime", "auth_failed_count", "connection_rejected"]
HISTOGRAM = "zkcompat_request_latency_seconds"


def scrape(url: str) -> dict:
    """{(sample name, sorted labels): value} of one scrape."""
    status, headers, body = http_get(url)
    assert status == 200, body
    assert headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def op_count(samples: dict, op: str) -> float:
    return samples.get((HISTOGRAM + "_count", (("op", op),)), 0.0)


@pytest.fixture
def embedded():
    with EmbeddedServer(metrics_port=0) as server:
        yield server


def test_zookeeper_metric_names_are_served(embedded, kazoo):
    """Every named ZooKeeper gauge is there, with the value mntr reports."""
    samples = scrape(embedded.metrics_url)
    for name in ZOOKEEPER_NAMES:
        assert (name, ()) in samples, name
    mntr = dict(line.split("\t") for line in embedded.four_letter_word("mntr").splitlines())
    assert samples[("znode_count", ())] == float(mntr["zk_znode_count"])
    assert samples[("num_alive_connections", ())] == 1
    assert samples[("open_file_descriptor_count", ())] > 0
    assert ("process_open_fds", ()) in samples  # the process collector: exportJvmInfo's counterpart


def test_gauges_and_per_op_histogram_follow_the_work(embedded, kazoo):
    """znode_count rises with creates; the per-op histogram counts each op once, in its buckets."""
    before = scrape(embedded.metrics_url)
    for i in range(7):
        kazoo.create("/n%d" % i, b"x")
    for _ in range(3):
        kazoo.get("/n0")
    kazoo.set("/n1", b"y")
    kazoo.create("/n0/e", ephemeral=True)
    kazoo.get("/n2", watch=lambda event: None)
    after = scrape(embedded.metrics_url)
    assert after[("znode_count", ())] == before[("znode_count", ())] + 8
    assert after[("ephemerals_count", ())] == before[("ephemerals_count", ())] + 1
    assert after[("watch_count", ())] == before[("watch_count", ())] + 1
    assert after[("packets_received", ())] >= before[("packets_received", ())] + 13
    assert op_count(after, "create") - op_count(before, "create") == 8
    assert op_count(after, "getData") - op_count(before, "getData") == 4
    assert op_count(after, "setData") - op_count(before, "setData") == 1
    buckets = sorted((float(dict(labels)["le"]), v) for (name, labels), v in after.items()
                     if name == HISTOGRAM + "_bucket" and dict(labels)["op"] == "create")
    assert buckets[-1] == (float("inf"), op_count(after, "create"))
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))  # cumulative
    assert after[(HISTOGRAM + "_sum", (("op", "create"),))] >= 0


def test_servers_in_one_process_keep_their_own_registry(embedded, kazoo):
    """Two embedded servers report their own trees (a CollectorRegistry each, never the global one)."""
    with EmbeddedServer(metrics_port=0) as other:
        for i in range(4):
            kazoo.create("/only-here-%d" % i)
        mine, theirs = scrape(embedded.metrics_url), scrape(other.metrics_url)
        assert mine[("znode_count", ())] == theirs[("znode_count", ())] + 4
        assert op_count(theirs, "create") == 0


def test_other_paths_are_not_found_and_name_filter_works(embedded):
    """Only /metrics is served; ?name[]= restricts the answer as prometheus_client's exporters do."""
    assert http_get("http://%s:%d/other" % (embedded.host, embedded.metrics_port))[0] == 404
    only = scrape(embedded.metrics_url + "?name[]=znode_count")
    assert list(only) == [("znode_count", ())]


def test_zkcompat_serve_starts_the_prometheus_provider_from_zoo_cfg():
    """metricsProvider.className=...PrometheusMetricsProvider with httpHost/httpPort serves /metrics."""
    cfg = {"metricsProvider.className": "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
           "metricsProvider.httpHost": "127.0.0.1", "metricsProvider.httpPort": "0"}
    with ZkcompatProcess(config=cfg) as proc:
        url = "http://127.0.0.1:%d/metrics" % metrics_port_of(proc)
        before = scrape(url)
        client = KazooClient(hosts=proc.hosts, timeout=10.0)
        client.start(timeout=10)
        try:
            client.create("/p", b"")
        finally:
            client.stop()
            client.close()
        after = scrape(url)
        assert after[("znode_count", ())] == before[("znode_count", ())] + 1
        assert op_count(after, "create") == 1


def test_every_ensemble_member_serves_its_own_metrics():
    """Each `zkcompat serve` ensemble member serves /metrics; a write reaches every member's znode_count."""
    from zkcompat.servers import ZkcompatEnsemble

    cfg = {"metricsProvider.className": "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
           "metricsProvider.httpHost": "127.0.0.1", "metricsProvider.httpPort": "0"}
    with ZkcompatEnsemble(3, tick_time=200, extra_cfg=cfg) as ens:
        urls = {sid: "http://127.0.0.1:%d/metrics" % metrics_port_of(m) for sid, m in ens.members.items()}
        before = {sid: scrape(url)[("znode_count", ())] for sid, url in urls.items()}
        leader = ens.leader()
        follower = next(sid for sid in urls if sid != leader)
        client = KazooClient(hosts=ens.host(follower), timeout=10.0)
        client.start(timeout=10)
        try:
            client.create("/everywhere", b"")
            client.sync("/everywhere")
        finally:
            client.stop()
            client.close()
        deadline = time.monotonic() + 10
        while True:
            now = {sid: scrape(url)[("znode_count", ())] for sid, url in urls.items()}
            if all(now[sid] == before[sid] + 1 for sid in urls) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert now == {sid: before[sid] + 1 for sid in urls}
        assert op_count(scrape(urls[follower]), "create") == 1
