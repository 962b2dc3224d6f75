"""A ZooKeeper 3.8 data dir: layout, small state files, and loading it (FileTxnSnapLog.restore).

Layout
------
::

    <dataDir>/myid                      server id, decimal text (quorum only; "1\\n" as zkServer-initialize writes)
    <dataDir>/version-2/snapshot.<zxid> snapshots (maybe .gz / .snappy)
    <dataDir>/version-2/acceptedEpoch   decimal text, no newline (QuorumPeer.writeLongToFile)
    <dataDir>/version-2/currentEpoch    idem
    <dataLogDir>/version-2/log.<zxid>   transaction logs (dataLogDir defaults to dataDir)

Loading (``load``), exactly in ZooKeeper's order
-------------------------------------------------
1. Snapshots newest first: the first that passes the cheap completeness check
   (``snapshot.looks_complete``) *and* reads without error is used; the others
   are reported (ZooKeeper tries up to 100).  None at all: an empty tree at
   zxid 0 -- unless the logs hold txns, which ZooKeeper refuses ("No snapshot
   found, but there are log entries") and so do we, unless
   ``trust_empty_snapshot`` (zookeeper.snapshot.trust.empty).
2. Replay every logged txn after the snapshot's zxid through
   ``DataTree.apply``: the log file that starts at or before that zxid and all
   later ones.  The snapshot is fuzzy, so some of these txns are already in
   it; ``DataTree.apply`` is idempotent for them as ZooKeeper's processTxn is
   (a create that finds its node still fixes the parent's cversion/pzxid and
   the node's ACL).  createSession adds the session (id -> timeout),
   closeSession removes it.
3. Digests: the snapshot's digest is compared when replay reaches its zxid,
   then every txn's digest after it (ZooKeeper only logs mismatches; we report
   them).
4. Sessions that own ephemerals but are not in the session table are killed
   (ZooKeeperServer.loadData "clean up dead sessions": their ephemerals go,
   without a txn, at the last zxid).
ZooKeeper then writes a snapshot of the result (``snapshot.save_snapshot``);
``load`` itself never writes, except the torn-tail repair it is asked for.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from protocol.codes import OpCode

from .digest import DIGEST_VERSION
from .errors import CorruptSnapshot, StorageError, TornTail
from .snapshot import (
    SNAPSHOT_PREFIX,
    SnapshotData,
    looks_complete,
    read_snapshot,
    snapshot_zxid,
    unresolved_acl_paths,
)
from .txnlog import LOG_PREFIX, LogReader, last_logged_zxid, list_log_files, logs_from, zxid_from_name

VERSION_DIR = "version-2"
MAX_SNAPSHOTS_TRIED = 100
EMPTY_SNAPSHOT_WARNING = "No snapshot found, but there are log entries. Something is broken!"
_LONG_RE = re.compile(r"[+-]?[0-9]+\Z")


def snap_dir(data_dir) -> Path:
    return Path(data_dir) / VERSION_DIR


def log_dir(data_log_dir) -> Path:
    return Path(data_log_dir) / VERSION_DIR


# --- snapshots ---------------------------------------------------------------------------------


def list_snapshots(directory) -> list[Path]:
    """Every ``snapshot.*`` file with a parseable zxid, newest first (Util.sortDataDir, descending)."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = [(snapshot_zxid(p.name), p.name, p) for p in d.iterdir() if p.is_file()]
    return [p for z, _, p in sorted((x for x in found if x[0] >= 0), reverse=True)]


def find_valid_snapshots(directory, n: int = MAX_SNAPSHOTS_TRIED) -> list[Path]:
    """FileSnap.findNValidSnapshots: up to ``n`` newest snapshots that pass the cheap check."""
    return [p for p in list_snapshots(directory) if looks_complete(p)][:n]


def newest_snapshot(directory, *, extended_types: bool = True):
    """The newest snapshot that reads, falling back to older ones on corruption.

    Returns ``(SnapshotData or None, path or None, skipped)`` where ``skipped``
    lists ``(path, reason)`` for every newer snapshot that could not be used.
    Raises ``StorageError`` when snapshots looked usable but none could be read.
    """
    skipped: list[tuple[Path, str]] = []
    candidates = []
    for p in list_snapshots(directory):
        if looks_complete(p):
            candidates.append(p)
        else:
            skipped.append((p, "incomplete: does not end with the snapshot seal"))
    for p in candidates[:MAX_SNAPSHOTS_TRIED]:
        try:
            return read_snapshot(p, extended_types=extended_types), p, skipped
        except CorruptSnapshot as e:
            skipped.append((p, e.reason))
    if candidates:
        why = "; ".join("%s: %s" % (p.name, r) for p, r in skipped)
        raise StorageError("not able to find a valid snapshot in %s: %s" % (directory, why))
    return None, None, skipped


def logs_after_snapshot(directory, snapshot_zxid_: int) -> list[Path]:
    """The log files needed on top of a snapshot: the one starting at or before its zxid and all later."""
    return logs_from(list_log_files(directory), snapshot_zxid_)


def purge(snapshot_dir, log_directory, retain_count: int = 3) -> list[Path]:
    """PurgeTxnLog.purge: keep the newest ``retain_count`` snapshots and the logs they need.

    Returns the files removed.  A log file is needed when it holds txns after
    the oldest kept snapshot (so the one that starts at or before that
    snapshot's zxid is kept too).
    """
    retain_count = max(3, retain_count)
    snaps = list_snapshots(snapshot_dir)  # newest first
    kept = [p for p in snaps if looks_complete(p)][:retain_count]
    if len(kept) < retain_count:
        return []
    oldest = snapshot_zxid(kept[-1].name)
    keep_logs = set(logs_from(list_log_files(log_directory), oldest))
    removed = []
    for p in snaps:
        if p not in kept and snapshot_zxid(p.name) < oldest:
            p.unlink(missing_ok=True)
            removed.append(p)
    for p in list_log_files(log_directory):
        if p not in keep_logs and zxid_from_name(p.name, LOG_PREFIX) < oldest:
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


# --- small state files ---------------------------------------------------------------------------


def _read_long_line(path: Path) -> int:
    with open(path, encoding="utf-8", newline="") as f:
        line = f.readline()
    for end in ("\r\n", "\n", "\r"):  # BufferedReader.readLine drops the line terminator only
        if line.endswith(end):
            line = line[: -len(end)]
            break
    if not _LONG_RE.match(line) or not -(1 << 63) <= int(line) < (1 << 63):
        raise StorageError("Found %s in %s" % (line, path))
    return int(line)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_myid(data_dir) -> int | None:
    """``dataDir/myid``: Long.parseLong of its first line; None when there is none (standalone)."""
    p = Path(data_dir) / "myid"
    if not p.is_file():
        return None
    return _read_long_line(p)


def write_myid(data_dir, server_id: int) -> None:
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    _write_atomic(Path(data_dir) / "myid", "%d\n" % server_id)


def read_epoch(data_dir, name: str) -> int | None:
    """``version-2/acceptedEpoch`` or ``currentEpoch`` (QuorumPeer.readLongFromFile); None if absent."""
    if name not in ("acceptedEpoch", "currentEpoch"):
        raise ValueError(name)
    p = snap_dir(data_dir) / name
    if not p.is_file():
        return None
    return _read_long_line(p)


def write_epoch(data_dir, name: str, value: int) -> None:
    """QuorumPeer.writeLongToFile: the decimal value, no newline, written atomically."""
    if name not in ("acceptedEpoch", "currentEpoch"):
        raise ValueError(name)
    d = snap_dir(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    _write_atomic(d / name, "%d" % value)


# --- loading -----------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    """What ``load`` found and did; ``problems`` lists what deserves attention."""

    snapshot: Path | None = None
    snapshot_zxid: int = 0
    snapshot_digest: object = None
    skipped_snapshots: list = field(default_factory=list)  # (path, reason)
    log_files: list = field(default_factory=list)
    txns_applied: int = 0
    first_zxid: int | None = None
    last_zxid: int = 0
    gaps: list = field(default_factory=list)  # (zxid before, zxid after)
    torn_tails: list = field(default_factory=list)  # TornTail
    repaired: list = field(default_factory=list)  # TornTails that were truncated
    digests_checked: int = 0
    digest_mismatches: list = field(default_factory=list)  # (zxid, expected, actual)
    dead_sessions_killed: list = field(default_factory=list)
    unresolved_acls: list = field(default_factory=list)
    logged: list = field(default_factory=list)  # (hdr, txn) not replayed (load(replay=False))

    @property
    def problems(self) -> list[str]:
        out = ["snapshot %s skipped: %s" % (p, r) for p, r in self.skipped_snapshots]
        out += ["txns missing between zxid 0x%x and 0x%x" % g for g in self.gaps]
        out += ["torn tail: %s%s" % (t, " (truncated)" if t in self.repaired else "") for t in self.torn_tails]
        out += ["digest mismatch at zxid 0x%x: logged %d, tree %d" % m for m in self.digest_mismatches]
        out += ["node %s refers to an ACL missing from the snapshot" % p for p in self.unresolved_acls]
        return out


class LoadResult(tuple):
    """``(tree, sessions, last_zxid, report)``; also as attributes."""

    def __new__(cls, tree, sessions, last_zxid, report):
        return super().__new__(cls, (tree, sessions, last_zxid, report))

    tree = property(lambda self: self[0])
    sessions = property(lambda self: self[1])
    last_zxid = property(lambda self: self[2])
    report = property(lambda self: self[3])


def _zxid_follows(prev: int, nxt: int) -> bool:
    return nxt == prev + 1 or (nxt >> 32) > (prev >> 32)


def load(
    data_dir,
    data_log_dir=None,
    *,
    extended_types: bool = True,
    trust_empty_snapshot: bool = False,
    kill_dead_sessions: bool = True,
    repair_torn_tails: bool = False,
    check_digests: bool = True,
    snapshot=None,
    replay: bool = True,
) -> LoadResult:
    """Rebuild the DataTree and session table from a data dir, as ZooKeeper does at startup.

    Raises ``CorruptLog`` for damaged logs and ``StorageError`` when the dir
    cannot be loaded at all; everything else is in the returned report.
    ``repair_torn_tails`` truncates each torn tail found (ZooKeeper itself
    leaves them and ignores them).  ``snapshot`` names the snapshot file to
    start from instead of the newest (to check that older ones replay to the
    same tree; it must be readable).  ``replay=False`` (an ensemble member) leaves the
    logged txns after the snapshot unapplied, in ``report.logged``: until a leader says
    they are committed they are only logged.
    """
    from zkcompat.core.tree import DataTree

    sdir = snap_dir(data_dir)
    ldir = log_dir(data_log_dir if data_log_dir is not None else data_dir)
    if sdir != ldir:  # FileTxnSnapLog.checkLogDir / checkSnapDir
        check = " Check if dataLogDir and dataDir configuration is correct."
        if list_snapshots(ldir):
            raise StorageError("Log directory has snapshot files." + check)
        if list_log_files(sdir):
            raise StorageError("Snapshot directory has log files." + check)
    report = LoadReport()
    if snapshot is not None:
        path = Path(snapshot)
        snap = read_snapshot(path, extended_types=extended_types)
    else:
        snap, path, report.skipped_snapshots = newest_snapshot(sdir, extended_types=extended_types)
    if snap is None:
        if last_logged_zxid(ldir) != -1 and not trust_empty_snapshot:
            raise StorageError(EMPTY_SNAPSHOT_WARNING)
        snap = SnapshotData(DataTree(extended_types=extended_types), {}, 0, None)
    tree, sessions = snap.tree, dict(snap.sessions)
    report.snapshot = path
    report.snapshot_zxid = snap_zxid = snap.zxid or 0
    report.snapshot_digest = snap.digest

    pending = snap.digest
    if pending is not None and (pending.zxid <= 0 or pending.zxid < snap_zxid):
        pending = None  # empty, or older than the snapshot: nothing to compare (DataTree.deserializeZxidDigest)
    check = check_digests

    def compare_snapshot_digest(zxid: int) -> None:
        nonlocal pending
        if zxid == pending.zxid:
            if pending.version == DIGEST_VERSION:
                report.digests_checked += 1
                if tree.signed_digest != pending.digest:
                    report.digest_mismatches.append((zxid, pending.digest, tree.signed_digest))
            pending = None

    if check and pending is not None:
        compare_snapshot_digest(snap_zxid)

    reader = LogReader(ldir, snap_zxid + 1)
    report.log_files = list(reader.files)
    highest = snap_zxid
    prev = snap_zxid
    for entry in reader:
        hdr, txn = entry.header, entry.txn
        zxid = hdr.zxid
        if report.first_zxid is None:
            report.first_zxid = zxid
        if prev and not _zxid_follows(prev, zxid):
            report.gaps.append((prev, zxid))
        prev = zxid
        if zxid > highest:
            highest = zxid
        if not replay:
            report.logged.append((hdr, txn))
            continue
        if hdr.type == OpCode.CREATE_SESSION:
            sessions[hdr.client_id] = txn.time_out
        elif hdr.type == OpCode.CLOSE_SESSION:
            sessions.pop(hdr.client_id, None)
        tree.apply(hdr, txn)
        if check:
            if pending is not None:
                compare_snapshot_digest(zxid)
                if pending is not None and zxid > pending.zxid:
                    pending = None  # its zxid was never replayed: ZooKeeper stays "fuzzy"; we stop waiting
            if pending is None and entry.digest is not None and entry.digest.version == DIGEST_VERSION:
                report.digests_checked += 1
                if tree.signed_digest != entry.digest.tree_digest:
                    report.digest_mismatches.append((zxid, entry.digest.tree_digest, tree.signed_digest))
        report.txns_applied += 1
    report.torn_tails = list(reader.torn_tails)
    if repair_torn_tails:
        for t in report.torn_tails:
            t.truncate()
            report.repaired.append(t)
    if not replay:
        report.last_zxid = highest
        return LoadResult(tree, sessions, highest, report)
    tree.last_processed_zxid = max(tree.last_processed_zxid, highest)

    if kill_dead_sessions:
        for sid in list(tree.ephemerals):
            if sid not in sessions:
                had = len(tree.ephemerals[sid]) > 0
                tree.kill_session(sid, tree.last_processed_zxid, None)
                if had:
                    report.dead_sessions_killed.append(sid)
    report.unresolved_acls = unresolved_acl_paths(tree)
    report.last_zxid = highest
    return LoadResult(tree, sessions, highest, report)


__all__ = [
    "VERSION_DIR",
    "snap_dir",
    "log_dir",
    "list_snapshots",
    "find_valid_snapshots",
    "newest_snapshot",
    "logs_after_snapshot",
    "read_myid",
    "write_myid",
    "read_epoch",
    "write_epoch",
    "LoadReport",
    "LoadResult",
    "load",
    "SNAPSHOT_PREFIX",
    "TornTail",
]
