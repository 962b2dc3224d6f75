"""Four-letter words: text commands on the client port (ZooKeeper's FourLetterCommands).

A connection whose first four bytes spell a known command gets that command's
text and is closed.  Commands outside ``4lw.commands.whitelist`` answer
"<cmd> is not executed because it is not in the whitelist."; srvr is always
allowed (zkServer.sh status needs it).  Output follows ZooKeeper 3.8's text
line for line, because scripts and monitoring tools parse it.
"""

from __future__ import annotations

import getpass
import os
import platform
import resource
import sys
import time

from .stats import java_double

ZK_VERSION = "3.8.6-zkcompat-0.1.0, built on 2026-11-25 00:00 UTC"

_WORDS = {
    b"conf": "conf", b"cons": "cons", b"crst": "crst", b"dirs": "dirs", b"dump": "dump", b"envi": "envi",
    b"gtmk": "gtmk", b"ruok": "ruok", b"stmk": "stmk", b"srst": "srst", b"srvr": "srvr", b"stat": "stat",
    b"wchc": "wchc", b"wchp": "wchp", b"wchs": "wchs", b"mntr": "mntr", b"isro": "isro", b"hash": "hash",
    b"\xff\xf4\xff\xfd": "telnet close",
}

_trace_mask = 306  # ZooTrace default mask (gtmk)


def known_word(word: bytes) -> str | None:
    return _WORDS.get(bytes(word))


def _hex(v: int) -> str:
    return "%x" % (v & 0xFFFFFFFFFFFFFFFF)


def get_trace_mask() -> int:
    return _trace_mask


def set_trace_mask(mask: int) -> None:
    """ZooTrace's mask is process-wide in ZooKeeper too (stmk, set_trace_mask)."""
    global _trace_mask
    _trace_mask = mask


def reset_connection_stats(server) -> None:
    """crst / connection_stat_reset: every connection's cons figures back to their start."""
    for c in server.connections:
        c.packets_received = c.packets_sent = 0
        c.min_latency = None
        c.max_latency = c.total_latency = c.latency_count = 0
        c.last_op = "NA"
        c.last_cxid = c.last_zxid = -1
        c.last_response_ms = c.last_latency = 0


def run(server, cmd: str, conn, rest: bytes) -> str:
    if cmd == "telnet close":
        return ""
    if cmd not in server.config.four_letter_words:
        return "%s is not executed because it is not in the whitelist." % cmd
    if cmd == "ruok":
        return "imok"
    if cmd == "isro":
        return "rw"
    if cmd == "gtmk":
        return str(get_trace_mask())
    if cmd == "stmk":
        if len(rest) >= 8:
            set_trace_mask(int.from_bytes(rest[:8], "big", signed=True))
        return str(get_trace_mask())
    if cmd in ("srvr", "stat"):
        return _stat(server, cmd == "stat")
    if cmd == "envi":
        return _envi()
    if cmd == "mntr":
        return "".join("%s\t%s\n" % kv for kv in monitor(server))
    if cmd == "conf":
        return _conf(server)
    if cmd == "cons":
        out = [_cnxn_line(c, brief=False) + "\n" for c in server.connections]
        return "".join(out) + "\n"
    if cmd == "crst":
        reset_connection_stats(server)
        return "Connection stats reset.\n"
    if cmd == "srst":
        server.stats.reset()
        return "Server stats reset.\n"
    if cmd == "wchs":
        w = server.tree.data_watches
        return "%d connections watching %d paths\nTotal watches:%d\n" % (
            len(w.by_watcher), w.path_count(), w.watch_count())
    if cmd == "wchc":
        out = []
        for watcher, paths in server.tree.data_watches.by_watcher.items():
            out.append("0x%s\n" % _hex(watcher.session_id))
            out.extend("\t%s\n" % p for p in paths)
        return "".join(out) + "\n"
    if cmd == "wchp":
        out = []
        for path, watchers in server.tree.data_watches.table.items():
            out.append("%s\n" % path)
            out.extend("\t0x%s\n" % _hex(w.session_id) for w in watchers)
        return "".join(out) + "\n"
    if cmd == "dump":
        return _dump(server)
    if cmd == "dirs":
        return "datadir_size: %d\nlogdir_size: %d\n" % dir_sizes(server)
    if cmd == "hash":
        return "".join("%x: %d\n" % (zxid, digest) for zxid, digest in server.tree.digest_log)
    return ""


def _cnxn_line(c, brief: bool) -> str:
    s = " /%s:%d[%s](queued=%d,recved=%d,sent=%d" % (
        c.remote_ip, c.remote_port, "1" if c.state < 3 else "0", len(c.pending), c.packets_received,
        c.packets_sent)
    if not brief and c.session_id:
        avg = c.total_latency // c.latency_count if c.latency_count else 0
        s += ",sid=0x%s,lop=%s,est=%d,to=%d" % (_hex(c.session_id), c.last_op, c.established_ms, c.session_timeout)
        if c.last_cxid >= 0:
            s += ",lcxid=0x%x" % c.last_cxid
        s += ",lzxid=0x%s,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d" % (
            _hex(c.last_zxid), c.last_response_ms, c.last_latency, c.min_latency or 0, avg, c.max_latency)
    return s + ")"


def _stat(server, with_clients: bool) -> str:
    if not server.serving:
        return "This ZooKeeper instance is not currently serving requests\n"
    out = ["Zookeeper version: %s\n" % ZK_VERSION]
    if with_clients:
        out.append("Clients:\n")
        for c in server.connections:
            out.append(_cnxn_line(c, brief=True) + "\n")
        out.append("\n")
    st = server.stats
    out.append(st.latency_line())
    out.append("Received: %d\n" % st.packets_received)
    out.append("Sent: %d\n" % st.packets_sent)
    out.append("Connections: %d\n" % len(server.connections))
    out.append("Outstanding: %d\n" % st.outstanding)
    out.append("Zxid: 0x%x\n" % server.tree.last_processed_zxid)
    out.append("Mode: %s\n" % server.mode)
    out.append("Node count: %d\n" % server.tree.node_count)
    return "".join(out)


def _envi() -> str:
    return "Environment:\n" + "".join("%s=%s\n" % kv for kv in environment())


def environment() -> list[tuple[str, str]]:
    """envi's key/value pairs (ZooKeeper's Environment.list, with Python in Java's place)."""
    def mb(v: int) -> str:
        return "%dMB" % (v // (1024 * 1024))

    try:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except (ValueError, OSError):
        rss = 0
    lines = [
        ("zookeeper.version", ZK_VERSION),
        ("host.name", platform.node()),
        ("python.version", platform.python_version()),
        ("python.implementation", platform.python_implementation()),
        ("python.executable", sys.executable),
        ("python.path", os.pathsep.join(p for p in sys.path if p)),
        ("os.name", platform.system()),
        ("os.arch", java_os_arch(platform.system(), platform.machine())),
        ("os.version", platform.release()),
        ("user.name", _user()),
        ("user.home", os.path.expanduser("~")),
        ("user.dir", os.getcwd()),
        ("os.memory.rss", mb(rss)),
    ]
    return lines


# what the JVM's os.arch calls the machine types Python's platform.machine() reports
_JAVA_ARCH = {("Linux", "x86_64"): "amd64", ("Linux", "i386"): "i386", ("Linux", "i486"): "i386",
              ("Linux", "i586"): "i386", ("Linux", "i686"): "i386", ("Darwin", "arm64"): "aarch64",
              ("Windows", "AMD64"): "amd64"}


def java_os_arch(system: str, machine: str) -> str:
    """System.getProperty("os.arch") for this machine: amd64 where uname says x86_64 (Linux)."""
    return _JAVA_ARCH.get((system, machine), machine)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "?"


def _conf(server) -> str:
    cfg = server.config
    lines = [
        ("clientPort", cfg.client_port),
        ("secureClientPort", cfg.secure_client_port if cfg.secure_client_port is not None else -1),
        ("dataDir", cfg.data_dir or "(in memory)"),
        ("dataDirSize", 0),
        ("dataLogDir", cfg.data_log_dir or cfg.data_dir or "(in memory)"),
        ("dataLogSize", 0),
        ("tickTime", cfg.tick_time_ms),
        ("maxClientCnxns", cfg.max_client_cnxns),
        ("minSessionTimeout", cfg.min_session_timeout),
        ("maxSessionTimeout", cfg.max_session_timeout),
        ("clientPortListenBacklog", cfg.client_port_listen_backlog),
        ("serverId", cfg.server_id),
    ]
    return "".join("%s=%s\n" % kv for kv in lines)


def _dump(server) -> str:
    out = ["SessionTracker dump:\n"]
    buckets = server.sessions.buckets
    out.append("Session Sets (%d)/(%d):\n" % (len(buckets), len(server.sessions.sessions)))
    now_mono = server.clock.now_ms()
    now_wall = server.clock.wall_ms()
    for due in sorted(buckets):
        wall = (due - now_mono + now_wall) / 1000.0
        out.append("%d expire at %s:\n" % (len(buckets[due]), time.strftime("%a %b %d %H:%M:%S UTC %Y",
                                                                            time.gmtime(wall))))
        out.extend("\t0x%s\n" % _hex(sid) for sid in buckets[due])
    out.append("ephemeral nodes dump:\n")
    # DataTree.dumpEphemerals lists every session of its ephemerals map, also one whose ephemerals
    # were all deleted (the map keeps the empty set until the session ends)
    eph = server.tree.ephemerals
    out.append("Sessions with Ephemerals (%d):\n" % len(eph))
    for sid, paths in eph.items():
        out.append("0x%s:\n" % _hex(sid))
        out.extend("\t%s\n" % p for p in paths.ordered())
    out.append("Connections dump:\n")
    out.append("Connections Sets (%d)/(%d):\n" % (1 if server.connections else 0, len(server.connections)))
    if server.connections:
        out.append("%d expire at %s:\n" % (len(server.connections),
                                           time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(now_wall / 1000))))
        for c in server.connections:
            out.append("\tip: /%s:%d sessionId: 0x%s\n" % (c.remote_ip, c.remote_port, _hex(c.session_id)))
    return "".join(out)


def _version_dir_size(path: str | None) -> int:
    """Bytes of the files in ``<dir>/version-2`` (ZooKeeper's getDataDirSize / getLogDirSize)."""
    if not path:
        return 0
    total = 0
    try:
        with os.scandir(os.path.join(path, "version-2")) as entries:
            for e in entries:
                try:
                    if e.is_file():
                        total += e.stat().st_size
                except OSError:
                    pass
    except OSError:
        return 0
    return total


def dir_sizes(server) -> tuple[int, int]:
    """(data dir, log dir) sizes for dirs; 0 for a server that keeps its data in memory."""
    cfg = server.config
    return _version_dir_size(cfg.data_dir), _version_dir_size(cfg.data_log_dir or cfg.data_dir)


def _fd_counts() -> tuple[int, int]:
    try:
        open_fds = len(os.listdir("/proc/self/fd"))
    except OSError:
        open_fds = 0
    try:
        max_fds = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ValueError, OSError):
        max_fds = 0
    return open_fds, max_fds


def monitor(server) -> list[tuple[str, str]]:
    """mntr's key/value pairs as text, in ZooKeeper 3.8's order for the keys we keep."""
    out = []
    for key, value in monitor_values(server):
        if isinstance(value, float):
            value = java_double(value)
        out.append(("zk_" + key, str(value)))
    return out


def monitor_values(server) -> list[tuple[str, object]]:
    """The monitor figures with their types (str, int, float), keys without mntr's ``zk_`` prefix.

    These are also the AdminServer's monitor answer and the Prometheus gauges' names.
    """
    st = server.stats
    tree = server.tree
    open_fds, max_fds = _fd_counts()
    uptime = server.clock.wall_ms() - server.started_wall_ms
    watch_count = tree.data_watches.watch_count() + tree.child_watches.watch_count()
    # the gauges and counters of ZooKeeper 3.8's mntr, in its order; the per-processor
    # summaries (avg/min/max/cnt/sum/pNN of internal queues) are not emitted
    return [
        ("version", ZK_VERSION),
        ("server_state", server.mode),
        ("ephemerals_count", tree.ephemeral_count()),
        ("num_alive_connections", len(server.connections)),
        ("avg_latency", float(st.avg_latency)),
        ("outstanding_requests", st.outstanding),
        ("znode_count", tree.node_count),
        ("global_sessions", len(server.sessions.sessions)),
        ("non_mtls_remote_conn_count", 0),
        ("last_client_response_size", st.last_response_size),
        ("packets_sent", st.packets_sent),
        ("packets_received", st.packets_received),
        ("max_client_response_size", st.max_response_size),
        ("connection_drop_probability", 0.0),
        ("watch_count", watch_count),
        ("auth_failed_count", st.auth_failed),
        ("min_latency", st.min_latency or 0),
        ("max_file_descriptor_count", max_fds),
        ("approximate_data_size", tree.data_size),
        ("open_file_descriptor_count", open_fds),
        ("local_sessions", 0),
        ("uptime", uptime),
        ("max_latency", st.max_latency),
        ("outstanding_tls_handshake", 0),
        ("min_client_response_size", st.min_response_size),
        ("non_mtls_local_conn_count", 0),
        ("proposal_count", 0),
        ("connection_rejected", st.connections_rejected),
    ]
