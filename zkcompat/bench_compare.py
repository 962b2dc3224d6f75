"""``zkcompat bench compare``: zkcompat against Apache ZooKeeper 3.8, started alike, measured alternately.

Theory of operation.  Both servers run as processes on loopback (``ZkcompatProcess`` and
``RealZooKeeper``) with the same zoo.cfg settings: tickTime, a durable data dir on the same
filesystem (both under one directory), the same forceSync, unlimited connections per client
address (1000 idle sessions come from one address).  ZooKeeper runs with the JVM's defaults, as
Debian's zkServer.sh starts it (the test suite's small-heap, C1-only flags would slow it down).
Both servers of a phase run side by side, and every workload runs on zkcompat then on ZooKeeper,
round after round (A B A B ...), so that noise from the shared machine lands on both alike; a
row's figure is the median over its rounds.  Phases: the durable workloads; then both servers
restarted with forceSync=no for the "nosync" workloads.  Every server start is timed (process
start to the first ``ruok`` answered ``imok``); more starts are made until each server has
``--starts`` of them.  Resident memory and CPU time are read from /proc for the server process
itself (for ZooKeeper the JVM's pid, checked by its name, never a wrapper shell).

Ratios are median zkcompat / median ZooKeeper for every row; each row says which way is better
("higher" for throughput, "lower" for latency, time, memory and CPU), so a ratio above 1 is good
on a throughput row and bad on a latency row.

The default workloads follow the project's performance targets (see ``SPECS``).  The open-loop
row runs getData at half of ZooKeeper's measured peak (the median of its ``get`` rounds, or one
extra ZooKeeper ``get`` run when ``get`` is not selected).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from zkcompat import bench
from zkcompat.servers import RealZooKeeper, ServerStartError, ZkcompatProcess, four_letter_word, free_port

SERVERS = ("zkcompat", "zookeeper")
# Generator processes for the 32x16 read rows, measured on the project's 2-core machine: one
# process spends 0.4 core on getData at 70-80k ops/s and 0.6 core on exists at 140k ops/s against
# zkcompat (which then uses 0.8-1.0 core), so it is not the bottleneck; a second process finds no
# idle core and only competes with the server (getData medians of 3 rounds: zkcompat 43k ops/s
# with one process, 37k with two; ZooKeeper 17.4k and 18.1k, within the noise).  On a machine
# with spare cores, raise it with --procs.
READ_PROCS_DEFAULT = 1
HIGHER, LOWER = "higher", "lower"


@dataclass
class Metric:
    field: str          # key in a bench result
    unit: str           # "ops/s", "ms", "% core", "s", "MiB"
    better: str         # HIGHER or LOWER
    label: str = ""     # row label suffix


@dataclass
class Spec:
    key: str
    label: str
    workload: str = "get"
    clients: int = 32
    depth: int = 16
    value_size: int = 1024
    phase: str = "durable"      # "durable" or "nosync"
    procs: int = 1
    kind: str = "load"          # "load", "idle", "rate", "soak"
    metrics: list[Metric] = field(default_factory=lambda: [Metric("ops_per_sec", "ops/s", HIGHER)])
    default: bool = True


def _specs(read_procs: int) -> list[Spec]:
    p50 = Metric("p50_ms", "ms", LOWER, "p50")
    ops = Metric("ops_per_sec", "ops/s", HIGHER)
    return [
        Spec("get", "getData 32x16 1 KiB", procs=read_procs),
        Spec("exists", "exists 32x16", workload="exists", procs=read_procs),
        Spec("get-1x1", "getData 1x1 latency", clients=1, depth=1, metrics=[p50]),
        Spec("set", "durable setData 32x16", workload="set"),
        Spec("create", "durable create 32x16", workload="create"),
        Spec("set-1x1", "durable setData 1x1", workload="set", clients=1, depth=1, metrics=[ops, p50]),
        # group commit: 32 clients each waiting on its reply against one client
        Spec("set-32x1", "durable setData 32x1", workload="set", depth=1),
        Spec("create-1x1", "durable create 1x1", workload="create", clients=1, depth=1),
        Spec("create-32x1", "durable create 32x1", workload="create", depth=1),
        Spec("set-nosync", "setData 32x16 forceSync=no", workload="set", phase="nosync"),
        Spec("create-nosync", "create 32x16 forceSync=no", workload="create", phase="nosync"),
        Spec("idle-cpu", "idle sessions CPU", kind="idle", metrics=[Metric("cpu_pct", "% core", LOWER)]),
        # one paced generator process: two processes pacing on 2 cores added their own scheduling
        # delays to the p99 (measured: 79 ms against 16 ms at 10k ops/s on zkcompat)
        Spec("get-p99-at-rate", "getData p99 at 50% of ZooKeeper's peak", kind="rate",
             metrics=[Metric("p99_ms", "ms", LOWER, "p99")]),
        # not in the default set: the other workloads of `zkcompat bench`
        Spec("mixed", "mixed 90% reads 32x16", workload="mixed", default=False),
        Spec("delete", "durable delete 32x16", workload="delete", default=False),
        Spec("watch-storm", "watch storm", workload="watch-storm", clients=1000, depth=1, default=False,
             metrics=[Metric("ops_per_sec", "notif/s", HIGHER),
                      Metric("p50_ms", "ms", LOWER, "p50, setData reply to last notification"),
                      Metric("from_send_p50_ms", "ms", LOWER, "p50, setData sent to last notification")]),
        Spec("connect-storm", "connect storm 32 clients", workload="connect-storm", depth=1, default=False,
             metrics=[Metric("ops_per_sec", "sess/s", HIGHER)]),
        # memory after a long load (--soak-seconds, 15 minutes by default): one run per server
        Spec("soak", "mixed load", workload="mixed", depth=4, kind="soak", default=False,
             metrics=[Metric("rss_mib", "MiB", LOWER), Metric("ops_per_sec", "ops/s", HIGHER)]),
    ]


SPECS = _specs(READ_PROCS_DEFAULT)


# --- pure helpers: medians, ratios, the table ----------------------------------------------------------

def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(zkcompat: float | None, zookeeper: float | None) -> float | None:
    """median zkcompat / median ZooKeeper; None when either is missing or ZooKeeper's is 0."""
    if zkcompat is None or zookeeper is None or zookeeper == 0:
        return None
    return zkcompat / zookeeper


def make_row(key: str, label: str, unit: str, better: str, zkc_values, zk_values) -> dict:
    zkc, zk = median(zkc_values), median(zk_values)
    r = ratio(zkc, zk)
    return {"key": key, "label": label, "unit": unit, "better": better,
            "zkcompat": zkc, "zookeeper": zk, "ratio": None if r is None else round(r, 3),
            "zkcompat_runs": list(zkc_values), "zookeeper_runs": list(zk_values)}


def _fmt(value, unit) -> str:
    if value is None:
        return "-"
    if unit in ("ops/s", "notif/s", "sess/s"):
        return "%s %s" % (("%.2fk" % (value / 1000)) if value >= 10000 else "%.0f" % value, unit)
    if unit == "ms":
        return "%.3f ms" % value
    if unit == "s":
        return "%.2f s" % value
    if unit == "MiB":
        return "%.0f MiB" % value
    if unit == "% core":
        return "%.1f%% core" % value
    return "%g %s" % (value, unit)


def format_table(rows: list[dict]) -> str:
    """The comparison as fixed-width text: one line per row, medians and the ratio with its direction."""
    head = ("row", "zkcompat", "ZooKeeper", "ratio", "better")
    lines = [[r["label"], _fmt(r["zkcompat"], r["unit"]), _fmt(r["zookeeper"], r["unit"]),
              "-" if r["ratio"] is None else "%.2f" % r["ratio"],
              "%s is better" % r["better"]] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *lines)]

    def join(cells):  # the label left, the figures right, the direction as is
        return "  ".join(x.ljust(w) if i == 0 else x.rjust(w) if i < 4 else x
                         for i, (x, w) in enumerate(zip(cells, widths)))

    out = [join(head), "  ".join("-" * w for w in widths)] + [join(line) for line in lines]
    out.append("ratio = median zkcompat / median ZooKeeper. On 'higher is better' rows (throughput) a ratio "
               "above 1 favours zkcompat; on 'lower is better' rows (latency, time, memory, CPU) a ratio "
               "below 1 does.")
    return "\n".join(out)


def plot(rows: list[dict], path: str, title: str) -> None:
    """A bar per row of its ratio, log scale, a line at 1.0; green where zkcompat is better."""
    plt = _pyplot()
    rows = [r for r in rows if r["ratio"]]  # a 0 or missing ratio has no bar on a log scale
    fig, ax = plt.subplots(figsize=(12, 0.4 * len(rows) + 1.6))
    labels = ["%s (%s is better)" % (r["label"], r["better"]) for r in rows]
    good = [(r["ratio"] >= 1) == (r["better"] == HIGHER) for r in rows]
    y = list(range(len(rows)))[::-1]
    ax.barh(y, [r["ratio"] for r in rows], color=["#4c9a2a" if g else "#c0504d" for g in good])
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    for yi, r in zip(y, rows):
        ax.text(r["ratio"], yi, " %.2f" % r["ratio"], va="center", fontsize=8)
    ax.set_xlabel("ratio: median zkcompat / median ZooKeeper (log scale); green: zkcompat better")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'zkcompat[bench]' (or pip install matplotlib)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --- /proc readings -------------------------------------------------------------------------------------

def proc_name(pid: int) -> str:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Name:"):
                return line.split(None, 1)[1].strip()
    return ""


def rss_mib(pid: int) -> float:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS for pid %d" % pid)


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (every thread), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return out


def server_pid(pid: int, name_prefix: str) -> int:
    """The pid of the server itself: ``pid`` when its name starts with ``name_prefix`` (java, python),
    else the descendant that does (a wrapper shell's child)."""
    todo = [pid]
    while todo:
        p = todo.pop(0)
        if proc_name(p).startswith(name_prefix):
            return p
        todo.extend(_children(p))
    raise RuntimeError("no %s process under pid %d" % (name_prefix, pid))


# --- servers ---------------------------------------------------------------------------------------------

class Contender:
    """One server of the comparison, started with the shared settings; its starts are timed."""

    def __init__(self, name: str, data_root: str, tick_time: int, log):
        self.name = name
        self.data_root = data_root
        self.tick_time = tick_time
        self.log = log
        self.server = None
        self.pid = 0
        self.data_dir = ""
        self.startups: list[float] = []

    def _settings(self, force_sync: bool) -> dict[str, str]:
        return {"tickTime": str(self.tick_time), "maxClientCnxns": "0", "4lw.commands.whitelist": "*",
                "forceSync": "yes" if force_sync else "no", "dataDir": self.data_dir}

    def start(self, force_sync: bool = True) -> None:
        self.data_dir = tempfile.mkdtemp(prefix="%s-data-" % self.name, dir=self.data_root)
        port = free_port()
        if self.name == "zookeeper":
            server = RealZooKeeper(port=port, extra_cfg=self._settings(force_sync), jvm_flags=[])
            expect = "java"
        else:
            server = ZkcompatProcess("--data-dir", self.data_dir, config=self._settings(force_sync), port=port)
            expect = "python"
        imok = _RuokWatcher(port)
        t0 = time.monotonic()
        imok.start()
        try:
            server.start()
        except BaseException:
            imok.stop()
            raise
        answered = imok.wait(60)
        if answered is None:
            server.stop()
            raise ServerStartError("%s never answered ruok with imok" % self.name)
        self.startups.append(answered - t0)
        self.server = server
        self.pid = server_pid(server.proc.pid, expect)
        self.log("%s started (forceSync=%s) in %.2f s, pid %d, port %d" % (
            self.name, "yes" if force_sync else "no", answered - t0, self.pid, port))

    @property
    def hosts(self) -> str:
        return self.server.hosts

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = ""


class _RuokWatcher(threading.Thread):
    """Asks ``ruok`` every 5 ms from before the process starts; remembers when ``imok`` first came."""

    def __init__(self, port: int):
        super().__init__(name="ruok-watcher", daemon=True)
        self.port = port
        self.answered: float | None = None
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                if four_letter_word("127.0.0.1", self.port, "ruok", timeout=1.0).startswith("imok"):
                    self.answered = time.monotonic()
                    return
            except OSError:
                pass
            self.halt.wait(0.005)

    def wait(self, timeout: float) -> float | None:
        self.join(timeout)
        self.halt.set()
        return self.answered

    def stop(self):
        self.halt.set()


# --- the run ---------------------------------------------------------------------------------------------

@dataclass
class Options:
    workloads: list[str]
    rounds: int = 2
    duration: float = 5.0
    idle_sessions: int = 1000
    idle_seconds: float = 10.0
    soak_seconds: float = 900.0
    starts: int = 3
    tick_time: int = 2000
    data_root: str | None = None
    read_procs: int = READ_PROCS_DEFAULT
    quiet: bool = False


class Comparison:
    def __init__(self, opts: Options, out=None):
        self.opts = opts
        self.out = out or sys.stderr
        self.specs = {s.key: s for s in _specs(opts.read_procs)}
        self.values: dict[tuple[str, str, str], list] = {}  # (spec key, metric field, server) -> values
        self.runs: list[dict] = []
        self.rss: dict[tuple[str, str], list[float]] = {}
        self.rate: float | None = None

    def log(self, text: str) -> None:
        if not self.opts.quiet:
            self.out.write("[compare %s] %s\n" % (time.strftime("%H:%M:%S"), text))
            self.out.flush()

    def _record(self, spec: Spec, server: str, rnd: int, res: dict) -> None:
        res = dict(res, server=server, round=rnd, spec=spec.key)
        self.runs.append(res)
        for m in spec.metrics:
            self.values.setdefault((spec.key, m.field, server), []).append(res.get(m.field))
        self.log("round %d %-9s %-16s %s" % (rnd, server, spec.key, ", ".join(
            "%s=%s" % (m.field, res.get(m.field)) for m in spec.metrics) + (
            "  (%d errors)" % res["errors"] if res.get("errors") else "")))

    def _run_spec(self, spec: Spec, who: Contender, rnd: int) -> None:
        o = self.opts
        if spec.kind == "idle":
            marks = {}
            res = asyncio.run(bench.hold_idle_sessions(
                who.hosts, o.idle_sessions, o.idle_seconds,
                on_idle_start=lambda: marks.update(t0=time.monotonic(), c0=cpu_seconds(who.pid)),
                on_idle_end=lambda: marks.update(t1=time.monotonic(), c1=cpu_seconds(who.pid))))
            res["cpu_seconds"] = round(marks["c1"] - marks["c0"], 3)
            res["cpu_pct"] = round(100.0 * res["cpu_seconds"] / (marks["t1"] - marks["t0"]), 2)
            res["workload"] = "idle-sessions"
        else:
            res = bench.run_workload(who.hosts, spec.workload, clients=spec.clients, depth=spec.depth,
                                     duration=o.soak_seconds if spec.kind == "soak" else o.duration,
                                     value_size=spec.value_size, procs=spec.procs,
                                     rate=self.rate if spec.kind == "rate" else 0.0,
                                     ops=bench.DELETE_NODES_DEFAULT if spec.workload == "delete" else 0,
                                     progress=not o.quiet)
            if spec.kind == "soak":
                res["rss_mib"] = round(rss_mib(who.pid), 1)
        self._record(spec, who.name, rnd, res)

    def _rounds(self, specs: list[Spec], pair: list[Contender]) -> None:
        for rnd in range(1, self.opts.rounds + 1):
            for spec in specs:
                for who in pair:
                    self._run_spec(spec, who, rnd)

    def _start_pair(self, data_root: str, force_sync: bool) -> list[Contender]:
        pair = [Contender(name, data_root, self.opts.tick_time, self.log) for name in SERVERS]
        try:
            for who in pair:
                who.start(force_sync)
        except BaseException:
            for who in pair:
                who.stop()
            raise
        return pair

    def run(self) -> dict:
        o = self.opts
        selected = [self.specs[k] for k in o.workloads]
        root = tempfile.mkdtemp(prefix="zkcompat-compare-", dir=o.data_root)
        startups = {name: [] for name in SERVERS}
        try:
            durable = [s for s in selected if s.phase == "durable" and s.kind not in ("rate", "soak")]
            rated = [s for s in selected if s.kind == "rate"]
            soaks = [s for s in selected if s.kind == "soak"]
            pair = self._start_pair(root, True)
            try:
                for who in pair:
                    self.rss.setdefault(("idle", who.name), []).append(rss_mib(who.pid))
                self._rounds(durable, pair)
                if rated:
                    peak = median(self.values.get(("get", "ops_per_sec", "zookeeper"), []))
                    if peak is None:
                        self.log("measuring ZooKeeper's getData peak for the open-loop row")
                        peak = bench.run_workload(pair[1].hosts, "get", duration=o.duration,
                                                  procs=o.read_procs, progress=not o.quiet)["ops_per_sec"]
                    self.rate = round(peak * 0.5, 1)
                    self.log("open-loop rate: %.0f ops/s (half of ZooKeeper's %.0f)" % (self.rate, peak))
                    self._rounds(rated, pair)
                for spec in soaks:  # long: one run each, after the other loads
                    for who in pair:
                        self._run_spec(spec, who, 1)
                for who in pair:
                    self.rss.setdefault(("loaded", who.name), []).append(rss_mib(who.pid))
            finally:
                for who in pair:
                    startups[who.name] += who.startups
                    who.stop()
            nosync = [s for s in selected if s.phase == "nosync"]
            if nosync:
                pair = self._start_pair(root, False)
                try:
                    self._rounds(nosync, pair)
                finally:
                    for who in pair:
                        startups[who.name] += who.startups
                        who.stop()
            while min(len(v) for v in startups.values()) < o.starts:
                for name in SERVERS:
                    if len(startups[name]) < o.starts:
                        who = Contender(name, root, o.tick_time, self.log)
                        try:
                            who.start(True)
                        finally:
                            startups[name] += who.startups
                            who.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
        return self._report(selected, startups)

    def _report(self, selected: list[Spec], startups: dict) -> dict:
        rows = []
        for spec in selected:
            for m in spec.metrics:
                label = spec.label
                if spec.kind == "rate":
                    label = "getData p99 at %.0f ops/s (50%% of ZooKeeper's peak)" % self.rate
                elif spec.kind == "soak":
                    label = ("resident memory after %g s of %s" if m.field == "rss_mib" else "%g s of %s") % (
                        self.opts.soak_seconds, "mixed load 32x4")
                elif spec.kind == "idle":
                    label = "%d idle sessions, CPU over %g s" % (self.opts.idle_sessions, self.opts.idle_seconds)
                elif m.label:
                    label = "%s %s" % (label, m.label)
                rows.append(make_row("%s:%s" % (spec.key, m.field), label, m.unit, m.better,
                                     self.values.get((spec.key, m.field, "zkcompat"), []),
                                     self.values.get((spec.key, m.field, "zookeeper"), [])))
        rows.append(make_row("startup", "startup (process start to ruok imok)", "s", LOWER,
                             startups["zkcompat"], startups["zookeeper"]))
        rows.append(make_row("rss-idle", "resident memory, idle", "MiB", LOWER,
                             self.rss.get(("idle", "zkcompat"), []), self.rss.get(("idle", "zookeeper"), [])))
        rows.append(make_row("rss-loaded", "resident memory after the loads", "MiB", LOWER,
                             self.rss.get(("loaded", "zkcompat"), []), self.rss.get(("loaded", "zookeeper"), [])))
        o = self.opts
        return {
            "settings": {"workloads": o.workloads, "rounds": o.rounds, "duration_s": o.duration,
                         "idle_sessions": o.idle_sessions, "idle_seconds": o.idle_seconds, "starts": o.starts,
                         "soak_seconds": o.soak_seconds,
                         "tick_time": o.tick_time, "read_procs": o.read_procs, "rate": self.rate,
                         "zookeeper_jvm_flags": "JVM defaults (as zkServer.sh with JAVA_OPTS=\"\")",
                         "cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "rows": rows,
            "runs": self.runs,
        }


def main(argv=None) -> int:
    keys = [s.key for s in SPECS]
    defaults = [s.key for s in SPECS if s.default]
    parser = argparse.ArgumentParser(
        prog="zkcompat bench compare",
        description="Start Apache ZooKeeper 3.8 and zkcompat alike, run the same workloads on both "
                    "alternately, and print medians and ratios (zkcompat / ZooKeeper).",
        epilog="workloads: %s (default: all but %s)" % (
            ", ".join(keys), ", ".join(k for k in keys if k not in defaults)))
    parser.add_argument("--workloads", help="comma-separated subset of the workloads")
    parser.add_argument("--rounds", type=int, default=2, help="A B rounds per workload (default 2)")
    parser.add_argument("--duration", type=float, help="seconds per workload run (default 5; --quick 1)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 s runs, 100 idle sessions for 2 s, one start each")
    parser.add_argument("--idle-sessions", type=int, help="idle sessions for the CPU row (default 1000)")
    parser.add_argument("--idle-seconds", type=float, help="idle window for the CPU row (default 10)")
    parser.add_argument("--soak-seconds", type=float, default=900.0,
                        help="length of the soak row's load (default 900: memory after 15 minutes)")
    parser.add_argument("--starts", type=int, help="timed starts per server at least (default 3)")
    parser.add_argument("--tick-time", type=int, default=2000, help="tickTime of both servers (default 2000)")
    parser.add_argument("--procs", type=int, default=READ_PROCS_DEFAULT,
                        help="generator processes for the 32-client read workloads (default %d)"
                        % READ_PROCS_DEFAULT)
    parser.add_argument("--data-root", help="directory for both servers' data dirs (default: the temp dir)")
    parser.add_argument("--json", metavar="FILE", help="write the settings, rows and every run as JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="bar chart of the ratios (needs matplotlib)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    workloads = defaults
    if args.workloads:
        workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
        unknown = [w for w in workloads if w not in keys]
        if unknown:
            parser.error("unknown workloads: %s (known: %s)" % (", ".join(unknown), ", ".join(keys)))
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.plot:
        _pyplot()  # fail now, not after minutes of measuring
    q = args.quick
    opts = Options(
        workloads=workloads, rounds=args.rounds,
        duration=args.duration if args.duration is not None else (1.0 if q else 5.0),
        idle_sessions=args.idle_sessions if args.idle_sessions is not None else (100 if q else 1000),
        idle_seconds=args.idle_seconds if args.idle_seconds is not None else (2.0 if q else 10.0),
        soak_seconds=args.soak_seconds,
        starts=args.starts if args.starts is not None else (1 if q else 3),
        tick_time=args.tick_time, data_root=args.data_root, read_procs=args.procs, quiet=args.quiet)
    result = Comparison(opts).run()
    print(format_table(result["rows"]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
        print("results: %s" % args.json)
    if args.plot:
        plot(result["rows"], args.plot, "zkcompat vs Apache ZooKeeper 3.8 (%s, %d rounds, medians)" % (
            time.strftime("%Y-%m-%d"), opts.rounds))
        print("plot: %s" % args.plot)
    return 0
