"""``zkcompat data inspect`` and ``zkcompat data verify``: look into a ZooKeeper data dir.

``inspect(path, out)`` prints what is there.  A log file is listed the way
ZooKeeper's TxnLogToolkit (LogFormatter) does -- a header line, one line per
txn (``<time> session 0x.. cxid 0x.. zxid 0x.. <op> <txn>``), then
``EOF reached after N txns.`` -- plus a line for a torn tail or corruption.
A snapshot is dumped the way SnapshotFormatter does (every znode with its stat
depth first, the sessions, the digest, the last zxid).  A directory (a data
dir or its ``version-2``) lists its state files, then every snapshot and log.

``verify(path)`` returns a list of ``Problem``s (empty when all is well):
checksums and decoding of every record and snapshot, torn tails, file names
that do not match their first zxid, zxid continuity across log files,
whether the logs cover the newest snapshot, and -- for a data dir -- a full
``datadir.load`` with digest checks.
"""

from __future__ import annotations

import base64
import time as _time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from protocol.codes import OpCode
from protocol.jute import Bool, Buffer, Int, Long, Nested, UString, Vector
from protocol.records import CreateContainerTxn, CreateTTLTxn, CreateTxn, MultiTxn, SetDataTxn

from . import datadir as _dd
from .errors import CorruptLog, CorruptSnapshot, StorageError
from .snapshot import iter_tree, looks_complete, read_snapshot, snapshot_zxid
from .txnlog import LOG_PREFIX, TXNLOG_MAGIC, VERSION, LogFile, list_log_files, zxid_from_name

_U64 = (1 << 64) - 1

OP_NAMES = {
    OpCode.NOTIFICATION: "notification",
    OpCode.CREATE: "create",
    OpCode.DELETE: "delete",
    OpCode.EXISTS: "exists",
    OpCode.GET_DATA: "getData",
    OpCode.SET_DATA: "setData",
    OpCode.GET_ACL: "getACL",
    OpCode.SET_ACL: "setACL",
    OpCode.GET_CHILDREN: "getChildren",
    OpCode.SYNC: "sync",
    OpCode.PING: "ping",
    OpCode.GET_CHILDREN2: "getChildren2",
    OpCode.CHECK: "check",
    OpCode.MULTI: "multi",
    OpCode.CREATE2: "create2",
    OpCode.RECONFIG: "reconfig",
    OpCode.CHECK_WATCHES: "checkWatches",
    OpCode.REMOVE_WATCHES: "removeWatches",
    OpCode.CREATE_CONTAINER: "createContainer",
    OpCode.DELETE_CONTAINER: "deleteContainer",
    OpCode.CREATE_TTL: "createTtl",
    OpCode.MULTI_READ: "multiRead",
    OpCode.AUTH: "auth",
    OpCode.SET_WATCHES: "setWatches",
    OpCode.SET_WATCHES2: "setWatches2",
    OpCode.SASL: "sasl",
    OpCode.GET_EPHEMERALS: "getEphemerals",
    OpCode.GET_ALL_CHILDREN_NUMBER: "getAllChildrenNumber",
    OpCode.CREATE_SESSION: "createSession",
    OpCode.CLOSE_SESSION: "closeSession",
    OpCode.ERROR: "error",
    OpCode.WHO_AM_I: "whoAmI",
}


def op2string(op: int) -> str:
    """Request.op2String."""
    return OP_NAMES.get(op, "unknown %d" % op)


# --- jute's ToStringOutputArchive ---------------------------------------------------------------


def _escape_string(s: str | None) -> str:
    if s is None:
        return ""
    table = {"\0": "%00", "\n": "%0A", "\r": "%0D", ",": "%2C", "}": "%7D", "%": "%25"}
    return "'" + "".join(table.get(c, c) for c in s)


def _escape_buffer(b: bytes | None) -> str:
    if not b:
        return ""
    return "#" + "".join("%x" % (x if x < 0x80 else (x - 256) & 0xFFFFFFFF) for x in b)


def _value_str(v, t) -> str:
    if isinstance(t, Nested):
        return "s{%s}" % _fields_str(v) if v is not None else ""
    if isinstance(t, Vector):
        return "v{%s}" % ",".join(_value_str(x, t.elem) for x in (v or ()))
    if t is UString:
        return _escape_string(v)
    if t is Buffer:
        return _escape_buffer(v)
    if t is Bool:
        return "T" if v else "F"
    if t is Int or t is Long:
        return str(v)
    return str(v)


def _fields_str(rec) -> str:
    return ",".join(_value_str(getattr(rec, f), t) for f, t in zip(rec.fields, rec.types))


def jute_to_string(rec) -> str:
    """A jute record's toString(): ToStringOutputArchive's CSV-like form, newline-terminated."""
    return _fields_str(rec) + "\n"


def _java_list_str(items) -> str:
    return "[" + ", ".join(jute_to_string(a) for a in items) + "]"


def _data_str(b: bytes | None) -> str:
    if not b:
        return ""
    return b.decode("utf-8", "replace")


def txn_to_string(txn) -> str:
    """TxnLogToolkit.getFormattedTxnStr."""
    if txn is None:
        return ""
    if isinstance(txn, CreateTxn):
        return "%s,%s,%s,%s,%d" % (txn.path, _data_str(txn.data), _java_list_str(txn.acl or ()),
                                   "true" if txn.ephemeral else "false", txn.parent_c_version)
    if isinstance(txn, SetDataTxn):
        return "%s,%s,%d" % (txn.path, _data_str(txn.data), txn.version)
    if isinstance(txn, CreateContainerTxn):
        return "%s,%s,%s,%d" % (txn.path, _data_str(txn.data), _java_list_str(txn.acl or ()), txn.parent_c_version)
    if isinstance(txn, CreateTTLTxn):
        return "%s,%s,%s,%d,%d" % (txn.path, _data_str(txn.data), _java_list_str(txn.acl or ()),
                                   txn.parent_c_version, txn.ttl)
    if isinstance(txn, MultiTxn):
        return ";".join("%s:%s" % (op2string(t.type), _data_str(t.data)) for t in (txn.txns or ()))
    return jute_to_string(txn)


def _java_date(ms: int) -> str:
    """DateFormat.getDateTimeInstance(SHORT, LONG) in the en_US locale, local time."""
    t = _time.localtime(ms / 1000.0)
    return "%d/%d/%02d, %d:%02d:%02d %s %s" % (
        t.tm_mon, t.tm_mday, t.tm_year % 100, (t.tm_hour % 12) or 12, t.tm_min, t.tm_sec,
        "AM" if t.tm_hour < 12 else "PM", _time.strftime("%Z", t),
    )


def format_txn(hdr, txn) -> str:
    return "%s session 0x%x cxid 0x%x zxid 0x%x %s %s" % (
        _java_date(hdr.time), hdr.client_id & _U64, hdr.cxid & 0xFFFFFFFF, hdr.zxid & _U64,
        op2string(hdr.type), txn_to_string(txn),
    )


# --- inspect ------------------------------------------------------------------------------------


def _kind(path: Path) -> str:
    if path.is_dir():
        return "dir"
    if snapshot_zxid(path.name) >= 0:
        return "snapshot"
    if zxid_from_name(path.name, LOG_PREFIX) >= 0:
        return "log"
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return "unknown"
    return {b"ZKLG": "log", b"ZKSN": "snapshot"}.get(head, "unknown")


def inspect(path, out: TextIO, *, dump_data: bool = False) -> None:
    """Print a data dir, a log file or a snapshot file in ZooKeeper's formatters' style."""
    path = Path(path)
    kind = _kind(path)
    if kind == "log":
        inspect_log(path, out)
    elif kind == "snapshot":
        inspect_snapshot(path, out, dump_data=dump_data)
    elif kind == "dir":
        inspect_dir(path, out, dump_data=dump_data)
    else:
        out.write("%s: neither a ZooKeeper log, a snapshot nor a data dir\n" % path)


def inspect_log(path: Path, out: TextIO) -> None:
    lf = LogFile(path)
    count = 0
    header_done = False
    try:
        for entry in lf:
            if not header_done:
                out.write(_log_header_line(lf))
                header_done = True
            line = format_txn(entry.header, entry.txn)
            out.write(line if line.endswith("\n") else line + "\n")
            count += 1
    except CorruptLog as e:
        if not header_done and lf.header is not None:
            out.write(_log_header_line(lf))
        out.write("CORRUPT at offset %d: %s (after %d txns)\n" % (e.offset, e.reason, count))
        return
    if not header_done and lf.header is not None:
        out.write(_log_header_line(lf))
    if lf.torn is not None:
        out.write("TORN TAIL at offset %d: %s (after %d txns)\n" % (lf.torn.offset, lf.torn.reason, count))
    else:
        out.write("EOF reached after %d txns.\n" % count)


def _log_header_line(lf: LogFile) -> str:
    return "ZooKeeper Transactional Log File with dbid %d txnlog format version %d\n" % (
        lf.header.dbid, lf.header.version)


def inspect_snapshot(path: Path, out: TextIO, *, dump_data: bool = False) -> None:
    try:
        snap = read_snapshot(path)
    except CorruptSnapshot as e:
        out.write("CORRUPT snapshot %s: %s\n" % (path, e))
        return
    tree = snap.tree
    out.write("ZNode Details (count=%d):\n" % len(tree.nodes))
    last = 0
    for p, node in iter_tree(tree):
        out.write("----\n%s\n" % (p or "/"))
        out.write("  cZxid = %s\n" % _hex016(node.czxid))
        out.write("  ctime = %s\n" % _java_date_tostring(node.ctime))
        out.write("  mZxid = %s\n" % _hex016(node.mzxid))
        out.write("  mtime = %s\n" % _java_date_tostring(node.mtime))
        out.write("  pZxid = %s\n" % _hex016(node.pzxid))
        out.write("  cversion = %d\n" % node.cversion)
        out.write("  dataVersion = %d\n" % node.version)
        out.write("  aclVersion = %d\n" % node.aversion)
        out.write("  ephemeralOwner = %s\n" % _hex016(node.ephemeral_owner))
        if dump_data:
            out.write("  data = %s\n" % (base64.b64encode(node.data).decode() if node.data else ""))
        else:
            out.write("  dataLength = %d\n" % (len(node.data) if node.data is not None else 0))
        last = max(last, node.mzxid, node.pzxid)
    out.write("----\n")
    out.write("Session Details (sid, timeout, ephemeralCount):\n")
    for sid, timeout in snap.sessions.items():
        out.write("%s, %d, %d\n" % (_hex016(sid), timeout, len(tree.ephemerals_of(sid))))
    if snap.digest is not None and snap.digest.zxid > 0:
        out.write("Target zxid digest is: %x, %d\n" % (snap.digest.zxid & _U64, snap.digest.digest))
    out.write("----\nLast zxid: 0x%x\n" % max(snap.zxid or 0, last))


def _hex016(v: int) -> str:
    return "%#016x" % (v & _U64)


def _java_date_tostring(ms: int) -> str:
    """java.util.Date.toString(): ``EEE MMM dd HH:mm:ss zzz yyyy``."""
    t = _time.localtime(ms / 1000.0)
    return _time.strftime("%a %b %d %H:%M:%S %Z %Y", t)


def inspect_dir(path: Path, out: TextIO, *, dump_data: bool = False) -> None:
    data_dir = path.parent if path.name == _dd.VERSION_DIR else path
    vdir = _dd.snap_dir(data_dir)
    out.write("Data dir %s\n" % data_dir)
    for label, fn in (("myid", lambda: _dd.read_myid(data_dir)),
                      ("acceptedEpoch", lambda: _dd.read_epoch(data_dir, "acceptedEpoch")),
                      ("currentEpoch", lambda: _dd.read_epoch(data_dir, "currentEpoch"))):
        try:
            value = fn()
        except StorageError as e:
            value = "unreadable (%s)" % e
        if value is not None:
            out.write("  %s = %s\n" % (label, value))
    snaps = _dd.list_snapshots(vdir)
    logs = list_log_files(vdir)
    for p in snaps:
        out.write("  %s  zxid 0x%x  %d bytes%s\n" % (p.name, snapshot_zxid(p.name), p.stat().st_size,
                                                    "" if looks_complete(p) else "  INCOMPLETE"))
    for p in logs:
        out.write("  %s  zxid 0x%x  %d bytes\n" % (p.name, zxid_from_name(p.name, LOG_PREFIX), p.stat().st_size))
    for p in snaps:
        out.write("==== %s\n" % p.name)
        inspect_snapshot(p, out, dump_data=dump_data)
    for p in logs:
        out.write("==== %s\n" % p.name)
        inspect_log(p, out)


# --- verify -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    severity: str  # "error": data would be lost or refused; "warning": worth knowing
    file: Path | None
    offset: int | None
    message: str

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = str(self.file) + ("" if self.offset is None else " @%d" % self.offset) + ": "
        return "%s: %s%s" % (self.severity, where, self.message)


def _verify_log_file(path: Path, problems: list) -> list:
    """Check one log file; returns its (zxid, file) sequence."""
    zxids = []
    lf = LogFile(path)
    try:
        for entry in lf:
            zxids.append(entry.header.zxid)
    except CorruptLog as e:
        problems.append(Problem("error", e.file, e.offset, e.reason))
    if lf.header is not None and lf.header.magic == TXNLOG_MAGIC and lf.header.version != VERSION:
        problems.append(Problem("warning", path, 4, "txnlog format version %d (expected %d)"
                                % (lf.header.version, VERSION)))
    if lf.torn is not None:
        problems.append(Problem("warning", path, lf.torn.offset, "torn tail: " + lf.torn.reason))
    named = zxid_from_name(path.name, LOG_PREFIX)
    if zxids and named >= 0 and zxids[0] != named:
        problems.append(Problem("warning", path, None, "named after zxid 0x%x but its first txn is 0x%x"
                                % (named, zxids[0])))
    return zxids


def _verify_snapshot(path: Path, problems: list) -> bool:
    if not looks_complete(path):
        problems.append(Problem("warning", path, None, "incomplete snapshot (no final seal): ZooKeeper skips it"))
        return False
    try:
        read_snapshot(path)
    except CorruptSnapshot as e:
        problems.append(Problem("error", path, e.offset, e.reason))
        return False
    return True


def verify(path) -> list[Problem]:
    """Check a data dir (or one log/snapshot file); returns every problem found."""
    path = Path(path)
    problems: list[Problem] = []
    kind = _kind(path)
    if kind == "log":
        _check_continuity([(z, path) for z in _verify_log_file(path, problems)], problems)
        return problems
    if kind == "snapshot":
        _verify_snapshot(path, problems)
        return problems
    if kind != "dir":
        return [Problem("error", path, None, "neither a ZooKeeper log, a snapshot nor a data dir")]
    data_dir = path.parent if path.name == _dd.VERSION_DIR else path
    vdir = _dd.snap_dir(data_dir)
    if not vdir.is_dir():
        return [Problem("error", vdir, None, "no version-2 directory")]
    for name in ("acceptedEpoch", "currentEpoch"):
        try:
            _dd.read_epoch(data_dir, name)
        except StorageError as e:
            problems.append(Problem("error", vdir / name, None, str(e)))
    try:
        _dd.read_myid(data_dir)
    except StorageError as e:
        problems.append(Problem("error", data_dir / "myid", None, str(e)))
    newest_valid = None
    for p in _dd.list_snapshots(vdir):
        if _verify_snapshot(p, problems) and newest_valid is None:
            newest_valid = p
    seq = []
    for p in list_log_files(vdir):
        seq += [(z, p) for z in _verify_log_file(p, problems)]
    _check_continuity(seq, problems)
    if newest_valid is not None and seq:
        sz = snapshot_zxid(newest_valid.name)
        later = [z for z, _ in seq if z > sz]
        covered = any(z <= sz + 1 for z, _ in seq)
        if later and not covered and later[0] != sz + 1 and (later[0] >> 32) == (sz >> 32):
            problems.append(Problem("error", newest_valid, None, "the logs do not cover the snapshot: next txn is "
                                    "0x%x, expected 0x%x" % (later[0], sz + 1)))
    elif newest_valid is None and seq:
        problems.append(Problem("error", vdir, None, _dd.EMPTY_SNAPSHOT_WARNING))
    if not any(p.severity == "error" for p in problems):
        try:
            result = _dd.load(data_dir, kill_dead_sessions=False)
        except StorageError as e:
            problems.append(Problem("error", data_dir, None, "cannot load: %s" % e))
        else:
            rep = result.report
            for m in rep.digest_mismatches:
                problems.append(Problem("error", None, None, "digest mismatch at zxid 0x%x: logged %d, tree %d" % m))
            for p in rep.unresolved_acls:
                problems.append(Problem("error", None, None, "node %s refers to an ACL missing from the snapshot" % p))
    return problems


def _check_continuity(seq: list, problems: list) -> None:
    prev = None
    for z, f in seq:
        if prev is not None:
            if z <= prev:
                problems.append(Problem("error", f, None, "zxid 0x%x does not follow 0x%x" % (z, prev)))
            elif z != prev + 1 and (z >> 32) == (prev >> 32):
                problems.append(Problem("error", f, None, "txns missing between zxid 0x%x and 0x%x" % (prev, z)))
        prev = z
