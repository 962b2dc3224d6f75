"""Prometheus ``/metrics``, as ZooKeeper's PrometheusMetricsProvider serves it, on twisted.web.

zoo.cfg turns it on with ``metricsProvider.className=
org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider`` and places
it at ``metricsProvider.httpHost`` : ``metricsProvider.httpPort`` (0.0.0.0:7000).

Each server gets its own CollectorRegistry, so several servers in one process
(EmbeddedServer, ``zkcompat ensemble``) never mix their figures.  Nothing is
counted twice: the collector reads the core's figures when Prometheus scrapes,
on the reactor thread (ZooKeeper samples its gauges at scrape time the same
way).  Exported:

- every number of ``mntr`` as a gauge named like ZooKeeper's metric, i.e. the
  mntr key without ``zk_`` (znode_count, watch_count, packets_received,
  avg_latency, open_file_descriptor_count, ...);
- ``zkcompat_request_latency_seconds``, a histogram of request latency per
  opcode (label ``op`` with ZooKeeper's op names: getData, create, ...);
- the process and platform collectors of prometheus_client (CPU, memory, open
  fds, Python version): the counterpart of ZooKeeper's exportJvmInfo.

The page is generated on the reactor (no WSGI thread pool).
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from twisted.web import resource, server

from zkcompat.core.fourlw import monitor_values
from zkcompat.core.stats import LATENCY_BUCKETS_MS

log = logging.getLogger("zkcompat.metrics")

_BOUNDS = [repr(ms / 1000.0) for ms in LATENCY_BUCKETS_MS] + ["+Inf"]


class ServerCollector:
    """The zkcompat core's figures as Prometheus metric families, read at scrape time."""

    def __init__(self, zk_server):
        self.zk_server = zk_server

    def collect(self):
        srv = self.zk_server
        for key, value in monitor_values(srv):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue  # version, server_state: text, not numbers
            yield GaugeMetricFamily(key, key, value=value)
        hist = HistogramMetricFamily("zkcompat_request_latency_seconds",
                                     "Request latency per opcode, from arrival to reply, in seconds",
                                     labels=["op"])
        for op, (cumulative, _count, sum_ms) in srv.op_latency.snapshot().items():
            hist.add_metric([op], list(zip(_BOUNDS, cumulative)), sum_ms / 1000.0)
        yield hist


def server_registry(zk_server) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServerCollector(zk_server))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


class _Only:
    """The families named in ``?name[]=`` (by family or sample name), as prometheus_client's exporters filter."""

    def __init__(self, registry, names):
        self.registry = registry
        self.names = set(names)

    def collect(self):
        for family in self.registry.collect():
            if family.name in self.names or any(s.name in self.names for s in family.samples):
                yield family


class MetricsResource(resource.Resource):
    """GET /metrics: the registry in the text format (or OpenMetrics when asked for)."""

    isLeaf = True

    def __init__(self, registry: CollectorRegistry):
        super().__init__()
        self.registry = registry

    def render_GET(self, request):
        if request.path.rstrip(b"/") != b"/metrics":
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"Not Found\n"
        accept = request.getHeader(b"accept")
        encoder, content_type = choose_encoder(accept.decode("latin-1") if accept else None)
        registry = self.registry
        names = [n.decode("utf-8", "replace") for n in (request.args or {}).get(b"name[]", [])]
        if names:
            registry = _Only(registry, names)
        try:
            body = encoder(registry)
        except Exception:
            log.exception("collecting metrics failed")
            request.setResponseCode(500)
            return b"collecting metrics failed\n"
        request.setHeader(b"content-type", content_type.encode("latin-1"))
        return body


def listen_metrics(reactor, zk_server, config, port: int | None = None, host: str | None = None):
    """Listen for Prometheus scrapes; returns (listening port, registry)."""
    registry = server_registry(zk_server)
    site = server.Site(MetricsResource(registry))
    site.displayTracebacks = False
    site.noisy = False
    site.log = lambda request: None
    port = config.metrics_http_port if port is None else port
    host = config.metrics_http_host if host is None else host
    return reactor.listenTCP(port, site, interface=host), registry
