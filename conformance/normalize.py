"""Normalisation: the only place where two transcripts are allowed to differ.

Theory of operation
-------------------
A transcript (conformance.client) is turned into a list of normalised events, each
a flat list of ``(field path, value)`` pairs.  Everything is copied literally
except the values below, which legitimately differ between two correct servers
(two real ZooKeepers differ in all of them).  Each rule is explicit and minimal:

zxids (``zxid``, ``czxid``, ``mzxid``, ``pzxid``, the ``Zxid:`` line of srvr/stat)
    By their distance within the scenario: every positive zxid becomes
    ``Z+n`` (or ``Z-n``), its offset from the first positive zxid the scenario saw
    on that server.  Zero and negative zxids (-1 in notifications and in errors
    that consumed no txn, 0 for system nodes) stay literal.  So a zxid one txn
    later than expected (``Z+2`` instead of ``Z+1``) is a difference.

times (``ctime``, ``mtime``)
    By their order: a time is rendered as ``T(<its zxid>)``, i.e. the time of the
    txn that set it (ctime pairs with czxid, mtime with mzxid), after checking,
    over the whole scenario, that one zxid always has one time, that times never
    decrease as zxids grow, and that every time lies within the scenario's wall
    clock window (plus a minute of slack).  A time that breaks any of these is
    rendered ``T!<raw value>`` and differs.  A time whose zxid is 0 stays literal.
    Equality of the times of two different txns is not compared: it depends on
    whether both fell in the same millisecond.

session ids (``session_id``, ``ephemeral_owner``) and passwords (``passwd``)
    By identity: each distinct value becomes ``session#1``, ``session#2``... in
    order of first appearance within the scenario (one shared map for both
    fields, so an ephemeralOwner is recognisably "the session of c2").  Zero, the
    container marker (Long.MIN_VALUE) and TTL owners (top byte 0xff) stay
    literal, as do all-zero passwords (the answer to a refused reconnect).

children lists (``children``, ``ephemerals``)
    Compared exactly, in order (zkcompat reproduces Java's HashSet iteration
    order).  ``children_order="sorted"`` relaxes this; it is one switch, off by
    default.

four-letter-word output
    Per command, see ``normalize_4lw``: digits that vary run to run are masked,
    the ``Zxid`` of srvr/stat goes through the zxid map, and for ``envi``/``conf``
    only the keys are kept.

AdminServer answers (``admin`` events)
    Their shape, see ``normalize_admin``: every JSON object's keys in order, each
    value's type, and every value not named in ``ADMIN_MASKS`` literally.

Every other field, including reply xids, error codes, data bytes, ACLs, stat
versions and counts, the presence of the readOnly byte, raw hex of undecodable
bodies, and the kind/connection/order of events, is compared literally.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from .client import Event, Transcript

ZXID_FIELDS = frozenset({"zxid", "czxid", "mzxid", "pzxid"})
TIME_FIELDS = {"ctime": "czxid", "mtime": "mzxid"}
SESSION_FIELDS = frozenset({"session_id", "ephemeral_owner"})
PASSWORD_FIELDS = frozenset({"passwd"})
UNORDERED_LIST_FIELDS = frozenset({"children", "ephemerals"})

LONG_MIN = -(1 << 63)
TIME_SLACK_MS = 60_000


def _is_sentinel_owner(v: int) -> bool:
    # 0 = not ephemeral; Long.MIN_VALUE = container; top byte 0xff = TTL (EphemeralType)
    return v == 0 or v == LONG_MIN or (v < 0 and ((v >> 56) & 0xFF) == 0xFF)


class Normalizer:
    def __init__(self, transcript: Transcript, *, children_order: str = "strict"):
        if children_order not in ("strict", "sorted"):
            raise ValueError("children_order must be strict or sorted")
        self.transcript = transcript
        self.children_order = children_order
        self.zxid_base: int | None = None
        self.identities: dict[int, str] = {}
        self.passwords: dict[bytes, str] = {}
        self.time_ok: dict[tuple[int, int], bool] = {}
        self._collect()

    # --- pass 1: what the whole scenario saw ----------------------------------------------

    def _collect(self) -> None:
        pairs: list[tuple[int, int]] = []
        for ev in self.transcript.events:
            for key, value, parent in _walk(ev.fields):
                if key in ZXID_FIELDS and isinstance(value, int):
                    self._see_zxid(value)
                elif key in TIME_FIELDS and isinstance(parent, dict) and isinstance(value, int):
                    z = parent.get(TIME_FIELDS[key])
                    if isinstance(z, int) and z > 0:
                        pairs.append((z, value))
            if ev.kind == "4lw":
                z = _flw_zxid(ev.fields.get("output", ""))
                if z is not None:
                    self._see_zxid(z)
            if ev.kind == "admin":
                for key, value, _parent in _walk(ev.fields.get("json")):
                    if key in ADMIN_ZXID_KEYS and isinstance(value, int):
                        self._see_zxid(value)
        self._check_times(pairs)

    def _see_zxid(self, z: int) -> None:
        if z > 0 and self.zxid_base is None:
            self.zxid_base = z

    def _check_times(self, pairs: list[tuple[int, int]]) -> None:
        lo = self.transcript.started_ms - TIME_SLACK_MS
        hi = (self.transcript.ended_ms or self.transcript.started_ms) + TIME_SLACK_MS
        by_zxid: dict[int, set[int]] = {}
        for z, t in pairs:
            by_zxid.setdefault(z, set()).add(t)
        ok = {p: lo <= p[1] <= hi and len(by_zxid[p[0]]) == 1 for p in pairs}
        ordered = sorted(set(pairs))
        for (z1, t1), (z2, t2) in zip(ordered, ordered[1:], strict=False):
            if z1 < z2 and t1 > t2:
                ok[(z1, t1)] = ok[(z2, t2)] = False
        self.time_ok = ok

    # --- value renderers ----------------------------------------------------------------

    def zxid(self, z: int) -> Any:
        if z <= 0 or self.zxid_base is None:
            return z
        d = z - self.zxid_base
        return "Z%+d" % d

    def time(self, t: int, z: Any) -> Any:
        if not isinstance(z, int) or z <= 0:
            return t
        if self.time_ok.get((z, t)):
            return "T(%s)" % self.zxid(z)
        return "T!%d" % t

    def session(self, v: int) -> Any:
        if _is_sentinel_owner(v):
            return v if v >= 0 else "0x%016x" % (v & 0xFFFFFFFFFFFFFFFF)
        if v not in self.identities:
            self.identities[v] = "session#%d" % (len(self.identities) + 1)
        return self.identities[v]

    def password(self, p: bytes | None) -> Any:
        if p is None or not any(p):
            return p
        if p not in self.passwords:
            self.passwords[p] = "passwd#%d" % (len(self.passwords) + 1)
        return self.passwords[p]

    # --- pass 2: the normalised events ---------------------------------------------------

    def value(self, key: str, v: Any, parent: Any) -> Any:
        if isinstance(v, dict):
            return {k: self.value(k, x, v) for k, x in v.items()}
        if isinstance(v, list):
            items = [self.value(key, x, v) for x in v]
            if key in UNORDERED_LIST_FIELDS and self.children_order == "sorted":
                items = sorted(items, key=repr)
            return items
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, int):
            if key in ZXID_FIELDS:
                return self.zxid(v)
            if key in TIME_FIELDS:
                return self.time(v, parent.get(TIME_FIELDS[key]) if isinstance(parent, dict) else None)
            if key in SESSION_FIELDS:
                return self.session(v)
            return v
        if isinstance(v, bytes) and key in PASSWORD_FIELDS:
            return self.password(v)
        return v

    def event(self, ev: Event) -> "NormEvent":
        if ev.kind == "4lw":
            lines = normalize_4lw(ev.fields["cmd"], ev.fields["output"], self, ev.fields.get("namespace"))
            fields = {
                "cmd": ev.fields["cmd"],
                "lines": len(lines),
                "output": {"%03d" % i: x for i, x in enumerate(lines)},
            }
        elif ev.kind == "admin":
            fields = normalize_admin(ev.fields, self)
        else:
            fields = {k: self.value(k, v, ev.fields) for k, v in ev.fields.items()}
        return NormEvent(ev.kind, ev.conn, flatten(fields))

    def events(self) -> list["NormEvent"]:
        return [self.event(ev) for ev in self.transcript.events]


class NormEvent:
    __slots__ = ("kind", "conn", "fields")

    def __init__(self, kind: str, conn: str, fields: list[tuple[str, Any]]):
        self.kind = kind
        self.conn = conn
        self.fields = fields

    def signature(self) -> tuple:
        """What identifies an event for alignment: its kind, connection, op and xid."""
        d = dict(self.fields)
        return (self.kind, self.conn, d.get("op"), d.get("xid"), d.get("cmd"))

    def render(self) -> str:
        return "%s %s: %s" % (self.conn, self.kind, ", ".join("%s=%s" % (k, render_value(v)) for k, v in self.fields))

    def __eq__(self, other):
        return isinstance(other, NormEvent) and (self.kind, self.conn, self.fields) == (
            other.kind,
            other.conn,
            other.fields,
        )

    def __repr__(self):
        return "NormEvent(%s)" % self.render()


def render_value(v: Any, limit: int | None = None) -> str:
    if isinstance(v, bytes):
        s = "hex:" + v.hex() if any(b < 32 or b > 126 for b in v) else repr(v)
        if len(v) > 48:
            s = "%d bytes %s..." % (len(v), s[:60])
    elif isinstance(v, str):
        s = v if v.isprintable() else repr(v)
    else:
        s = repr(v)
    if limit and len(s) > limit:
        s = s[: limit - 3] + "..."
    return s


def flatten(fields: dict) -> list[tuple[str, Any]]:
    """Nested dicts become dotted paths; lists of records become path[i] plus a path.len entry."""
    out: list[tuple[str, Any]] = []

    def rec(prefix: str, v: Any):
        if isinstance(v, dict):
            if not v:
                out.append((prefix, {}))
            for k, x in v.items():
                rec("%s.%s" % (prefix, k) if prefix else k, x)
        elif isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v):
            out.append((prefix + ".len", len(v)))
            for i, x in enumerate(v):
                rec("%s[%d]" % (prefix, i), x)
        else:
            out.append((prefix, v))

    if fields:
        rec("", fields)
    return out


def _walk(v: Any, key: str = "", parent: Any = None):
    """Yield (key, value, parent dict) for every scalar under v."""
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)):
                yield from _walk(x, k, v)
            else:
                yield k, x, v
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, (dict, list)):
                yield from _walk(x, key, v)
            else:
                yield key, x, parent


# --- four-letter words ---------------------------------------------------------------------

_ZXID_LINE = re.compile(r"^(Zxid: )0x([0-9a-fA-F]+)$", re.M)
_NUM = re.compile(r"\d+(?:\.\d+)?")


def _flw_zxid(text: str) -> int | None:
    m = _ZXID_LINE.search(text)
    return int(m.group(2), 16) if m else None


def _mask_numbers(s: str) -> str:
    return _NUM.sub("N", s)


_HEX = re.compile(r"0x[0-9a-fA-F]+")
_EXPIRE_AT = re.compile(r"^\d+ expire at .*:$")


def _mask_hex_sessions(line: str, norm: "Normalizer | None") -> str:
    """Session ids printed in hex become their session#k label when the scenario knows them, else 0xH."""

    def sub(m):
        v = int(m.group(0), 16)
        if v >= 1 << 63:
            v -= 1 << 64
        if norm is not None and v in norm.identities:
            return norm.identities[v]
        return "0x0" if v == 0 else "0xH"

    return _HEX.sub(sub, line)


_PER_NAMESPACE = re.compile(r"^zk_(avg|min|max|cnt|sum)_(.*)_(read|write)_per_namespace\t")


def normalize_4lw(cmd: str, text: str, norm: Normalizer | None = None, namespace: str | None = None) -> list[str]:
    """The shape of a four-letter word's answer, one entry per line.

    - ruok, isro, gtmk, hash, crst, srst, wchs and unknown words: literal.
    - srvr/stat: the version line keeps only its prefix; numbers are masked
      except the Zxid, which goes through the scenario's zxid map; the client
      lines of ``stat`` are masked and sorted (ZooKeeper prints a set).
    - cons: lines masked (numbers, hex, ``lop``/``est`` values kept by name) and sorted.
    - wchc, wchp: session ids mapped to the scenario's session#k.
    - dump: the expiry-bucket headers (timing) are dropped, session ids mapped,
      the entries of each section sorted.
    - envi, conf: ``key=value`` lines keep only their key (values are host
      paths, ports, JVM and OS facts).
    - mntr: ``key<TAB>value`` keeps the key and the value when it is not a
      number (zk_server_state...); zk_version keeps no value; per-namespace
      metrics are reduced to the set of those of the scenario's own root.
    - dirs: numbers masked.
    """
    lines = text.split("\n")
    out: list[str] = []
    if cmd in ("envi", "conf"):
        for line in lines:
            out.append(line.split("=", 1)[0] + "=*" if "=" in line else line)
    elif cmd == "mntr":
        # zk_{avg,min,max,cnt,sum}_<namespace>_{read,write}_per_namespace exist for every top-level
        # znode ever used (every earlier scenario's root), in hash order: history, not shape.  Only
        # which ones exist for this scenario's own root is kept, as one sorted entry at the end.
        own: list[str] = []
        for line in lines:
            m = _PER_NAMESPACE.match(line)
            if m:
                if namespace is not None and m.group(2) == namespace:
                    own.append("zk_%s_<root>_%s_per_namespace" % (m.group(1), m.group(3)))
                continue
            if "\t" in line:
                k, v = line.split("\t", 1)
                numeric = bool(re.fullmatch(r"-?\d+(\.\d+)?(E-?\d+)?", v.strip()))
                out.append(k + ("\t*" if k == "zk_version" or numeric else "\t" + v))
            else:
                out.append(line)
        out.append("per-namespace metrics of this scenario's root: %s" % ", ".join(sorted(own)))
    elif cmd in ("srvr", "stat"):
        clients: list[str] = []
        in_clients = False
        for line in lines:
            if line.startswith("Zookeeper version:"):
                out.append("Zookeeper version: *")
            elif line == "Clients:":
                in_clients = True
                out.append(line)
            elif in_clients and line.startswith(" /"):
                clients.append(_mask_numbers(line))
            else:
                if in_clients:
                    out.extend(sorted(clients))
                    in_clients = False
                m = _ZXID_LINE.match(line)
                if m and norm is not None:
                    out.append("Zxid: %s" % norm.zxid(int(m.group(2), 16)))
                else:
                    # "Outstanding" can go negative in ZooKeeper 3.8 after some requests (its counter is
                    # decremented twice for them): the sign depends on history, so it is masked too
                    out.append(_mask_numbers(line.replace(": -", ": ")))
    elif cmd == "cons":
        body = [_mask_numbers(_mask_hex_sessions(x, norm)) for x in lines if x.strip()]
        body = [re.sub(r"(lop|est|lresp)=[^,)]*", r"\1=*", x) for x in body]
        out = sorted(body) + [x for x in lines if not x.strip()]
    elif cmd in ("wchc", "wchp"):
        out = [_mask_hex_sessions(x, norm) for x in lines]
    elif cmd == "dump":
        section: list[str] = []
        for line in lines:
            if _EXPIRE_AT.match(line):
                continue
            if line.startswith("\t"):
                if not line.startswith("\t/"):  # paths stay literal; session ids and addresses are masked
                    line = re.sub(r"ip: /[0-9.:]+", "ip: /ADDR", _mask_hex_sessions(line, norm))
                section.append(line)
                continue
            out.extend(sorted(section))
            section = []
            out.append(re.sub(r"\(\d+\)", "(N)", _mask_hex_sessions(line, norm)))
        out.extend(sorted(section))
    elif cmd == "hash":
        # "<zxid hex>: <tree digest>" per digest-log entry: the digests cover node times and the
        # number of entries depends on the whole server history, so only the line shape is kept.
        shapes = {"<zxid>: <digest>" if re.fullmatch(r"[0-9a-f]+: \d+", x) else x for x in lines}
        out = sorted(shapes)
    elif cmd == "dirs":
        out = [_mask_numbers(x) for x in lines]
    else:
        out = lines
    return out


# --- AdminServer answers -------------------------------------------------------------------

# what a value of ADMIN_MASKS does to the value at its path
MASK = "mask"  # the value becomes "<its JSON type>": only the type is compared
KEEP = "keep"  # compared literally (an exception to a glob that masks its neighbours)
SESSION = "session"  # a session id: the scenario's session#k (ids the scenario never saw: "<other session>")
ZXID = "zxid"  # a zxid: through the scenario's zxid map, like every zxid field
SESSION_KEYS = "session keys"  # an object keyed by session ids: keys mapped, then sorted (Java hashes the ids)
SESSIONS_BY_EXPIRY = "sessions by expiry"  # expiry bucket -> session ids: the buckets depend on timing

ADMIN_ZXID_KEYS = frozenset({"last_processed_zxid", "last_zxid"})

# Paths: keys joined by ".", "[]" for every element of a list, "{}" for every value of an
# object whose keys are data (paths, session ids).  A path may be a glob.  Why each is masked:
# versions and host facts differ between the two implementations; times, latencies and ports
# vary run to run; data dir paths and sizes depend on where each server keeps its files (zkcompat
# runs in memory here); packet counters include the reference's start-up srvr polls; the
# server-wide "outstanding requests" can go negative in ZooKeeper 3.8 (normalize_4lw says why).
# A connection's packets_sent, outstanding_requests and interest_ops are updated by ZooKeeper
# *after* its reply is on the wire (the selector thread counts a packet once written, the
# request thread decrements outstanding after queueing the reply, and reading is off while a
# request is processed): a client that has its reply can still see the old values.
_SERVER_STATS = {
    "version": MASK,
    "server_stats.packets_sent": MASK,
    "server_stats.packets_received": MASK,
    "server_stats.data_dir_size": MASK,
    "server_stats.log_dir_size": MASK,
    "server_stats.last_processed_zxid": ZXID,
    "server_stats.outstanding_requests": MASK,
    "server_stats.avg_latency": MASK,
    "server_stats.max_latency": MASK,
    "server_stats.min_latency": MASK,
    "server_stats.uptime": MASK,
}
_CONNECTION = {
    "remote_socket_address": MASK,
    "interest_ops": MASK,
    "outstanding_requests": MASK,
    "packets_sent": MASK,
    "session_id": SESSION,
    "established": MASK,
    "last_zxid": ZXID,
    "last_response_time": MASK,
    "last_latency": MASK,
    "min_latency": MASK,
    "avg_latency": MASK,
    "max_latency": MASK,
}
ADMIN_MASKS: dict[str, dict[str, str]] = {
    "server_stats": _SERVER_STATS,
    "stats": {
        **_SERVER_STATS,
        **{"%s[].%s" % (lst, k): v for lst in ("connections", "secure_connections") for k, v in _CONNECTION.items()},
    },
    "connections": {
        "%s[].%s" % (lst, k): v for lst in ("connections", "secure_connections") for k, v in _CONNECTION.items()
    },
    "monitor": {
        "version": MASK,
        "avg_latency": MASK,
        "min_latency": MASK,
        "max_latency": MASK,
        "packets_sent": MASK,
        "packets_received": MASK,
        "outstanding_requests": MASK,
        "uptime": MASK,
        "open_file_descriptor_count": MASK,
        "min_client_response_size": KEEP,
        "max_client_response_size": KEEP,
        "max_file_descriptor_count": KEEP,
        # ZooKeeper's summaries (timings and queue sizes of its internal processors) and JVM gauges
        "avg_*": MASK,
        "min_*": MASK,
        "max_*": MASK,
        "cnt_*": MASK,
        "sum_*": MASK,
        "p50_*": MASK,
        "p95_*": MASK,
        "p99_*": MASK,
        "p999_*": MASK,
        "jvm_*": MASK,
    },
    "configuration": {"client_port": MASK, "data_dir": MASK, "data_log_dir": MASK},
    "dirs": {"datadir_size": MASK, "logdir_size": MASK},
    "dump": {"expiry_time_to_session_ids": SESSIONS_BY_EXPIRY, "session_id_to_ephemeral_paths": SESSION_KEYS},
    # the versions, the runtime's own facts (JVM or Python), memory; the host name is the local
    # host's canonical name as each runtime's resolver finds it.  OS and user facts are compared.
    "environment": {
        "zookeeper.version": MASK,
        "host.name": MASK,
        "java.*": MASK,
        "python.*": MASK,
        "os.memory.*": MASK,
    },
    "initial_configuration": {"initial_configuration": MASK},  # each server's own zoo.cfg: paths, ports
    "last_snapshot": {"zxid": MASK, "timestamp": MASK},  # the data dir's newest snapshot file
    "watches": {"session_id_to_watched_paths": SESSION_KEYS},
    "watches_by_path": {"path_to_session_ids{}[]": SESSION},
    "hash": {"digests[].zxid": ZXID, "digests[].digest": MASK},
}
# objects whose keys are data, kept literally (and in order), their values under "<path>{}"
_ADMIN_DATA_KEYED = {("watches_by_path", "path_to_session_ids")}
# lists whose order is a Java set's of values that vary run to run: connections (identity
# hashes) and session ids
_ADMIN_UNORDERED = {("stats", "connections"), ("stats", "secure_connections"),
                    ("connections", "connections"), ("connections", "secure_connections"),
                    ("watches_by_path", "path_to_session_ids{}")}  # a HashSet<Long> of session ids

_COMMAND_LINK = re.compile(r'<a href="([^"]*)">([^<]*)</a>\n<br/>\n')


def _json_kind(v: Any) -> str:
    if v is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}.get(type(v), "?")


def _admin_rule(rules: dict[str, str], path: str) -> str | None:
    if not path:
        return None  # the answer itself is never masked
    if path in rules:
        return rules[path]
    return next((r for glob, r in rules.items() if "*" in glob and fnmatch.fnmatchcase(path, glob)), None)


_LONG = re.compile(r"-?\d+")


def _session_label(norm: Normalizer | None, v: Any) -> Any:
    if isinstance(v, str) and _LONG.fullmatch(v):
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool):
        return v
    if norm is not None and v in norm.identities:
        return norm.identities[v]
    return v if v == 0 else "<other session>"



def _admin_value(cmd: str, v: Any, path: str, rules: dict[str, str], norm: Normalizer | None) -> Any:
    rule = _admin_rule(rules, path)
    if rule == MASK:
        return "<%s>" % _json_kind(v)
    if rule == SESSION:
        return _session_label(norm, v)
    if rule == ZXID and isinstance(v, int) and not isinstance(v, bool) and norm is not None:
        return norm.zxid(v)
    if rule == SESSIONS_BY_EXPIRY and isinstance(v, dict):
        ids = sorted((_session_label(norm, x) for ids in v.values() if isinstance(ids, list) for x in ids), key=repr)
        return {"{}": ["<expiry times>"], "<expiry times>": ids}
    if isinstance(v, dict):
        if rule == SESSION_KEYS:
            items = sorted(((_session_label(norm, k), x) for k, x in v.items()), key=lambda kv: repr(kv[0]))
            sub = path + "{}"
        elif (cmd, path) in _ADMIN_DATA_KEYED:
            items = list(v.items())
            sub = path + "{}"
        else:
            items = list(v.items())
            sub = None
        out: dict[str, Any] = {"{}": [str(k) for k, _ in items]}
        for k, x in items:
            out[str(k)] = _admin_value(cmd, x, sub or ("%s.%s" % (path, k) if path else str(k)), rules, norm)
        return out
    if isinstance(v, list):
        items = [_admin_value(cmd, x, path + "[]", rules, norm) for x in v]
        if (cmd, path) in _ADMIN_UNORDERED:
            items = sorted(items, key=repr)
        return items
    return v


def normalize_admin(fields: dict, norm: Normalizer | None = None) -> dict:
    """The shape of one AdminServer answer (an ``admin`` event of ScenarioContext.admin).

    The HTTP status, content type, command and query are kept literally.  A JSON
    answer keeps every object's keys, in order, as a ``{}`` entry, and every value
    literally except those ``ADMIN_MASKS`` names for the answering command (the
    answer's own "command" value, so aliases share their primary name's rules):
    MASK keeps only the value's JSON type, SESSION and ZXID map ids as elsewhere,
    SESSION_KEYS maps and sorts an object's session-id keys, SESSIONS_BY_EXPIRY
    keeps only which sessions have an expiry bucket.  Connection lists are
    compared as sets.  A text answer (the command list page) is split into its
    command links, in order, and whatever else it holds.
    """
    out = {k: fields[k] for k in ("command", "query", "status", "content_type")}
    if "json" in fields:
        answer = fields["json"]
        cmd = answer.get("command") if isinstance(answer, dict) else None
        out["json"] = _admin_value(str(cmd), answer, "", ADMIN_MASKS.get(cmd, {}), norm)
    else:
        text = fields.get("text", "")
        links = _COMMAND_LINK.findall(text)
        out["links"] = {name: href for href, name in links}
        out["links_in_order"] = [name for _, name in links] == sorted(name for _, name in links)
        out["other_text"] = _COMMAND_LINK.sub("", text)
    return out
