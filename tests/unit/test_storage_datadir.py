"""Data dirs: layout rules, state files, and load() = snapshot + replay, fuzzy snapshots and damage included."""

from __future__ import annotations

import shutil

import pytest

from protocol.codes import OpCode
from protocol.records import TxnDigest
from zkcompat.core.tree import DataTree
from zkcompat.storage import datadir
from zkcompat.storage.errors import CorruptLog, StorageError
from zkcompat.storage.snapshot import save_snapshot
from zkcompat.storage.txnlog import TxnLogWriter, list_log_files

from .test_storage_kit import apply_all, open_sessions, persisted_view, record_workload, tree_view, write_datadir


@pytest.fixture(scope="module")
def workload():
    server, txns, _ = record_workload()
    return server, txns


def test_empty_data_dir_loads_as_a_fresh_tree(tmp_path):
    """No snapshot, no log: a fresh tree at zxid 0 (ZooKeeper would then write snapshot.0)."""
    tree, sessions, last_zxid, report = datadir.load(tmp_path)
    assert tree_view(tree) == tree_view(DataTree(extended_types=True))
    assert sessions == {} and last_zxid == 0 and report.snapshot is None and report.problems == []


def test_replay_from_snapshot_0_rebuilds_the_tree_exactly(tmp_path, workload):
    """Logs replayed over snapshot.0 give the very tree the txns were applied to, children order included."""
    server, txns = workload
    tree, sessions = write_datadir(tmp_path, txns, snapshots=[0], roll_every=11)
    result = datadir.load(tmp_path)
    assert tree_view(result.tree) == tree_view(tree) == tree_view(server.tree)
    assert result.sessions == sessions == open_sessions(server)
    assert result.last_zxid == txns[-1][0].zxid == result.tree.last_processed_zxid
    report = result.report
    assert report.problems == [] and report.txns_applied == len(txns)
    assert report.digests_checked == sum(1 for h, _ in txns if h.type != OpCode.ERROR)
    assert len(report.log_files) == len(list_log_files(tmp_path / "version-2")) > 3


@pytest.mark.parametrize("fuzz", [0, 1, 2, 5, 13])
def test_every_snapshot_point_replays_to_the_same_tree(tmp_path, workload, fuzz):
    """From a snapshot at any zxid -- also a fuzzy one holding later txns -- replay reaches the same state."""
    server, txns = workload
    expected = persisted_view(server.tree)
    for i in range(0, len(txns), 3):
        d = tmp_path / ("d%d" % i)
        z = txns[i][0].zxid
        write_datadir(d, txns, snapshots=[z], fuzzy={z: fuzz}, roll_every=7)
        result = datadir.load(d)
        assert result.report.snapshot.name == "snapshot.%x" % z
        assert persisted_view(result.tree) == expected, (i, fuzz)
        assert result.sessions == open_sessions(server)
        assert result.report.problems == [], (i, fuzz)
        shutil.rmtree(d)


def test_corrupt_newest_snapshot_falls_back_to_an_older_one(tmp_path, workload):
    """A damaged newest snapshot is skipped (and reported); the older one plus more log gives the same tree."""
    server, txns = workload
    zs = [txns[10][0].zxid, txns[30][0].zxid]
    write_datadir(tmp_path, txns, snapshots=zs)
    newest = tmp_path / "version-2" / ("snapshot.%x" % zs[1])
    data = bytearray(newest.read_bytes())
    data[200] ^= 0xFF
    newest.write_bytes(bytes(data))
    result = datadir.load(tmp_path)
    assert result.report.snapshot.name == "snapshot.%x" % zs[0]
    assert [p for p, _ in result.report.skipped_snapshots] == [newest]
    assert persisted_view(result.tree) == persisted_view(server.tree)
    assert "skipped" in result.report.problems[0]


def test_incomplete_snapshot_is_skipped_by_the_cheap_check(tmp_path, workload):
    """A snapshot cut short (no final seal) is passed over without reading it, as ZooKeeper does."""
    server, txns = workload
    zs = [txns[5][0].zxid, txns[40][0].zxid]
    write_datadir(tmp_path, txns, snapshots=zs)
    newest = tmp_path / "version-2" / ("snapshot.%x" % zs[1])
    newest.write_bytes(newest.read_bytes()[:-7])
    result = datadir.load(tmp_path)
    assert result.report.snapshot.name == "snapshot.%x" % zs[0]
    assert persisted_view(result.tree) == persisted_view(server.tree)


def test_no_readable_snapshot_at_all_is_an_error(tmp_path, workload):
    """Snapshots that all look complete but none reads: ZooKeeper refuses to start; so do we."""
    _, txns = workload
    z = txns[5][0].zxid
    write_datadir(tmp_path, txns, snapshots=[z])
    p = tmp_path / "version-2" / ("snapshot.%x" % z)
    data = bytearray(p.read_bytes())
    data[100] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(StorageError):
        datadir.load(tmp_path)


def test_logs_without_snapshot_are_refused_unless_trusted(tmp_path, workload):
    """"No snapshot found, but there are log entries": refused, unless trust_empty_snapshot replays from zero."""
    server, txns = workload
    write_datadir(tmp_path, txns)
    with pytest.raises(StorageError, match="No snapshot found"):
        datadir.load(tmp_path)
    result = datadir.load(tmp_path, trust_empty_snapshot=True)
    assert tree_view(result.tree) == tree_view(server.tree)


def test_torn_tail_is_reported_and_repaired_on_request(tmp_path, workload):
    """A crash mid-record: load keeps every complete txn, reports the torn tail, and truncates it when asked."""
    _, txns = workload
    write_datadir(tmp_path, txns, snapshots=[0])
    last = list_log_files(tmp_path / "version-2")[-1]
    data = last.read_bytes().rstrip(b"\0")
    last.write_bytes(data[:-9])  # the last record loses its end
    expected, _ = apply_all(txns[:-1])
    result = datadir.load(tmp_path)
    assert persisted_view(result.tree) == persisted_view(expected)
    assert result.last_zxid == txns[-2][0].zxid
    assert [t.file for t in result.report.torn_tails] == [last] and result.report.repaired == []
    assert any("torn tail" in p for p in result.report.problems)
    again = datadir.load(tmp_path, repair_torn_tails=True)
    assert again.report.repaired == again.report.torn_tails
    clean = datadir.load(tmp_path)
    assert clean.report.problems == [] and persisted_view(clean.tree) == persisted_view(expected)


def test_corrupt_log_stops_the_load(tmp_path, workload):
    """A bad checksum in a log is never skipped: load raises CorruptLog."""
    _, txns = workload
    write_datadir(tmp_path, txns, snapshots=[0])
    first = list_log_files(tmp_path / "version-2")[0]
    data = bytearray(first.read_bytes())
    data[40] ^= 0x55
    first.write_bytes(bytes(data))
    with pytest.raises(CorruptLog):
        datadir.load(tmp_path)


def test_dead_sessions_lose_their_ephemerals_at_load(tmp_path, workload):
    """Ephemerals of a session missing from the session table go at load (ZooKeeperServer.loadData)."""
    _, txns = workload
    tree, sessions = apply_all(txns)
    owner = next(sid for sid, paths in tree.ephemerals.items() if len(paths))
    paths = tree.ephemerals_of(owner)
    sessions = dict(sessions)
    del sessions[owner]
    save_snapshot(tmp_path / "version-2", tree, sessions, tree.last_processed_zxid)
    result = datadir.load(tmp_path)
    assert result.report.dead_sessions_killed == [owner]
    assert all(result.tree.get(p) is None for p in paths)
    kept = datadir.load(tmp_path, kill_dead_sessions=False)
    assert all(kept.tree.get(p) is not None for p in paths)


def test_digest_mismatch_is_reported(tmp_path):
    """A logged digest that disagrees with the replayed tree is reported with its zxid."""
    _, txns, _ = record_workload()
    save_snapshot(tmp_path / "version-2", DataTree(extended_types=True), {}, 0)
    w = TxnLogWriter(tmp_path / "version-2", prealloc_size=0)
    for h, t in txns[:5]:
        w.append(h, t, TxnDigest(2, 12345))
    w.close()
    report = datadir.load(tmp_path).report
    assert len(report.digest_mismatches) == 5 and report.digest_mismatches[0][0] == txns[0][0].zxid
    assert datadir.load(tmp_path, check_digests=False).report.digest_mismatches == []


def test_gap_in_zxids_is_reported(tmp_path, workload):
    """A missing txn in the logs shows as a gap in the report."""
    _, txns = workload
    save_snapshot(tmp_path / "version-2", DataTree(extended_types=True), {}, 0)
    w = TxnLogWriter(tmp_path / "version-2", prealloc_size=0)
    for i, (h, t) in enumerate(txns[:10]):
        if i != 4:
            w.append(h, t)
    w.close()
    report = datadir.load(tmp_path, check_digests=False).report
    assert report.gaps == [(txns[3][0].zxid, txns[5][0].zxid)]


def test_separate_data_log_dir(tmp_path, workload):
    """Snapshots in dataDir, logs in dataLogDir; a mix-up of the two is refused as ZooKeeper does."""
    server, txns = workload
    write_datadir(tmp_path / "data", txns, snapshots=[0, txns[20][0].zxid], log_dir=tmp_path / "logs")
    result = datadir.load(tmp_path / "data", tmp_path / "logs")
    assert persisted_view(result.tree) == persisted_view(server.tree)
    shutil.copy(next((tmp_path / "logs" / "version-2").iterdir()), tmp_path / "data" / "version-2")
    with pytest.raises(StorageError, match="Snapshot directory has log files"):
        datadir.load(tmp_path / "data", tmp_path / "logs")


def test_logs_needed_after_a_snapshot_follow_getlogfiles(tmp_path):
    """The log starting at or before the snapshot's zxid and every later one (FileTxnLog.getLogFiles)."""
    v = tmp_path / "version-2"
    v.mkdir()
    for name in ("log.1", "log.10", "log.20", "snapshot.15", "log.junk", "other"):
        (v / name).write_bytes(b"")
    names = lambda z: [p.name for p in datadir.logs_after_snapshot(v, z)]  # noqa: E731
    assert names(0x15) == ["log.10", "log.20"]
    assert names(0x10) == ["log.10", "log.20"]
    assert names(0x5) == ["log.1", "log.10", "log.20"]
    assert names(0x0) == ["log.1", "log.10", "log.20"]
    assert names(0x30) == ["log.20"]


def test_state_files_have_zookeepers_format(tmp_path):
    """myid is "<id>\\n" in dataDir; acceptedEpoch/currentEpoch are bare decimals in version-2."""
    assert datadir.read_myid(tmp_path) is None and datadir.read_epoch(tmp_path, "currentEpoch") is None
    datadir.write_myid(tmp_path, 3)
    datadir.write_epoch(tmp_path, "acceptedEpoch", 7)
    datadir.write_epoch(tmp_path, "currentEpoch", 6)
    assert (tmp_path / "myid").read_bytes() == b"3\n"
    assert (tmp_path / "version-2" / "acceptedEpoch").read_bytes() == b"7"
    assert (tmp_path / "version-2" / "currentEpoch").read_bytes() == b"6"
    assert datadir.read_myid(tmp_path) == 3
    assert datadir.read_epoch(tmp_path, "acceptedEpoch") == 7
    (tmp_path / "myid").write_bytes(b"12\r\nignored")
    assert datadir.read_myid(tmp_path) == 12
    for bad in (b" 1\n", b"x", b"", b"99999999999999999999"):
        (tmp_path / "myid").write_bytes(bad)
        with pytest.raises(StorageError):
            datadir.read_myid(tmp_path)


def test_loaded_tree_digest_is_the_full_recomputation(tmp_path, workload):
    """After load (snapshot + replay) the tree's running digest is exact: ZooKeeper's `hash` can rely on it."""
    from zkcompat.storage.digest import tree_digest

    server, txns = workload
    write_datadir(tmp_path, txns, snapshots=[txns[20][0].zxid], fuzzy={txns[20][0].zxid: 4})
    tree = datadir.load(tmp_path).tree
    assert tree.signed_digest == tree_digest(tree) == tree_digest(server.tree)
