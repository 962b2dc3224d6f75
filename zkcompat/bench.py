"""``zkcompat bench``: a load generator for any ZooKeeper-protocol server.

Each generator process opens its share of the client connections with plain
sockets (asyncio), performs the ZooKeeper handshake, then keeps ``depth``
requests in flight per connection: requests are precomputed frames, replies are
counted by walking the length prefixes only, so the generator spends little
CPU per operation.  Latency is measured per request (send time to reply time).

With ``--rate OPS/S`` the load is open-loop instead: requests leave on a fixed
schedule whatever the replies do, and a request's latency is counted from the
moment it was due to leave, so a stalled server cannot hide its stall by
slowing the generator down (no coordinated omission).

Workloads: get (getData), exists, set (setData), create (unique paths),
create-seq (sequential), mixed (READ_PCT% getData, the rest setData),
delete (creates N nodes untimed, then deletes them timed; N = --ops, default
10000), watch-storm (--clients watcher sessions each hold a getData or exists
watch on one node, one more session sets it; the time from that setData's reply
until all notifications arrived, per round, and notifications/s),
connect-storm (sessions per second: handshake, closeSession, close).
Output: one text line per workload, or JSON lines with ``--json``; a progress
line on stderr once a second unless ``--quiet``.

``zkcompat bench compare`` (zkcompat/bench_compare.py) runs these workloads
against zkcompat and Apache ZooKeeper started alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

from protocol import records
from protocol.codes import OpCode, Xid
from protocol.messages import encode_connect_request

_LEN = struct.Struct(">i")
_HDR = struct.Struct(">ii")
_REPLY = struct.Struct(">iqi")
OPEN_ACL = [records.ACL(31, records.Id("world", "anyone"))]

WORKLOADS = ["get", "exists", "set", "create", "create-seq", "mixed", "delete", "watch-storm", "connect-storm"]
DELETE_NODES_DEFAULT = 10000
WATCH_ROUNDS_DEFAULT = 0  # 0: as many rounds as fit in --duration
_CLIENT_SPACING = 10_000_000  # per-client name counters start at seed * this, so names never collide


def _frame(body: bytes) -> bytes:
    return _LEN.pack(len(body)) + body


def _nodelay(transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# --- statistics and output (pure) -----------------------------------------------------------

def percentile(sorted_values, p: float) -> float:
    """Nearest-rank percentile of an already sorted sequence; 0.0 for an empty one."""
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


_percentile = percentile


def latency_summary(latencies_s) -> dict:
    """p50/p90/p99/max in milliseconds of latencies given in seconds (any order)."""
    lat = sorted(latencies_s)
    return {
        "p50_ms": round(percentile(lat, 50) * 1000, 3),
        "p90_ms": round(percentile(lat, 90) * 1000, 3),
        "p99_ms": round(percentile(lat, 99) * 1000, 3),
        "max_ms": round((lat[-1] if lat else 0.0) * 1000, 3),
    }


def format_result(res: dict) -> str:
    """One text line for one workload result (the shape ``run_workload`` returns)."""
    unit = "notif/s" if res["workload"] == "watch-storm" else (
        "sess/s" if res["workload"] == "connect-storm" else "ops/s")
    line = "%-13s %10.0f %-7s p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  (%d ops, %d errors)" % (
        res["workload"], res["ops_per_sec"], unit, res["p50_ms"], res["p90_ms"], res["p99_ms"], res["max_ms"],
        res["ops"], res["errors"])
    if res["workload"] == "watch-storm":
        line += ("  [%d rounds x %d watchers; latency: setData reply to last notification; "
                 "from the setData sent: p50 %.3f ms p99 %.3f ms]") % (
            res["rounds"], res["clients"], res["from_send_p50_ms"], res["from_send_p99_ms"])
    if res.get("rate"):
        line += "  [open loop at %.0f ops/s]" % res["rate"]
    return line


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` integers that differ by at most one, larger first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# --- progress -----------------------------------------------------------------------------------

class _ProgressPrinter(threading.Thread):
    """Once a second: operations so far and the current rate, summed over ``counts`` slots, on stderr."""

    def __init__(self, label: str, counts, stream=None, interval_s: float = 1.0):
        super().__init__(name="bench-progress", daemon=True)
        self.label = label
        self.counts = counts
        self.stream = stream or sys.stderr
        self.interval_s = interval_s
        self.halt = threading.Event()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.wrote = False

    def run(self):
        last_n, last_t = 0, time.perf_counter()
        while not self.halt.wait(self.interval_s):
            n, t = sum(self.counts), time.perf_counter()
            rate = (n - last_n) / (t - last_t) if t > last_t else 0.0
            last_n, last_t = n, t
            text = "%s: %d ops, %.0f ops/s" % (self.label, n, rate)
            self.stream.write("\r%s\x1b[K" % text if self.tty else text + "\n")
            self.stream.flush()
            self.wrote = True

    def finish(self):
        self.halt.set()
        self.join()
        if self.tty and self.wrote:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# --- request bodies -------------------------------------------------------------------------------

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
    if workload == "delete":
        # the same names "create" made with the same client seed
        return OpCode.DELETE, records.DeleteRequest("%s/c%d" % (prefix, i), -1).to_bytes()
    raise ValueError("unknown workload %r" % workload)


# --- the pipelined (and paced) load connection ---------------------------------------------------

class _LoadProtocol(asyncio.Protocol):
    """One client connection.

    Closed loop (``paced`` false): keeps ``depth`` requests in flight, each reply
    sends the next request.  Open loop (``paced``): sends only what ``send_due``
    is given; latency counts from the due time.  Replies are counted, not decoded.
    """

    def __init__(self, make_request, depth, deadline, ops_limit, finished, paced=False):
        self.make_request = make_request
        self.depth = depth
        self.deadline = deadline
        self.ops_limit = ops_limit  # None: no limit
        self.finished = finished
        self.paced = paced
        self.ready = asyncio.get_running_loop().create_future()
        self.buf = b""
        self.sent_at: dict[int, float] = {}
        self.latencies: list[float] = []
        self.done = 0
        self.errors = 0
        self.xid = 0
        self.stop = False
        self.handshaken = False
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        _nodelay(transport)
        req = records.ConnectRequest(0, 0, 30000, 0, bytes(16))
        transport.write(_frame(encode_connect_request(req, False)))

    def _requests(self, n, now):
        out = []
        for _ in range(n):
            self.xid += 1
            self.sent_at[self.xid] = now
            out.append(self.make_request(self.xid))
        return b"".join(out)

    def _sent_total(self):
        return self.done + len(self.sent_at)

    def send_due(self, due_times):
        """Open loop: one request per due time (all written at once)."""
        if self.stop or self.transport.is_closing():
            return
        out = []
        for t in due_times:
            self.xid += 1
            self.sent_at[self.xid] = t
            out.append(self.make_request(self.xid))
        self.transport.write(b"".join(out))

    def finish(self):
        """Open loop: no more requests; close once the last reply is in."""
        self.stop = True
        if not self.sent_at and self.transport is not None:
            self.transport.close()

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
                if not self.ready.done():
                    self.ready.set_result(None)
                if not self.paced:
                    first = self.depth if self.ops_limit is None else min(self.depth, self.ops_limit)
                    if first <= 0:
                        self.stop = True
                    else:
                        self.transport.write(self._requests(first, now))
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
        if not self.paced:
            if not self.stop and now >= self.deadline:
                self.stop = True
            if not self.stop and replies:
                more = replies
                if self.ops_limit is not None:
                    more = min(more, self.ops_limit - self._sent_total())
                if more > 0:
                    self.transport.write(self._requests(more, now))
                if self.ops_limit is not None and self._sent_total() >= self.ops_limit:
                    self.stop = True
        if self.stop and not self.sent_at:
            self.transport.close()

    def connection_lost(self, exc):
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("connection closed before the handshake: %s" % exc))
        if not self.finished.done():
            self.finished.set_result((self.done, self.errors, self.latencies))


def _request_maker(workload, prefix, value, read_pct, seed):
    rng = random.Random(seed)
    counter = [seed * _CLIENT_SPACING]
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

    return make_request


async def _pace(protos, rate, deadline):
    """Hand each connection its due times, round robin, ``rate`` per second in all, until ``deadline``."""
    interval = 1.0 / rate
    next_t = time.perf_counter()
    i = 0
    n = len(protos)
    while True:
        now = time.perf_counter()
        if now >= deadline:
            break
        due: dict[int, list[float]] = {}
        while next_t <= now:
            due.setdefault(i % n, []).append(next_t)
            i += 1
            next_t += interval
        for k, times in due.items():
            protos[k].send_due(times)
        await asyncio.sleep(max(0.0, next_t - time.perf_counter()))
    for p in protos:
        p.finish()


async def _run_load(job, slot_counts, slot):
    """Open this worker's connections and run the pipelined or paced load; return (done, errors, lats)."""
    loop = asyncio.get_running_loop()
    value = b"x" * job["value_size"]
    deadline = time.perf_counter() + job["duration"]
    protos, waits = [], []
    limits = job["client_ops"]
    for k, seed in enumerate(job["seeds"]):
        limit = None if limits is None else limits[k]
        if limit == 0:
            continue
        host, port = job["addrs"][seed % len(job["addrs"])]
        finished = loop.create_future()
        make_request = _request_maker(job["workload"], job["prefix"], value, job["read_pct"], seed)

        def factory(mr=make_request, f=finished, lim=limit):
            return _LoadProtocol(mr, job["depth"], deadline, lim, f, paced=bool(job["rate"]))

        _, proto = await loop.create_connection(factory, host, port)
        protos.append(proto)
        waits.append(finished)

    async def report():
        while True:
            slot_counts[slot] = sum(p.done for p in protos)
            await asyncio.sleep(0.2)

    reporter = loop.create_task(report())
    try:
        if job["rate"] and protos:
            await asyncio.gather(*[p.ready for p in protos])
            await _pace(protos, job["rate"], time.perf_counter() + job["duration"])
        results = await asyncio.gather(*waits)
    finally:
        reporter.cancel()
    slot_counts[slot] = sum(r[0] for r in results)
    return sum(r[0] for r in results), sum(r[1] for r in results), [x for r in results for x in r[2]]


# --- small request/response session (watch-storm, connect-storm, idle sessions) --------------------

class _Session(asyncio.Protocol):
    """A client session that decodes reply headers: calls return (err, arrival time); counts notifications."""

    def __init__(self, timeout_ms=30000, on_notification=None):
        loop = asyncio.get_running_loop()
        self.timeout_ms = timeout_ms
        self.on_notification = on_notification
        self.ready = loop.create_future()
        self.closed = loop.create_future()
        self.pending: dict[int, asyncio.Future] = {}
        self.buf = b""
        self.xid = 0
        self.pings = 0
        self.transport = None
        self.session_id = 0

    def connection_made(self, transport):
        self.transport = transport
        _nodelay(transport)
        req = records.ConnectRequest(0, 0, self.timeout_ms, 0, bytes(16))
        transport.write(_frame(encode_connect_request(req, False)))

    def data_received(self, data):
        buf = self.buf + data if self.buf else data
        pos = 0
        now = time.perf_counter()
        while len(buf) - pos >= 4:
            n = _LEN.unpack_from(buf, pos)[0]
            if len(buf) - pos - 4 < n:
                break
            frame = buf[pos + 4:pos + 4 + n]
            pos += 4 + n
            if not self.ready.done():
                # ConnectResponse: protocolVersion int, timeOut int, sessionId long, ...
                self.session_id = struct.unpack_from(">q", frame, 8)[0]
                self.ready.set_result(now)
                continue
            rxid, _, err = _REPLY.unpack_from(frame, 0)
            if rxid == Xid.NOTIFICATION:
                if self.on_notification is not None:
                    self.on_notification(now)
            elif rxid == Xid.PING:
                self.pings += 1
            else:
                fut = self.pending.pop(rxid, None)
                if fut is not None and not fut.done():
                    fut.set_result((err, now))
        self.buf = buf[pos:]

    def call(self, op: int, body: bytes = b"") -> asyncio.Future:
        self.xid += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.xid] = fut
        self.transport.write(_frame(_HDR.pack(self.xid, op) + body))
        return fut

    def ping(self):
        self.transport.write(_frame(_HDR.pack(Xid.PING, OpCode.PING)))

    def connection_lost(self, exc):
        err = ConnectionError("connection lost: %s" % exc)
        if not self.ready.done():
            self.ready.set_exception(err)
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(err)
        self.pending.clear()
        if not self.closed.done():
            self.closed.set_result(None)


async def _open_session(host, port, timeout_ms=30000, on_notification=None) -> _Session:
    loop = asyncio.get_running_loop()
    _, s = await loop.create_connection(lambda: _Session(timeout_ms, on_notification), host, port)
    await s.ready
    return s


async def _close_session(s: _Session) -> int:
    try:
        err, _ = await asyncio.wait_for(s.call(OpCode.CLOSE_SESSION), 30)
    except (ConnectionError, asyncio.TimeoutError):
        err = -1
    s.transport.close()
    await s.closed
    return err


async def _connect_storm(job, slot_counts, slot):
    deadline = time.perf_counter() + job["duration"]
    lat: list[float] = []
    errors = [0]
    limits = job["client_ops"]

    async def one_client(k, seed):
        host, port = job["addrs"][seed % len(job["addrs"])]
        limit = None if limits is None else limits[k]
        done = 0
        while time.perf_counter() < deadline and (limit is None or done < limit):
            t0 = time.perf_counter()
            try:
                s = await _open_session(host, port)
                err = await _close_session(s)
            except OSError:
                err = -1
            done += 1
            if err:
                errors[0] += 1
            lat.append(time.perf_counter() - t0)
            slot_counts[slot] = len(lat)

    await asyncio.gather(*[one_client(k, seed) for k, seed in enumerate(job["seeds"])])
    return len(lat), errors[0], lat


def _worker(job):
    """Run one generator process's share of a workload; returns (done, errors, latencies_s, elapsed_s)."""
    slot_counts = _SHARED_COUNTS if _SHARED_COUNTS is not None else job.pop("_counts")
    slot = job["slot"]
    runner = _connect_storm if job["workload"] == "connect-storm" else _run_load
    start = time.perf_counter()
    done, errors, lat = asyncio.run(runner(job, slot_counts, slot))
    return done, errors, lat, time.perf_counter() - start


_SHARED_COUNTS = None  # a RawArray the forked workers write their progress into


# --- watch storm ------------------------------------------------------------------------------------

async def _watch_storm(addrs, prefix, watchers, rounds, duration, value, counts) -> dict:
    notified = [0]
    last = [0.0]
    all_in: list[asyncio.Future | None] = [None]
    expected = [0]

    def on_notification(now):
        notified[0] += 1
        last[0] = now
        counts[0] = notified[0]
        if notified[0] >= expected[0] and all_in[0] is not None and not all_in[0].done():
            all_in[0].set_result(now)

    gate = asyncio.Semaphore(50)

    async def open_one(i):
        async with gate:
            return await _open_session(*addrs[i % len(addrs)], on_notification=on_notification)

    sessions = list(await asyncio.gather(*[open_one(i) for i in range(watchers)]))
    changer = await _open_session(*addrs[0])
    path = prefix + "/n"
    get_body = records.GetDataRequest(path, True).to_bytes()
    exists_body = records.ExistsRequest(path, True).to_bytes()
    set_body = records.SetDataRequest(path, value, -1).to_bytes()
    storms, from_send, errors = [], [], 0
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + duration
    r = 0
    while (rounds and r < rounds) or (not rounds and (r == 0 or time.perf_counter() < deadline)):
        r += 1
        # half the watchers use getData watches, half exists watches (one watch per session)
        arms = [s.call(OpCode.GET_DATA, get_body) if i % 2 == 0 else s.call(OpCode.EXISTS, exists_body)
                for i, s in enumerate(sessions)]
        errors += sum(1 for err, _ in await asyncio.gather(*arms) if err)
        expected[0] = notified[0] + watchers
        all_in[0] = loop.create_future()
        t_send = time.perf_counter()
        err, t_reply = await changer.call(OpCode.SET_DATA, set_body)
        if err:
            errors += 1
        await asyncio.wait_for(all_in[0], 60)
        # the notifications may all precede the writer's own reply: that storm took no time after it
        storms.append(max(0.0, last[0] - t_reply))
        from_send.append(last[0] - t_send)
    for s in sessions + [changer]:
        await _close_session(s)
    res = latency_summary(storms)
    res.update({
        "ops": notified[0], "errors": errors, "rounds": r,
        "seconds": round(sum(from_send), 3),
        "ops_per_sec": round(notified[0] / sum(from_send), 1) if sum(from_send) else 0.0,
        "from_send_p50_ms": latency_summary(from_send)["p50_ms"],
        "from_send_p99_ms": latency_summary(from_send)["p99_ms"],
    })
    return res


# --- idle sessions (for the CPU measurement of ``compare``) ------------------------------------------

async def hold_idle_sessions(hosts: str, sessions: int, seconds: float, *, timeout_ms: int = 6000,
                             on_idle_start=None, on_idle_end=None, connect_concurrency: int = 50) -> dict:
    """Open ``sessions`` sessions that only ping (every third of the session timeout, as clients do)
    for ``seconds``; ``on_idle_start()`` / ``on_idle_end()`` run when every session is open / before
    they close.  Returns counts; the sessions are closed with closeSession at the end."""
    addrs = _parse_hosts(hosts)
    opened: list[_Session] = []
    gate = asyncio.Semaphore(connect_concurrency)

    async def open_one(i):
        async with gate:
            opened.append(await _open_session(*addrs[i % len(addrs)], timeout_ms=timeout_ms))

    await asyncio.gather(*[open_one(i) for i in range(sessions)])
    if on_idle_start is not None:
        on_idle_start()
    end = time.perf_counter() + seconds
    interval = timeout_ms / 3000.0
    rng = random.Random(0)

    async def pinger(s):
        await asyncio.sleep(rng.random() * interval)
        while time.perf_counter() < end:
            s.ping()
            await asyncio.sleep(interval)

    tasks = [asyncio.create_task(pinger(s)) for s in opened]
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    for t in tasks:
        t.cancel()
    if on_idle_end is not None:
        on_idle_end()
    pongs = sum(s.pings for s in opened)
    await asyncio.gather(*[_close_session(s) for s in opened])
    return {"sessions": len(opened), "seconds": seconds, "ping_replies": pongs}


# --- setup and the top-level run -------------------------------------------------------------------

async def _prepare(host, port, prefix, value_size):
    s = await _open_session(host, port)
    value = b"x" * value_size
    parts = prefix.strip("/").split("/")
    path = ""
    for p in parts:
        path += "/" + p
        await s.call(OpCode.CREATE, records.CreateRequest(path, b"", OPEN_ACL, 0).to_bytes())
    await s.call(OpCode.CREATE, records.CreateRequest(prefix + "/n", value, OPEN_ACL, 0).to_bytes())
    await _close_session(s)


def _parse_hosts(hosts: str) -> list[tuple[str, int]]:
    addrs = []
    for hp in hosts.split(","):
        h, _, p = hp.strip().rpartition(":")
        addrs.append((h, int(p)))
    return addrs


def _worker_signals() -> None:
    """A forked generator process dies of SIGTERM and SIGINT again.

    The parent may have Python handlers for them (a Twisted reactor's, in a test process) that only
    ask its reactor to stop.  Pool.terminate() drains the task queue under its read lock, racing the
    workers for their end-of-work sentinels, and then counts on SIGTERM: a worker that lost the race
    lived on, and terminate() waited for it forever (seen twice under load in the test suite)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_jobs(addrs, workload, prefix, clients, depth, duration, ops, value_size, read_pct, procs, rate,
              progress_label):
    """Spread ``clients`` over ``procs`` generator processes; returns the merged raw outcome."""
    global _SHARED_COUNTS
    procs = max(1, min(procs, clients))
    shares = split_evenly(clients, procs)
    client_ops = split_evenly(ops, clients) if ops else None
    rates = [rate * n / clients for n in shares] if rate else [0] * procs
    jobs, first = [], 0
    for i, n in enumerate(shares):
        seeds = [first + k for k in range(n)]
        jobs.append({
            "addrs": addrs, "workload": workload, "prefix": prefix, "depth": depth, "duration": duration,
            "value_size": value_size, "read_pct": read_pct, "rate": rates[i], "slot": i, "seeds": seeds,
            "client_ops": None if client_ops is None else client_ops[first:first + n],
        })
        first += n
    counts = mp.get_context("fork").RawArray("q", procs) if procs > 1 else [0]
    printer = _ProgressPrinter(progress_label, counts) if progress_label else None
    if procs == 1:
        jobs[0]["_counts"] = counts
        if printer:
            printer.start()
        try:
            outs = [_worker(jobs[0])]
        finally:
            if printer:
                printer.finish()
    else:
        _SHARED_COUNTS = counts
        try:
            with mp.get_context("fork").Pool(procs, initializer=_worker_signals) as pool:
                if printer:
                    printer.start()
                outs = pool.map(_worker, jobs)
                pool.close()  # the workers leave when the queue says so; terminate() is for errors
                pool.join()
        finally:
            _SHARED_COUNTS = None
            if printer:
                printer.finish()
    return outs


def run_workload(hosts: str, workload: str, *, clients: int = 32, depth: int = 16, duration: float = 5.0,
                 ops: int = 0, value_size: int = 1024, read_pct: int = 90, procs: int = 1,
                 prefix: str | None = None, rate: float = 0.0, progress: bool = False) -> dict:
    """Run one workload against ``hosts`` and return its result (ops/s and latency percentiles).

    ``ops`` stops after that many operations in all (``duration`` still caps the time; for delete it
    is the number of nodes, default 10000, and the run lasts until all are deleted; for watch-storm
    it is the number of rounds).  ``rate`` (ops/s, all clients together) makes the load open-loop.
    Clients are spread over every server of ``hosts``; the data is made through the first.
    """
    if workload not in WORKLOADS:
        raise ValueError("unknown workload %r (known: %s)" % (workload, ", ".join(WORKLOADS)))
    if rate and workload in ("watch-storm", "connect-storm", "delete"):
        raise ValueError("--rate applies to request workloads, not %s" % workload)
    addrs = _parse_hosts(hosts)
    host, port = addrs[0]
    prefix = prefix or "/zkbench-%d-%d" % (os.getpid(), int(time.time() * 1000) % 1_000_000)
    asyncio.run(_prepare(host, port, prefix, value_size))
    label = workload if progress else None
    base = {"workload": workload, "hosts": hosts, "clients": clients, "depth": depth, "value_size": value_size}
    if workload == "watch-storm":
        counts = [0]
        printer = _ProgressPrinter(label + " notifications", counts) if label else None
        if printer:
            printer.start()
        try:
            res = asyncio.run(_watch_storm(addrs, prefix, clients, ops, duration, b"x" * value_size, counts))
        finally:
            if printer:
                printer.finish()
        base["depth"] = 1
        base.update(res)
        return base
    if workload == "delete":
        nodes = ops or DELETE_NODES_DEFAULT
        # untimed: make the nodes (same seeds, so the same names), then time their deletion
        _run_jobs(addrs, "create", prefix, clients, depth, 1e9, nodes, value_size, read_pct, procs, 0,
                  "delete (creating %d nodes)" % nodes if label else None)
        outs = _run_jobs(addrs, "delete", prefix, clients, depth, 1e9, nodes, value_size, read_pct, procs, 0,
                         label)
    else:
        outs = _run_jobs(addrs, workload, prefix, clients, depth, duration, ops, value_size, read_pct, procs,
                         rate, label)
    done = sum(o[0] for o in outs)
    errors = sum(o[1] for o in outs)
    elapsed = max(o[3] for o in outs)
    base.update({
        "ops": done,
        "errors": errors,
        "seconds": round(elapsed, 3),
        "ops_per_sec": round(done / elapsed, 1) if elapsed else 0.0,
    })
    base.update(latency_summary([x for o in outs for x in o[2]]))
    if rate:
        base["rate"] = rate
    return base


def _positive(text):
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"]:
        from zkcompat.bench_compare import main as compare_main

        return compare_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="zkcompat bench", description=__doc__.split("\n\n")[0],
        epilog="`zkcompat bench compare --help`: run the workloads against zkcompat and Apache ZooKeeper alike.")
    parser.add_argument("--hosts", required=True, help="HOST:PORT[,HOST:PORT...] of a ZooKeeper-protocol server")
    parser.add_argument("--workload", action="append", choices=WORKLOADS,
                        help="workload to run (repeatable; default get)")
    parser.add_argument("--clients", type=int, default=32, help="connections (watch-storm: watcher sessions)")
    parser.add_argument("--depth", type=int, default=16, help="requests in flight per client")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per workload")
    parser.add_argument("--ops", type=int, default=0,
                        help="stop after this many operations (delete: nodes, default %d; watch-storm: rounds)"
                        % DELETE_NODES_DEFAULT)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--read-pct", type=int, default=90, help="share of reads in the mixed workload")
    parser.add_argument("--procs", type=int, default=1, help="generator processes")
    parser.add_argument("--rate", type=_positive, default=0.0, metavar="OPS/S",
                        help="open loop: send this many requests per second in all, whatever the replies")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    args = parser.parse_args(argv)
    for workload in args.workload or ["get"]:
        try:
            res = run_workload(args.hosts, workload, clients=args.clients, depth=args.depth,
                               duration=args.duration, ops=args.ops, value_size=args.value_size,
                               read_pct=args.read_pct, procs=args.procs, rate=args.rate, progress=not args.quiet)
        except ValueError as e:
            parser.error(str(e))
        print(json.dumps(res) if args.json else format_result(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
