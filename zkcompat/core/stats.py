"""Server-wide counters for srvr/stat/mntr (ZooKeeper's ServerStats)."""

from __future__ import annotations


def java_double(v: float) -> str:
    """Double.toString for the small values these counters take."""
    if v == int(v) and abs(v) < 1e7:
        return "%.1f" % v
    return repr(v)


class ServerStats:
    def __init__(self, clock):
        self.clock = clock
        self.reset()
        self.outstanding = 0
        self.connections_rejected = 0
        self.auth_failed = 0

    def reset(self) -> None:
        """srst: ZooKeeper resets the latency and packet counters."""
        self.packets_received = 0
        self.packets_sent = 0
        self.min_latency = None
        self.max_latency = 0
        self.total_latency = 0
        self.latency_count = 0

    def record_latency(self, ms: int) -> None:
        self.total_latency += ms
        self.latency_count += 1
        if ms > self.max_latency:
            self.max_latency = ms
        if self.min_latency is None or ms < self.min_latency:
            self.min_latency = ms

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
