"""``data inspect`` and ``data verify``: ZooKeeper-formatter-style listings and the problems found."""

from __future__ import annotations

import io

from protocol.codes import OpCode
from protocol.records import ACL, CreateSessionTxn, CreateTxn, ErrorTxn, Id, TxnHeader
from zkcompat.storage import tools
from zkcompat.storage.txnlog import list_log_files

from .test_storage_kit import record_workload, write_datadir


def listing(path) -> str:
    out = io.StringIO()
    tools.inspect(path, out)
    return out.getvalue()


def test_jute_tostring_matches_javas_csv_form():
    """Records print as jute's ToStringOutputArchive does: s{} for records, quoted strings, T/F, #hex."""
    acl = ACL(31, Id("world", "anyone"))
    assert tools.jute_to_string(acl) == "31,s{'world,'anyone}\n"
    assert tools.jute_to_string(ErrorTxn(-101)) == "-101\n"
    assert tools.jute_to_string(CreateSessionTxn(30000)) == "30000\n"
    txn = CreateTxn("/a,b", b"\x01\xff", [acl], True, 3)
    assert tools.jute_to_string(txn) == "'/a%2Cb,#1ffffffff,v{s{31,s{'world,'anyone}}},T,3\n"


def test_txn_lines_follow_logformatter():
    """One line per txn: session, cxid, zxid in hex, op name, then the txn as TxnLogToolkit prints it."""
    h = TxnHeader(0x100001720FA0000, 1, 2, 1_700_000_000_000, OpCode.CREATE)
    line = tools.format_txn(h, CreateTxn("/a", b"hello", [ACL(31, Id("world", "anyone"))], False, 1))
    tail = " session 0x100001720fa0000 cxid 0x1 zxid 0x2 create /a,hello,[31,s{'world,'anyone}\n],false,1"
    assert line.endswith(tail)
    assert tools.op2string(OpCode.CREATE_TTL) == "createTtl" and tools.op2string(999) == "unknown 999"


def test_inspect_a_log_file(tmp_path):
    """A log lists its header, every txn, and ends with ZooKeeper's EOF line (or the torn tail it found)."""
    _, txns, _ = record_workload()
    write_datadir(tmp_path, txns, snapshots=[0])
    log = list_log_files(tmp_path / "version-2")[0]
    text = listing(log)
    lines = text.splitlines()
    assert lines[0] == "ZooKeeper Transactional Log File with dbid 0 txnlog format version 2"
    assert " createSession 30000" in lines[1]
    assert lines[-1] == "EOF reached after %d txns." % len(txns)
    assert " multi create:" in text and " createTtl " in text and " error -110" in text
    log.write_bytes(log.read_bytes().rstrip(b"\0")[:-3])
    assert listing(log).splitlines()[-1].startswith("TORN TAIL at offset ")


def test_inspect_a_snapshot_and_a_dir(tmp_path):
    """A snapshot dumps like SnapshotFormatter; a dir lists its files then each of them."""
    server, txns, _ = record_workload()
    write_datadir(tmp_path, txns, snapshots=[txns[-1][0].zxid])
    snap = next(p for p in (tmp_path / "version-2").iterdir() if p.name.startswith("snapshot."))
    text = listing(snap)
    assert text.startswith("ZNode Details (count=%d):\n----\n/\n  cZxid = 0x00000000000000\n" % len(server.tree.nodes))
    assert "\n/app/eph\n" in text and "  dataLength = 512000\n" in text
    assert "Session Details (sid, timeout, ephemeralCount):\n" in text
    assert text.endswith("Last zxid: 0x%x\n" % txns[-1][0].zxid)
    d = listing(tmp_path)
    assert d.startswith("Data dir %s\n" % tmp_path) and "==== %s\n" % snap.name in d and "EOF reached" in d
    assert "neither" in listing(tmp_path / "version-2" / "nothing-here")


def test_verify_a_clean_dir_finds_nothing(tmp_path):
    """A data dir written whole verifies clean."""
    _, txns, _ = record_workload()
    write_datadir(tmp_path, txns, snapshots=[0, txns[20][0].zxid], roll_every=9)
    assert tools.verify(tmp_path) == []
    assert tools.verify(tmp_path / "version-2") == []


def test_verify_reports_torn_tails_corruption_gaps_and_digests(tmp_path):
    """Each kind of damage is one Problem naming the file (and offset): warning for torn, error otherwise."""
    _, txns, _ = record_workload()
    write_datadir(tmp_path, txns, snapshots=[0], roll_every=9)
    logs = list_log_files(tmp_path / "version-2")
    last = logs[-1]
    last.write_bytes(last.read_bytes().rstrip(b"\0")[:-4])
    problems = tools.verify(tmp_path)
    assert [(p.severity, p.file) for p in problems] == [("warning", last)] and "torn tail" in problems[0].message
    logs[1].unlink()  # a whole file of txns missing
    problems = tools.verify(tmp_path)
    assert any(p.severity == "error" and "missing between" in p.message for p in problems)
    first = logs[0]
    data = bytearray(first.read_bytes())
    data[30] ^= 0x40
    first.write_bytes(bytes(data))
    problems = tools.verify(first)
    assert problems[0].severity == "error" and problems[0].offset == 16 and "checksum" in problems[0].message
    assert str(problems[0]).startswith("error: %s @16: " % first)


def test_verify_reports_a_digest_mismatch(tmp_path):
    """A log whose digests do not match its txns is an error (found by replaying the dir)."""
    from protocol.records import TxnDigest
    from zkcompat.core.tree import DataTree
    from zkcompat.storage.snapshot import save_snapshot
    from zkcompat.storage.txnlog import TxnLogWriter

    _, txns, _ = record_workload()
    save_snapshot(tmp_path / "version-2", DataTree(extended_types=True), {}, 0)
    w = TxnLogWriter(tmp_path / "version-2", prealloc_size=0)
    for h, t in txns[:3]:
        w.append(h, t, TxnDigest(2, 1))
    w.close()
    problems = tools.verify(tmp_path)
    assert len(problems) == 3 and all("digest mismatch" in p.message for p in problems)


def test_verify_flags_a_snapshot_without_logs_to_cover_it(tmp_path):
    """Logs present but no snapshot at all is ZooKeeper's "No snapshot found" error."""
    _, txns, _ = record_workload()
    write_datadir(tmp_path, txns)
    problems = tools.verify(tmp_path)
    assert len(problems) == 1 and "No snapshot found" in problems[0].message
