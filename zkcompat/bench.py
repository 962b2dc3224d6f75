"""``zkcompat bench``: a load generator for any ZooKeeper-protocol server.

Each generator process opens its share of the client connections with plain
sockets (asyncio), performs the ZooKeeper handshake, then keeps ``depth``
requests in flight per connection: requests are precomputed frames, replies are
counted by walking the length prefixes only, so the generator spends little
CPU per operation.  Latency is measured per request (send time to reply time).

Workloads: get (getData), exists, set (setData), create (unique paths),
create-seq (sequential), mixed (READ_PCT% getData, the rest setData).
Output: one text line per workload, or JSON lines with ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import struct
import sys
import time

from protocol import records
from protocol.codes import OpCode
from protocol.messages import encode_connect_request

_LEN = struct.Struct(">i")
_HDR = struct.Struct(">ii")
_REPLY = struct.Struct(">iqi")
OPEN_ACL = [records.ACL(31, records.Id("world", "anyone"))]


def _frame(body: bytes) -> bytes:
    return _LEN.pack(len(body)) + body


async def _handshake(host, port, timeout_ms=30000):
    reader, writer = await asyncio.open_connection(host, port)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        import socket

        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = records.ConnectRequest(0, 0, timeout_ms, 0, bytes(16))
    writer.write(_frame(encode_connect_request(req, False)))
    n = _LEN.unpack(await reader.readexactly(4))[0]
    await reader.readexactly(n)
    return reader, writer


async def _request(reader, writer, xid, op, rec):
    writer.write(_frame(_HDR.pack(xid, op) + rec.to_bytes()))
    n = _LEN.unpack(await reader.readexactly(4))[0]
    data = await reader.readexactly(n)
    return _REPLY.unpack_from(data, 0)[2]


def _body(workload: str, prefix: str, i: int, value: bytes, read_pct: int, rng) -> tuple[int, bytes]:
    if workload == "get" or (workload == "mixed" and rng.randrange(100) < read_pct):
        return OpCode.GET_DATA, records.GetDataRequest(prefix + "/n", False).to_bytes()
    if workload == "exists":
        return OpCode.EXISTS, records.ExistsRequest(prefix + "/n", False).to_bytes()
    if workload in ("set", "mixed"):
        return OpCode.SET_DATA, records.SetDataRequest(prefix + "/n", value, -1).to_bytes()
    if workload == "create":
        return OpCode.CREATE, records.CreateRequest("%s/c%d" % (prefix, i), value, OPEN_ACL, 0).to_bytes()
    if workload == "create-seq":
        return OpCode.CREATE, records.CreateRequest(prefix + "/s", value, OPEN_ACL, 2).to_bytes()
    raise ValueError("unknown workload %r" % workload)


class _LoadProtocol(asyncio.Protocol):
    """One client connection keeping ``depth`` requests in flight; replies are counted, not decoded."""

    def __init__(self, make_request, depth, deadline, ops_limit, finished):
        self.make_request = make_request
        self.depth = depth
        self.deadline = deadline
        self.ops_limit = ops_limit
        self.finished = finished
        self.buf = b""
        self.sent_at: dict[int, float] = {}
        self.latencies: list[float] = []
        self.done = 0
        self.errors = 0
        self.xid = 0
        self.stop = False
        self.handshaken = False

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            import socket

            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        req = records.ConnectRequest(0, 0, 30000, 0, bytes(16))
        transport.write(_frame(encode_connect_request(req, False)))

    def _requests(self, n, now):
        out = []
        for _ in range(n):
            self.xid += 1
            self.sent_at[self.xid] = now
            out.append(self.make_request(self.xid))
        return b"".join(out)

    def data_received(self, data):
        buf = self.buf + data if self.buf else data
        pos = 0
        end = len(buf)
        now = time.perf_counter()
        replies = 0
        while end - pos >= 4:
            n = _LEN.unpack_from(buf, pos)[0]
            if end - pos - 4 < n:
                break
            if not self.handshaken:
                self.handshaken = True
                pos += 4 + n
                self.transport.write(self._requests(self.depth, now))
                continue
            rxid, _, err = _REPLY.unpack_from(buf, pos + 4)
            pos += 4 + n
            t0 = self.sent_at.pop(rxid, None)
            if t0 is None:
                continue
            self.latencies.append(now - t0)
            self.done += 1
            replies += 1
            if err:
                self.errors += 1
        self.buf = buf[pos:]
        if not self.stop and (now >= self.deadline or (self.ops_limit and self.done + len(self.sent_at) >= self.ops_limit)):
            self.stop = True
        if not self.stop and replies:
            self.transport.write(self._requests(replies, now))
        if self.stop and not self.sent_at:
            self.transport.close()

    def connection_lost(self, exc):
        if not self.finished.done():
            self.finished.set_result((self.done, self.errors, self.latencies))


async def _client(host, port, workload, prefix, depth, deadline, ops_limit, value, read_pct, seed, results):
    import random

    rng = random.Random(seed)
    counter = [seed * 10_000_000]
    fixed = None
    if workload in ("get", "exists", "set"):
        fixed = _body(workload, prefix, 0, value, read_pct, rng)

    def make_request(xid):
        if fixed is not None:
            op, body = fixed
        else:
            counter[0] += 1
            op, body = _body(workload, prefix, counter[0], value, read_pct, rng)
        return _LEN.pack(8 + len(body)) + _HDR.pack(xid, op) + body

    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    await loop.create_connection(
        lambda: _LoadProtocol(make_request, depth, deadline, ops_limit, finished), host, port)
    results.append(await finished)


def _worker(args_tuple):
    (addrs, workload, prefix, clients, depth, duration, ops_limit, value_size, read_pct, seed0) = args_tuple

    async def main():
        value = b"x" * value_size
        results: list = []
        deadline = time.perf_counter() + duration
        per_client_ops = ops_limit // clients if ops_limit else 0
        await asyncio.gather(*[
            _client(*addrs[(seed0 + i) % len(addrs)], workload, prefix, depth, deadline, per_client_ops, value,
                    read_pct, seed0 + i, results)
            for i in range(clients)
        ])
        return results

    start = time.perf_counter()
    results = asyncio.run(main())
    elapsed = time.perf_counter() - start
    done = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    lat = [x for r in results for x in r[2]]
    return done, errors, lat, elapsed


async def _prepare(host, port, prefix, value_size):
    reader, writer = await _handshake(host, port)
    value = b"x" * value_size
    parts = prefix.strip("/").split("/")
    path = ""
    xid = 0
    for p in parts:
        path += "/" + p
        xid += 1
        await _request(reader, writer, xid, OpCode.CREATE, records.CreateRequest(path, b"", OPEN_ACL, 0))
    xid += 1
    await _request(reader, writer, xid, OpCode.CREATE, records.CreateRequest(prefix + "/n", value, OPEN_ACL, 0))
    writer.close()


def _percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def run_workload(hosts: str, workload: str, *, clients: int = 32, depth: int = 16, duration: float = 5.0,
                 ops: int = 0, value_size: int = 1024, read_pct: int = 90, procs: int = 1,
                 prefix: str | None = None) -> dict:
    # clients are spread over every server of ``hosts`` (the data is made through the first)
    addrs = []
    for hp in hosts.split(","):
        h, _, p = hp.strip().rpartition(":")
        addrs.append((h, int(p)))
    host, port = addrs[0]
    prefix = prefix or "/zkbench-%d-%d" % (os.getpid(), int(time.time() * 1000) % 1_000_000)
    asyncio.run(_prepare(host, port, prefix, value_size))
    procs = max(1, min(procs, clients))
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    jobs = [
        (addrs, workload, prefix, n, depth, duration, (ops * n // clients) if ops else 0, value_size,
         read_pct, 1000 * i)
        for i, n in enumerate(shares)
    ]
    if procs == 1:
        outs = [_worker(jobs[0])]
    else:
        with mp.get_context("fork").Pool(procs) as pool:
            outs = pool.map(_worker, jobs)
    done = sum(o[0] for o in outs)
    errors = sum(o[1] for o in outs)
    elapsed = max(o[3] for o in outs)
    lat = sorted(x for o in outs for x in o[2])
    return {
        "workload": workload,
        "hosts": hosts,
        "clients": clients,
        "depth": depth,
        "value_size": value_size,
        "ops": done,
        "errors": errors,
        "seconds": round(elapsed, 3),
        "ops_per_sec": round(done / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(_percentile(lat, 50) * 1000, 3),
        "p90_ms": round(_percentile(lat, 90) * 1000, 3),
        "p99_ms": round(_percentile(lat, 99) * 1000, 3),
        "max_ms": round((lat[-1] if lat else 0) * 1000, 3),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="zkcompat bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", required=True, help="HOST:PORT of any ZooKeeper-protocol server")
    parser.add_argument("--workload", action="append",
                        choices=["get", "exists", "set", "create", "create-seq", "mixed"],
                        help="workload to run (repeatable; default get)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--depth", type=int, default=16, help="requests in flight per client")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per workload")
    parser.add_argument("--ops", type=int, default=0, help="stop after this many operations instead")
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--read-pct", type=int, default=90, help="share of reads in the mixed workload")
    parser.add_argument("--procs", type=int, default=1, help="generator processes")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    args = parser.parse_args(argv)
    for workload in args.workload or ["get"]:
        res = run_workload(args.hosts, workload, clients=args.clients, depth=args.depth, duration=args.duration,
                           ops=args.ops, value_size=args.value_size, read_pct=args.read_pct, procs=args.procs)
        if args.json:
            print(json.dumps(res), flush=True)
        else:
            print("%-10s %10.0f ops/s  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  (%d ops, %d errors)" % (
                workload, res["ops_per_sec"], res["p50_ms"], res["p90_ms"], res["p99_ms"], res["max_ms"],
                res["ops"], res["errors"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
