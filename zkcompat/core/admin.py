"""AdminServer commands: the data behind ZooKeeper's ``/commands/<name>`` JSON answers.

Theory of operation
-------------------
ZooKeeper 3.5+ serves its monitoring and admin commands over HTTP (the
AdminServer, ``server/admin/Commands.java``).  Each command has a primary name
and aliases (``monitor`` = ``mntr``) and answers a JSON object holding the
command's own keys, then ``"command"`` (the primary name) and ``"error"``
(null, or a message).  This module computes those objects from the server
core; zkcompat.net.admin only puts them on HTTP.  The figures come from the same
places as the four-letter words (zkcompat.core.fourlw), so ``mntr`` and
``/commands/monitor`` never disagree.

Invariants kept from ZooKeeper 3.8 (checked against a running one, see
tests/compat/test_admin_http.py):

- the key sets and value types of each answer are ZooKeeper's: ints where it
  has Java longs/ints, floats for its doubles, strings, booleans and null;
- map keys that are numbers in Java (session ids, expiry times) are strings in
  JSON, list elements stay numbers; session ids are signed 64-bit like Java's;
- maps and sets that ZooKeeper builds afresh for an answer (watches,
  watches_by_path, dump) iterate in the order of those fresh Java HashMaps and
  HashSets (zkcompat.core.javahash);
- an unknown command answers ``{"command": <name>, "error": "Unknown command:
  <name>"}`` with HTTP 200; a command that needs a serving server answers
  "This ZooKeeper instance is not currently serving requests" while there is
  none (an ensemble member without a quorum);
- ``render_json`` prints like Jackson's default pretty printer, byte for byte
  on the shapes these answers take.

Nothing here does network I/O; ``last_snapshot`` and ``dirs`` look at the data
directory's files, as ZooKeeper's commands do.
"""

from __future__ import annotations

import json
import os
import re
from typing import Callable

from . import fourlw
from .javahash import JavaHashSet
from .stats import java_double

_LONG = re.compile(r"[+-]?[0-9]+")
_NOT_SERVING = "This ZooKeeper instance is not currently serving requests"


def _signed64(v: int) -> int:
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= 1 << 63 else v


# --- the data of each command ---------------------------------------------------------------


def _dir_sizes(server) -> tuple[int, int]:
    return fourlw.dir_sizes(server)


def _buffer_stats() -> dict:
    # BufferStats nobody updates (proposal sizes are not tracked): ZooKeeper's -1s
    return {"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1}


def _client_response_stats(st) -> dict:
    return {"last_buffer_size": st.last_response_size, "min_buffer_size": st.min_response_size,
            "max_buffer_size": st.max_response_size}


def connection_info(c, brief: bool) -> dict:
    """ServerCnxn.getConnectionInfo: the brief form for stats, the full one for connections."""
    info = {
        "remote_socket_address": "%s:%d" % (c.remote_ip, c.remote_port),
        "interest_ops": 1,  # OP_READ: output is flushed every reactor turn, nothing waits for OP_WRITE
        "outstanding_requests": len(c.pending),
        "packets_received": c.packets_received,
        "packets_sent": c.packets_sent,
    }
    if not brief:
        info.update({
            "session_id": _signed64(c.session_id),
            "last_operation": c.last_op,
            "established": c.established_ms,
            "session_timeout": c.session_timeout,
            "last_cxid": c.last_cxid,
            "last_zxid": c.last_zxid,
            "last_response_time": c.last_response_ms,
            "last_latency": c.last_latency,
            "min_latency": c.min_latency or 0,
            "avg_latency": c.total_latency // c.latency_count if c.latency_count else 0,
            "max_latency": c.max_latency,
        })
    return info


def server_stats(server, peer=None) -> dict:
    """server_stats (srvr): version, read_only, the ServerStats object, node_count."""
    st = server.stats
    data_size, log_size = _dir_sizes(server)
    stats = {
        "packets_sent": st.packets_sent,
        "packets_received": st.packets_received,
        "fsync_threshold_exceed_count": 0,
        "client_response_stats": _client_response_stats(st),
        "data_dir_size": data_size,
        "log_dir_size": log_size,
        "provider_null": False,
        "server_state": server.mode,
        "last_processed_zxid": server.tree.last_processed_zxid,
        "outstanding_requests": st.outstanding,
        "avg_latency": float(st.avg_latency),
        "max_latency": st.max_latency,
        "min_latency": st.min_latency or 0,
        "num_alive_client_connections": len(server.connections),
        "auth_failed_count": st.auth_failed,
        "non_mtlsremote_conn_count": 0,
        "non_mtlslocal_conn_count": 0,
        "uptime": server.clock.wall_ms() - server.started_wall_ms,
    }
    out = {
        "version": fourlw.ZK_VERSION,
        "read_only": False,
        "server_stats": stats,
        "client_response": _client_response_stats(st),
    }
    if server.mode == "leader":
        out["proposal_stats"] = _buffer_stats()
    out["node_count"] = server.tree.node_count
    return out


def stats(server, peer=None) -> dict:
    """stats (stat): server_stats plus the brief connection list."""
    out = server_stats(server, peer)
    out["connections"] = [connection_info(c, brief=True) for c in server.connections if not c.secure]
    out["secure_connections"] = [connection_info(c, brief=True) for c in server.connections if c.secure]
    return out


def monitor(server, peer=None) -> dict:
    return dict(fourlw.monitor_values(server))


def configuration(server, peer=None) -> dict:
    cfg = server.config
    data_dir = os.path.join(cfg.data_dir, "version-2") if cfg.data_dir else "(in memory)"
    log_dir = cfg.data_log_dir or cfg.data_dir
    return {
        "client_port": cfg.client_port,
        "data_dir": data_dir,
        "data_log_dir": os.path.join(log_dir, "version-2") if log_dir else "(in memory)",
        "tick_time": cfg.tick_time_ms,
        "max_client_cnxns": cfg.max_client_cnxns,
        "min_session_timeout": cfg.min_session_timeout,
        "max_session_timeout": cfg.max_session_timeout,
        "server_id": cfg.server_id,
        "client_port_listen_backlog": cfg.client_port_listen_backlog,
    }


def connections(server, peer=None) -> dict:
    return {
        "connections": [connection_info(c, brief=False) for c in server.connections if not c.secure],
        "secure_connections": [connection_info(c, brief=False) for c in server.connections if c.secure],
    }


def connection_stat_reset(server, peer=None) -> dict:
    fourlw.reset_connection_stats(server)
    return {}


def stat_reset(server, peer=None) -> dict:
    server.stats.reset()
    return {}


def dirs(server, peer=None) -> dict:
    data_size, log_size = _dir_sizes(server)
    return {"datadir_size": data_size, "logdir_size": log_size}


def dump(server, peer=None) -> dict:
    """Session expiry buckets (monotonic ms, like ZooKeeper's elapsed time) and ephemerals per session."""
    buckets = server.sessions.buckets
    expiry = {str(due): [_signed64(sid) for sid in buckets[due]] for due in sorted(buckets)}
    # DataTree.getEphemerals: a new HashMap of session id -> a new HashSet copy of its paths.  A
    # session whose ephemerals were all deleted keeps its (empty) set until it ends, so it is listed.
    ephemerals = _session_keyed({sid: _java_copy(paths.ordered()) for sid, paths in server.tree.ephemerals.items()})
    return {"expiry_time_to_session_ids": expiry, "session_id_to_ephemeral_paths": ephemerals}


def environment(server, peer=None) -> dict:
    return dict(fourlw.environment())


def get_trace_mask(server, peer=None) -> dict:
    return {"tracemask": fourlw.get_trace_mask()}


def set_trace_mask(server, peer=None, kwargs=None) -> dict:
    kwargs = kwargs or {}
    if "traceMask" not in kwargs:
        return {"error": "setTraceMask requires long traceMask argument"}
    raw = kwargs["traceMask"]
    # Long.parseLong: an optional sign and decimal digits, within a signed 64-bit range
    mask = int(raw) if _LONG.fullmatch(raw) else None
    if mask is None or not -(1 << 63) <= mask < 1 << 63:
        return {"error": "setTraceMask requires long traceMask argument, got " + raw}
    fourlw.set_trace_mask(mask)
    return {"tracemask": mask}


def is_read_only(server, peer=None) -> dict:
    return {"read_only": False}


def ruok(server, peer=None) -> dict:
    return {}


# DigestCalculator.DIGEST_VERSION: the version of the tree digest algorithm (ZxidDigest.digestVersion)
DIGEST_VERSION = 2


def hash_(server, peer=None) -> dict:
    return {"digests": [{"zxid": zxid, "digest": digest, "digest_version": DIGEST_VERSION}
                        for zxid, digest in server.tree.digest_log]}


def initial_configuration(server, peer=None) -> dict:
    # the text of the zoo.cfg the server started from (null when it was built in code)
    return {"initial_configuration": server.config.initial_config}


def last_snapshot(server, peer=None) -> dict:
    """The newest snapshot file: its zxid in hex and its mtime in seconds; -1 for none (in memory)."""
    best = None
    snap_dir = server.config.data_dir
    if snap_dir:
        try:
            names = os.listdir(os.path.join(snap_dir, "version-2"))
        except OSError:
            names = []
        for name in names:
            if not name.startswith("snapshot."):
                continue
            try:
                zxid = int(name[len("snapshot."):], 16)
            except ValueError:
                continue
            if best is None or zxid > best[0]:
                best = (zxid, name)
    if best is None:
        return {"zxid": "%x" % (-1 & 0xFFFFFFFFFFFFFFFF), "timestamp": -1}
    try:
        mtime = int(os.stat(os.path.join(snap_dir, "version-2", best[1])).st_mtime)
    except OSError:
        mtime = -1
    return {"zxid": "%x" % best[0], "timestamp": mtime}


def leader(server, peer=None) -> dict:
    if peer is None:
        return {"error": "server is not initialized"}
    leader_sid = peer.leader_sid
    leader_ip = ""
    if leader_sid is not None and leader_sid in server.config.servers:
        leader_ip = server.config.servers[leader_sid].host
    return {"is_leader": server.mode == "leader", "leader_id": leader_sid if leader_sid is not None else -1,
            "leader_ip": leader_ip}


def observer_connection_stat_reset(server, peer=None) -> dict:
    # zkcompat keeps no per-observer packet counters, so there is nothing to reset
    return {}


def observers(server, peer=None) -> dict:
    if peer is not None and server.mode == "leader":
        live = [st for sid, st in sorted(peer._learners.items()) if st.observer and st.phase == "live"]
        return {"synced_observers": len(live),
                "observers": [{"sid": st.sid, "last_zxid": st.last_zxid} for st in live]}
    return {"synced_observers": 0, "observers": []}


def _client_address(server, q) -> str | None:
    if q is None or q.client_port is None:
        return None
    return "%s:%d" % (q.client_host or "0.0.0.0", q.client_port)


def voting_view(server, peer=None) -> dict:
    """The voting members (observers are not in the voting view) as ZooKeeper 3.8 serialises QuorumServer."""
    if peer is None:
        return {"current_config": {}}
    view = {}
    for sid in sorted(peer.verifier.voters):
        q = server.config.servers.get(sid)
        if q is None:
            continue
        entry = {
            "server_addresses": ["%s:%d" % (q.host, q.quorum_port)],
            "election_addresses": ["%s:%d" % (q.host, q.election_port)],
        }
        client = _client_address(server, q)
        if client is not None:
            entry["client_address"] = client
        entry["learner_type"] = q.role
        view[str(sid)] = entry
    return {"current_config": view}


def _multiple_addresses(host: str, port: int) -> dict:
    """Jackson's view of ZooKeeper's MultipleAddresses for one address (zabstate's quorum/election address).

    zkcompat does not probe reachability: the one configured address counts as reachable.
    """
    addr = "%s:%d" % (host, port)
    return {
        "empty": False,
        "all_addresses": [addr],
        "all_reachable_addresses": [addr],
        "one": addr,
        "reachable_address": addr,
        "wildcard_addresses": ["0.0.0.0:%d" % port],
        "all_ports": [port],
        "all_host_strings": [host],
        "all_reachable_addresses_or_all": [addr],
        "reachable_or_one": addr,
    }


_ZAB_PHASES = {"connecting": "discovery", "sync": "synchronization", "acked": "synchronization",
               "serving": "broadcast"}


def zabstate(server, peer=None) -> dict:
    """QuorumPeer.ZabState (election, discovery, synchronization, broadcast) and this peer's addresses."""
    if peer is None:
        return {"voting": False, "zabstate": ""}
    mode = peer.mode
    if mode == "looking":
        state = "election"
    elif mode == "leader":
        state = "broadcast" if peer._established else "discovery"
    else:
        state = _ZAB_PHASES.get(peer._learner_phase, "discovery")
    q = server.config.servers.get(peer.sid)
    zxid = peer.last_logged_zxid
    out = {"myid": peer.sid, "is_leader": mode == "leader"}
    if q is not None:
        out["quorum_address"] = _multiple_addresses(q.host, q.quorum_port)
        out["election_address"] = _multiple_addresses(q.host, q.election_port)
    client = _client_address(server, q)
    if client is None:
        client = "%s:%d" % (server.config.client_port_address or "0.0.0.0", server.config.client_port)
    out["client_address"] = client
    out["voting"] = peer.participant and peer.sid in peer.verifier.voters
    out["last_zxid"] = "0x%x" % zxid
    out["zab_epoch"] = zxid >> 32
    out["zab_counter"] = zxid & 0xFFFFFFFF
    out["zabstate"] = state
    return out


# --- the command table ------------------------------------------------------------------------


class Command:
    __slots__ = ("names", "fn", "server_required", "takes_kwargs")

    def __init__(self, names, fn: Callable, server_required: bool = True, takes_kwargs: bool = False):
        self.names = tuple(names)
        self.fn = fn
        self.server_required = server_required
        self.takes_kwargs = takes_kwargs

    @property
    def primary_name(self) -> str:
        return self.names[0]


# ZooKeeper 3.8's commands (snapshot/restore are 3.9's; system_properties is Java's own)
COMMANDS = [
    Command(("connection_stat_reset", "crst"), connection_stat_reset),
    Command(("configuration", "conf", "config"), configuration),
    Command(("connections", "cons"), connections),
    Command(("hash",), hash_),
    Command(("dirs",), dirs),
    Command(("dump",), dump),
    Command(("environment", "env", "envi"), environment, server_required=False),
    Command(("get_trace_mask", "gtmk"), get_trace_mask, server_required=False),
    Command(("initial_configuration", "icfg"), initial_configuration),
    Command(("is_read_only", "isro"), is_read_only),
    Command(("last_snapshot", "lsnp"), last_snapshot),
    Command(("leader", "lead"), leader),
    Command(("monitor", "mntr"), monitor, server_required=False),
    Command(("observer_connection_stat_reset", "orst"), observer_connection_stat_reset),
    Command(("ruok",), ruok),
    Command(("set_trace_mask", "stmk"), set_trace_mask, server_required=False, takes_kwargs=True),
    Command(("server_stats", "srvr"), server_stats),
    Command(("stats", "stat"), stats),
    Command(("stat_reset", "srst"), stat_reset),
    Command(("observers", "obsr"), observers),
    Command(("voting_view",), voting_view),
    Command(("watches", "wchc"), lambda server, peer=None: _watches(server)),
    Command(("watches_by_path", "wchp"), lambda server, peer=None: _watches_by_path(server)),
    Command(("watch_summary", "wchs"), lambda server, peer=None: _watch_summary(server)),
    Command(("zabstate",), zabstate, server_required=False),
]

BY_NAME = {name: cmd for cmd in COMMANDS for name in cmd.names}


def _long_hash(v: int) -> int:
    """Long.hashCode: the two halves of the 64-bit value xor-ed (unsigned 32-bit here)."""
    v &= 0xFFFFFFFFFFFFFFFF
    return (v ^ (v >> 32)) & 0xFFFFFFFF


def _java_copy(items, hash_fn=None) -> list:
    """``new HashSet<>(collection)`` (or a HashMap filled from one): the order Java iterates the copy in.

    The copy is sized for the collection (at least 16 buckets) and filled in the
    collection's own order; its iteration order is that of the fresh table.
    """
    items = list(items)
    return JavaHashSet(max(int(len(items) / 0.75) + 1, 16), items, hash_fn).ordered()


def _session_keyed(pairs: dict) -> dict:
    """A HashMap<Long, ...> built in ``pairs``' order, keyed by signed session ids as JSON strings."""
    by_id = {_signed64(sid): value for sid, value in pairs.items()}
    return {str(sid): by_id[sid] for sid in JavaHashSet(16, by_id, _long_hash).ordered()}


def _watches(server) -> dict:
    # DataTree.getWatches (WatchManager.getWatches): the data watches only, a new HashMap of
    # session id -> a new HashSet copy of that watcher's paths
    ids = {w.session_id: _java_copy(paths) for w, paths in server.tree.data_watches.by_watcher.items()}
    return {"session_id_to_watched_paths": _session_keyed(ids)}


def _watches_by_path(server) -> dict:
    # WatchManager.getWatchesByPath: a new HashMap of path -> a new HashSet of session ids,
    # filled while iterating the watch table
    table = server.tree.data_watches.table
    return {"path_to_session_ids": {
        path: _java_copy([_signed64(w.session_id) for w in table[path]], _long_hash) for path in _java_copy(table)}}


def _watch_summary(server) -> dict:
    w = server.tree.data_watches
    return {"num_connections": len(w.by_watcher), "num_paths": w.path_count(), "num_total_watches": w.watch_count()}


def primary_names() -> list[str]:
    return sorted(cmd.primary_name for cmd in COMMANDS)


def run_command(server, name: str, kwargs: dict[str, str] | None = None, peer=None) -> dict:
    """Commands.runCommand: the answer as an ordered dict, always with "command" and "error"."""
    cmd = BY_NAME.get(name)
    if cmd is None:
        return {"command": name, "error": "Unknown command: " + name}
    if cmd.server_required and (server is None or not server.running or not server.serving):
        return {"command": name, "error": _NOT_SERVING}
    if cmd.takes_kwargs:
        data = cmd.fn(server, peer, kwargs or {})
    else:
        data = cmd.fn(server, peer)
    # CommandResponse.toMap: the command's entries, then command and error; an error the
    # command itself set keeps its place (ZooKeeper's answer for leader on a standalone server)
    out = dict(data)
    out["command"] = cmd.primary_name
    out.setdefault("error", None)
    return out


# --- Jackson's pretty printer -------------------------------------------------------------------


def render_json(value) -> str:
    """JSON as ZooKeeper's Jackson ObjectMapper (DefaultPrettyPrinter) writes it."""
    out: list[str] = []
    _render(value, 0, out)
    return "".join(out)


_HEX_ESCAPE = re.compile(r"(\\*)u00([0-9a-f]{2})")


def _upper_escape(m) -> str:
    slashes = m.group(1)
    if len(slashes) % 2 == 0:  # "\\u00.." is an escaped backslash and text, not an escape
        return m.group(0)
    return slashes + "u00" + m.group(2).upper()


def _string(v: str) -> str:
    # json.dumps escapes control characters as \u001f, Jackson as \u001F
    text = json.dumps(v, ensure_ascii=False)
    return _HEX_ESCAPE.sub(_upper_escape, text) if "u00" in text else text


def _render(v, level: int, out: list[str]) -> None:
    if isinstance(v, dict):
        if not v:
            out.append("{ }")
            return
        out.append("{")
        pad = "\n" + "  " * (level + 1)
        first = True
        for k, item in v.items():
            out.append(pad if first else "," + pad)
            first = False
            out.append(_string(str(k)))
            out.append(" : ")
            _render(item, level + 1, out)
        out.append("\n" + "  " * level + "}")
    elif isinstance(v, (list, tuple)):
        if not v:
            out.append("[ ]")
            return
        out.append("[ ")
        for i, item in enumerate(v):
            if i:
                out.append(", ")
            _render(item, level, out)
        out.append(" ]")
    elif v is None:
        out.append("null")
    elif isinstance(v, bool):
        out.append("true" if v else "false")
    elif isinstance(v, int):
        out.append(str(v))
    elif isinstance(v, float):
        out.append(java_double(v))
    else:
        out.append(_string(str(v)))


def command_index(command_url: str) -> str:
    """The page at the command URL: a link per primary name, as JettyAdminServer lists them."""
    base = command_url.rstrip("/")
    return "".join('<a href="%s/%s">%s</a>\n<br/>\n' % (base, n, n) for n in primary_names())
