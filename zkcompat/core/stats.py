"""Server-wide counters for srvr/stat/mntr (ZooKeeper's ServerStats)."""

from __future__ import annotations

from bisect import bisect_left as _bisect_left


def java_double(v: float) -> str:
    """Double.toString for the small values these counters take."""
    if v == int(v) and abs(v) < 1e7:
        return "%.1f" % v
    return repr(v)


def add_latency(figures, ms: int) -> None:
    """Count one reply's latency in a server's or a connection's figures (stat, cons, mntr)."""
    figures.total_latency += ms
    figures.latency_count += 1
    if ms > figures.max_latency:
        figures.max_latency = ms
    if figures.min_latency is None or ms < figures.min_latency:
        figures.min_latency = ms


class ServerStats:
    def __init__(self, clock):
        self.clock = clock
        self.reset()
        self.outstanding = 0
        self.connections_rejected = 0
        self.auth_failed = 0

    def reset(self) -> None:
        """srst: ZooKeeper resets the latency and packet counters and the response sizes."""
        self.packets_received = 0
        self.packets_sent = 0
        self.min_latency = None
        self.max_latency = 0
        self.total_latency = 0
        self.latency_count = 0
        # BufferStats of client responses: -1 until the first response
        self.last_response_size = -1
        self.min_response_size = -1
        self.max_response_size = -1

    def record_response_size(self, size: int) -> None:
        """ServerStats.updateClientResponseSize: ``size`` is a response's length without its 4-byte prefix.

        ServerCnxn.serialize calls it for every reply and notification (sendResponse), not for
        the ConnectResponse, which is written as a raw buffer.
        """
        self.last_response_size = size
        if self.min_response_size == -1 or size < self.min_response_size:
            self.min_response_size = size
        if size > self.max_response_size:
            self.max_response_size = size

    @property
    def avg_latency(self) -> float:
        if not self.latency_count:
            return 0.0
        return round(self.total_latency / self.latency_count, 4)

    def latency_line(self) -> str:
        return "Latency min/avg/max: %d/%s/%d\n" % (
            self.min_latency or 0,
            java_double(self.avg_latency),
            self.max_latency,
        )


# Request.op2String's names (ZooKeeper's own spelling), used as the ``op`` label of the
# per-opcode latency histogram.
OP_NAMES = {
    0: "notification", 1: "create", 2: "delete", 3: "exists", 4: "getData", 5: "setData", 6: "getACL",
    7: "setACL", 8: "getChildren", 9: "sync", 11: "ping", 12: "getChildren2", 13: "check", 14: "multi",
    15: "create2", 16: "reconfig", 17: "checkWatches", 18: "removeWatches", 19: "createContainer",
    20: "deleteContainer", 21: "createTTL", 22: "multiRead", 100: "auth", 101: "setWatches", 102: "sasl",
    103: "getEphemerals", 104: "getAllChildrenNumber", 105: "setWatches2", 106: "addWatch", 107: "whoAmI",
    -10: "createSession", -11: "closeSession", -1: "error",
}

# upper bounds of the latency buckets, in ms (the last, +Inf, is implicit)
LATENCY_BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class OpLatency:
    """Request latency per opcode in per-bucket counts (``snapshot()`` makes them cumulative for a histogram).

    Unlike ServerStats it is never reset (srst resets srvr's figures only): a Prometheus
    histogram's counts only grow.  The hot path (a read answered at once, latency 0 ms)
    only counts; ``snapshot()`` folds those counts into the first bucket.
    """

    def __init__(self):
        self.instant: dict[int, int] = {}  # opcode -> requests answered in 0 ms on the fast path
        self.ops: dict[int, list] = {}  # opcode -> [count per bucket..., +Inf count, sum_ms]

    def count_instant(self, op: int) -> None:
        self.instant[op] = self.instant.get(op, 0) + 1

    def observe(self, op: int, ms: int) -> None:
        row = self.ops.get(op)
        if row is None:
            row = self.ops[op] = [0] * (len(LATENCY_BUCKETS_MS) + 2)
        row[_bisect_left(LATENCY_BUCKETS_MS, ms)] += 1  # the first bucket whose bound is >= ms
        row[-1] += ms

    def snapshot(self) -> dict[str, tuple[list[int], int, int]]:
        """op name -> (cumulative counts per bucket incl. +Inf, total count, sum in ms)."""
        out = {}
        for op in sorted(set(self.ops) | set(self.instant)):
            row = self.ops.get(op) or [0] * (len(LATENCY_BUCKETS_MS) + 2)
            counts = list(row[:-1])
            counts[0] += self.instant.get(op, 0)
            cumulative, total = [], 0
            for c in counts:
                total += c
                cumulative.append(total)
            out[OP_NAMES.get(op, str(op))] = (cumulative, total, row[-1])
        return out
