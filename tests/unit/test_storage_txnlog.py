"""Transaction log files: round trips, preallocation, rolling, truncation, and every kind of damage."""

from __future__ import annotations

import io
import os
import struct
import zlib

import pytest

from protocol.codes import OpCode
from protocol.records import (
    ACL,
    CloseSessionTxn,
    CreateSessionTxn,
    CreateTxn,
    CreateTxnV0,
    Id,
    MultiTxn,
    SetDataTxn,
    Txn,
    TxnDigest,
    TxnHeader,
)
from zkcompat.storage.errors import CorruptLog, StorageError, TornTail
from zkcompat.storage.txnlog import (
    PREALLOC_SIZE,
    LogFile,
    LogFileWriter,
    LogReader,
    TxnLogWriter,
    decode_multi,
    frame_record,
    iter_txns,
    last_logged_zxid,
    list_log_files,
    log_name,
    logs_from,
    marshal_entry,
    padded_size,
    read_log_file,
    truncate_log,
    unmarshal_entry,
    zxid_from_name,
)

from .test_storage_kit import record_workload

WORLD = [ACL(31, Id("world", "anyone"))]
SID = 0x100001720FA0000


def hdr(zxid, type_=OpCode.CREATE, cxid=1, time=1_700_000_000_000 + 1):
    return TxnHeader(SID, cxid, zxid, time + zxid, type_)


def create(path, data=b"x"):
    return CreateTxn(path, data, WORLD, False, 1)


def write_log(d, n, *, prealloc=1 << 16, digest=True, start=1):
    """A log file of ``n`` creates /n<zxid>; returns its path and the offsets of its records."""
    w = TxnLogWriter(d, prealloc_size=prealloc)
    for z in range(start, start + n):
        w.append(hdr(z), create("/n%d" % z), TxnDigest(2, z * 1000) if digest else None)
    w.commit()
    path = w.current_path
    w.close()
    entries, torn = read_log_file(path)
    assert torn is None and len(entries) == n
    return path, [e.offset for e in entries] + [entries[-1].end]


# --- names and records -----------------------------------------------------------------------


def test_names_are_lowercase_hex_like_long_tohexstring():
    """log.<zxid> uses Long.toHexString; names that are not ours parse to -1."""
    assert log_name(0x100000001) == "log.100000001"
    assert log_name(-1) == "log.ffffffffffffffff"
    assert zxid_from_name("log.1a2b", "log") == 0x1A2B
    assert zxid_from_name("snapshot.1a.gz", "snapshot") == 0x1A
    for bad in ("log", "log.", "log.xyz", "logs.1", "snapshot.1", "log.ffffffffffffffff"):
        assert zxid_from_name(bad, "log") == -1


def test_record_framing_is_adler32_length_entry_and_B():
    """A record is Adler32(entry) as a long, the entry as a length-prefixed buffer, then 'B'."""
    entry = marshal_entry(hdr(1), create("/a"), TxnDigest(2, 7))
    rec = frame_record(entry)
    assert rec[:8] == struct.pack(">q", zlib.adler32(entry))
    assert rec[8:12] == struct.pack(">i", len(entry))
    assert rec[12:-1] == entry and rec[-1:] == b"B"


def test_every_txn_type_of_the_workload_round_trips_with_and_without_digest():
    """Every txn the core produces marshals and unmarshals to equal records, digest or none."""
    _, txns, _ = record_workload()
    for h, t in txns:
        for d in (None, TxnDigest(2, -12345)):
            assert unmarshal_entry(marshal_entry(h, t, d)) == (h, t, d)


def test_digest_is_detected_by_the_bytes_left_after_the_txn():
    """A TxnDigest is read when 12 bytes follow the txn; fewer (a partial digest) read as none, as in ZooKeeper."""
    entry = marshal_entry(hdr(1), create("/a"))
    assert unmarshal_entry(entry)[2] is None
    assert unmarshal_entry(entry + TxnDigest(2, 99).to_bytes())[2] == TxnDigest(2, 99)
    assert unmarshal_entry(entry + b"\0" * 11)[2] is None


def test_legacy_close_session_without_body_and_v0_create():
    """A pre-3.6 closeSession has no CloseSessionTxn; a pre-3.3 create is a CreateTxnV0 (parentCVersion -1)."""
    h, t, d = unmarshal_entry(hdr(5, OpCode.CLOSE_SESSION).to_bytes())
    assert h.type == OpCode.CLOSE_SESSION and t is None and d is None
    v0 = CreateTxnV0("/old", b"d", WORLD, True)
    h, t, d = unmarshal_entry(hdr(6).to_bytes() + v0.to_bytes())
    assert t == CreateTxn("/old", b"d", WORLD, True, -1) and d is None


def test_unknown_txn_type_does_not_decode():
    """A header of a type ZooKeeper never logs is rejected (SerializeUtils: "Unsupported Txn")."""
    with pytest.raises(ValueError):
        unmarshal_entry(hdr(1, OpCode.GET_DATA).to_bytes())


def test_multi_sub_records_decode():
    """decode_multi gives each op of a MultiTxn as its own record."""
    multi = MultiTxn([Txn(OpCode.CREATE, create("/m").to_bytes()),
                      Txn(OpCode.SET_DATA, SetDataTxn("/", b"", 1).to_bytes())])
    assert decode_multi(multi) == [(OpCode.CREATE, create("/m")), (OpCode.SET_DATA, SetDataTxn("/", b"", 1))]


# --- writing ----------------------------------------------------------------------------------


def test_padding_follows_filepadding():
    """FilePadding.calculateFileSizeWithPadding: grow by a block within 4 KiB of the end, rounded when past it."""
    p = PREALLOC_SIZE
    assert padded_size(16, 16) == 16 + p  # a new file: header plus one block
    assert padded_size(1000, 16 + p) == 16 + p
    assert padded_size(16 + p - 4096, 16 + p) == 16 + 2 * p
    assert padded_size(16 + p + 10, 16 + p) == 2 * p  # written past the end: next multiple
    assert padded_size(500, 16, 0) == 16  # preallocation off


def test_writer_preallocates_like_zookeeper(tmp_path):
    """A new log file is the header plus one zero-filled block; records land at the front."""
    path, offsets = write_log(tmp_path, 3, prealloc=PREALLOC_SIZE)
    assert path.name == "log.1"
    assert path.stat().st_size == 16 + PREALLOC_SIZE
    with open(path, "rb") as f:
        head = f.read(offsets[-1] + 64)
    assert head[:16] == b"ZKLG" + struct.pack(">iq", 2, 0)
    assert head[offsets[-1]:] == bytes(64)


def test_writer_grows_the_file_as_records_approach_its_end(tmp_path):
    """With a small block, the file grows block by block and every record still reads back."""
    w = TxnLogWriter(tmp_path, prealloc_size=8192)
    for z in range(1, 200):
        w.append(hdr(z), create("/n%d" % z, b"y" * 100))
    w.commit(sync=False)
    size = w.current_path.stat().st_size
    assert (size - 16) % 8192 == 0 and size >= w.current.position  # header + whole blocks
    w.close()
    assert [h.zxid for h, _, _ in iter_txns(tmp_path)] == list(range(1, 200))


def test_writer_on_a_file_object_without_fileno():
    """LogFileWriter works on any binary file object (padding by seek/write)."""
    buf = io.BytesIO()
    w = LogFileWriter(buf, prealloc_size=4096)
    w.append(hdr(1), create("/a"))
    assert len(buf.getvalue()) == 16 + 4096
    assert buf.getvalue()[16:].rstrip(b"\0")[-1:] == b"B"


def test_roll_starts_a_new_file_named_after_its_first_zxid(tmp_path):
    """roll() ends the current file; the next append creates log.<its zxid>."""
    w = TxnLogWriter(tmp_path, prealloc_size=4096)
    for z in range(1, 4):
        w.append(hdr(z), create("/a%d" % z))
    w.roll()
    for z in range(4, 6):
        w.append(hdr(z), create("/a%d" % z))
    w.commit()
    w.close()
    assert [p.name for p in list_log_files(tmp_path)] == ["log.1", "log.4"]
    assert [h.zxid for h, _, _ in iter_txns(tmp_path)] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("sync", [True, False])
def test_commit_closes_rolled_files_synced_or_not(tmp_path, monkeypatch, sync):
    """FileTxnLog.commit closes the streams it rolled past with or without forceSync: a server
    under forceSync=no keeps one log file open, however many times it rolls."""
    dir_syncs = []
    monkeypatch.setattr("zkcompat.storage.txnlog._fsync_dir", dir_syncs.append)
    w = TxnLogWriter(tmp_path, prealloc_size=4096, sync_dir=sync)
    files = []
    for z in range(1, 7):
        w.append(hdr(z), create("/a%d" % z))
        files.append(w.current.fobj)
        w.roll()
        w.commit(sync=sync)
    assert all(f.closed for f in files)
    assert w._unsynced == []
    assert len(dir_syncs) == (6 if sync else 0)  # a new file's directory entry, only when syncing
    w.close()
    assert [h.zxid for h, _, _ in iter_txns(tmp_path)] == [1, 2, 3, 4, 5, 6]


def test_zxids_must_increase(tmp_path):
    """Appending a zxid that is not after the last one is refused."""
    w = TxnLogWriter(tmp_path, prealloc_size=0)
    w.append(hdr(5), create("/a"))
    with pytest.raises(ValueError):
        w.append(hdr(5), create("/b"))
    w.close()


def test_writer_will_not_overwrite_a_log_with_records(tmp_path):
    """ZooKeeper overwrites an existing log.<zxid>; we only replace one that holds no record."""
    write_log(tmp_path, 2)
    with pytest.raises(StorageError):
        TxnLogWriter(tmp_path).append(hdr(1), create("/x"))
    (tmp_path / "log.10").write_bytes(b"ZKL")  # a crash right after creating it
    w = TxnLogWriter(tmp_path, prealloc_size=0)
    w.append(hdr(0x10), create("/y"))
    w.close()
    assert [h.zxid for h, _, _ in iter_txns(tmp_path)] == [1, 2, 0x10]


def test_round_trip_of_the_workload(tmp_path):
    """Every recorded txn reads back equal, in order, digest included, across rolled files."""
    _, txns, _ = record_workload()
    w = TxnLogWriter(tmp_path, prealloc_size=1 << 16)
    for i, (h, t) in enumerate(txns):
        w.append(h, t, TxnDigest(2, i))
        if i % 10 == 9:
            w.roll()
    w.commit()
    w.close()
    got = list(iter_txns(tmp_path))
    assert got == [(h, t, TxnDigest(2, i)) for i, (h, t) in enumerate(txns)]
    assert last_logged_zxid(tmp_path) == txns[-1][0].zxid


def test_reading_from_a_zxid_uses_zookeepers_file_choice(tmp_path):
    """From zxid z: the newest file starting at or before z and every later one; older txns skipped."""
    w = TxnLogWriter(tmp_path, prealloc_size=0)
    for z in range(1, 31):
        w.append(hdr(z), create("/a%d" % z))
        if z in (10, 20):
            w.roll()
    w.close()
    files = list_log_files(tmp_path)
    assert [f.name for f in files] == ["log.1", "log.b", "log.15"]
    assert [f.name for f in logs_from(files, 0x10)] == ["log.b", "log.15"]
    assert [f.name for f in logs_from(files, 0xB)] == ["log.b", "log.15"]
    assert [f.name for f in logs_from(files, 0)] == ["log.1", "log.b", "log.15"]
    reader = LogReader(tmp_path, 15)
    assert [e.header.zxid for e in reader] == list(range(15, 31))
    assert [f.name for f in reader.files] == ["log.b", "log.15"]


# --- damage -----------------------------------------------------------------------------------


def scan(path):
    lf = LogFile(path)
    return [e.header.zxid for e in lf], lf.torn


def test_empty_log_file_is_a_torn_tail_at_zero(tmp_path):
    """An empty log file (crash right after creating it) is a TornTail at 0; truncate() removes it."""
    p = tmp_path / "log.1"
    p.write_bytes(b"")
    zxids, torn = scan(p)
    assert zxids == [] and isinstance(torn, TornTail) and torn.offset == 0
    torn.truncate()
    assert not p.exists()


@pytest.mark.parametrize("n", range(1, 16))
def test_truncated_header_is_a_torn_tail(tmp_path, n):
    """A header cut at any length is a TornTail at offset 0."""
    p = tmp_path / "log.1"
    p.write_bytes((b"ZKLG" + struct.pack(">iq", 2, 0))[:n])
    zxids, torn = scan(p)
    assert zxids == [] and torn.offset == 0 and "header" in torn.reason


def test_zero_filled_log_file_is_a_torn_tail(tmp_path):
    """A file of zeros (its header never reached the disk) is a TornTail, not corruption."""
    p = tmp_path / "log.1"
    p.write_bytes(bytes(4096))
    assert scan(p)[1].offset == 0


def test_wrong_magic_is_corruption(tmp_path):
    """A non-zero header that is not ZKLG is a CorruptLog at offset 0."""
    path, _ = write_log(tmp_path, 2)
    with open(path, "r+b") as f:
        f.write(b"ZKSN")
    with pytest.raises(CorruptLog) as e:
        scan(path)
    assert e.value.offset == 0 and "magic" in e.value.reason
    p = tmp_path / "log.99"
    p.write_bytes(b"JUNK")
    with pytest.raises(CorruptLog):
        scan(p)


def test_zero_filled_tail_is_the_normal_end(tmp_path):
    """The preallocated zeros after the last record end the file cleanly: no outcome."""
    path, offsets = write_log(tmp_path, 4)
    lf = LogFile(path)
    assert [e.header.zxid for e in lf] == [1, 2, 3, 4]
    assert lf.torn is None and lf.end == offsets[-1]


def test_file_ending_right_after_a_record_is_the_normal_end(tmp_path):
    """No preallocation at all: EOF right after a record is a clean end."""
    path, offsets = write_log(tmp_path, 3, prealloc=0)
    assert path.stat().st_size == offsets[-1]
    assert scan(path) == ([1, 2, 3], None)


def test_bad_checksum_in_the_middle_is_corruption(tmp_path):
    """A flipped byte inside a middle record: CorruptLog at that record; the records before it were yielded."""
    path, offsets = write_log(tmp_path, 5)
    with open(path, "r+b") as f:
        f.seek(offsets[2] + 30)
        b = f.read(1)
        f.seek(offsets[2] + 30)
        f.write(bytes([b[0] ^ 0x01]))
    lf = LogFile(path)
    seen = []
    with pytest.raises(CorruptLog) as e:
        for entry in lf:
            seen.append(entry.header.zxid)
    assert seen == [1, 2] and e.value.offset == offsets[2] and "checksum" in e.value.reason


def test_bad_checksum_in_the_last_complete_record_is_corruption(tmp_path):
    """A complete last record whose checksum fails is refused, as ZooKeeper refuses it (never cut silently)."""
    path, offsets = write_log(tmp_path, 3)
    with open(path, "r+b") as f:
        f.seek(offsets[2] + 4)
        f.write(b"\x12\x34\x56\x78")
    with pytest.raises(CorruptLog) as e:
        scan(path)
    assert e.value.offset == offsets[2]


def test_undecodable_record_with_a_good_checksum_is_corruption(tmp_path):
    """A record whose checksum holds but whose txn does not decode is a CorruptLog."""
    p = tmp_path / "log.1"
    with open(p, "wb") as f:
        w = LogFileWriter(f, prealloc_size=0)
        w.append(hdr(1), create("/a"))
        at = w.position
        w.append_entry(hdr(2, OpCode.GET_DATA).to_bytes())
    with pytest.raises(CorruptLog) as e:
        scan(p)
    assert e.value.offset == at and "undecodable" in e.value.reason


def test_torn_last_record_at_every_byte_offset_end_of_file(tmp_path):
    """The file cut at every offset inside its last record: all earlier records, then a TornTail at that record.

    (A checksum is 32 bits in a long: a cut inside its first four bytes leaves only zeros, a clean end.)
    """
    path, offsets = write_log(tmp_path, 3, prealloc=0)
    full = path.read_bytes()
    start, end = offsets[2], offsets[3]
    for cut in range(start + 1, end):
        path.write_bytes(full[:cut])
        zxids, torn = scan(path)
        assert zxids == [1, 2], cut
        if not any(full[start:cut]):  # only the checksum's always-zero top bytes made it: nothing was written
            assert torn is None, cut
        else:
            assert isinstance(torn, TornTail) and torn.offset == start, cut


def test_torn_last_record_at_every_byte_offset_zero_filled(tmp_path):
    """A preallocated file whose last record was written only up to each offset: a TornTail at that record."""
    path, offsets = write_log(tmp_path, 3, prealloc=0)
    full = path.read_bytes()
    start, end = offsets[2], offsets[3]
    for cut in range(start + 1, end):
        path.write_bytes(full[:cut] + bytes(8192))
        zxids, torn = scan(path)
        assert zxids == [1, 2], cut
        if not any(full[start:cut]):  # only the checksum's always-zero top bytes made it: nothing was written
            assert torn is None, cut
        else:
            assert isinstance(torn, TornTail) and torn.offset == start, cut


def test_torn_record_with_garbage_after_it_and_no_valid_record_is_torn(tmp_path):
    """Junk after an incomplete record (unflushed pages) is still a torn tail when no valid record follows."""
    path, offsets = write_log(tmp_path, 3, prealloc=0)
    full = path.read_bytes()
    path.write_bytes(full[: offsets[2] + 20] + bytes(100) + b"\x07junk\x01" * 30 + bytes(100))
    zxids, torn = scan(path)
    assert zxids == [1, 2] and torn.offset == offsets[2]


def test_incomplete_record_followed_by_valid_records_is_corruption(tmp_path):
    """A damaged record with intact records after it must not be cut away: CorruptLog naming where they are."""
    path, offsets = write_log(tmp_path, 4, prealloc=0)
    full = bytearray(path.read_bytes())
    full[offsets[2] + 12 : offsets[2] + 20] = bytes(8)  # damage record 3's body and its 'B'
    full[offsets[3] - 1] = 0
    path.write_bytes(bytes(full))
    with pytest.raises(CorruptLog) as e:
        scan(path)
    assert e.value.offset == offsets[2] and "valid records follow at offset %d" % offsets[3] in e.value.reason


def test_zero_length_with_data_after_it_is_torn_or_corrupt(tmp_path):
    """A zero length before non-zero bytes: torn when nothing valid follows, corrupt when a record does."""
    path, offsets = write_log(tmp_path, 3, prealloc=0)
    full = bytearray(path.read_bytes())
    torn = bytes(full[: offsets[2]]) + bytes(12) + b"\x01\x02\x03"
    path.write_bytes(torn)
    assert scan(path)[1].offset == offsets[2]
    full[offsets[1] : offsets[1] + 12] = bytes(12)  # record 2's checksum and length zeroed; record 3 intact
    path.write_bytes(bytes(full))
    with pytest.raises(CorruptLog):
        scan(path)


def test_negative_length_at_the_tail_is_torn(tmp_path):
    """A garbage (negative) length at the end, nothing valid after it: a TornTail."""
    path, _ = write_log(tmp_path, 2, prealloc=0)
    path.write_bytes(path.read_bytes() + struct.pack(">qi", 5, -7))
    zxids, torn = scan(path)
    assert zxids == [1, 2] and "negative" in torn.reason


def test_torn_tail_truncate_makes_the_file_clean_and_appends_go_on(tmp_path):
    """TornTail.truncate() cuts the file there; it then reads clean and a new writer continues after it."""
    path, offsets = write_log(tmp_path, 3)
    with open(path, "r+b") as f:
        f.seek(offsets[2] + 14)
        f.write(bytes(offsets[3] - offsets[2]))
    _, torn = scan(path)
    torn.truncate()
    assert path.stat().st_size == offsets[2]
    assert scan(path) == ([1, 2], None)
    w = TxnLogWriter(tmp_path, prealloc_size=0)
    w.append(hdr(3), create("/again"))
    w.close()
    assert [(h.zxid, t.path) for h, t, _ in iter_txns(tmp_path)] == [(1, "/n1"), (2, "/n2"), (3, "/again")]


def test_iter_txns_raises_a_torn_tail_after_the_good_txns_unless_collected(tmp_path):
    """iter_txns yields every good txn, then raises the TornTail -- or appends it to the list it was given."""
    path, offsets = write_log(tmp_path, 3, prealloc=0)
    path.write_bytes(path.read_bytes()[: offsets[2] + 5])
    got = []
    with pytest.raises(TornTail):
        for h, _, _ in iter_txns(tmp_path):
            got.append(h.zxid)
    assert got == [1, 2]
    torn = []
    assert [h.zxid for h, _, _ in iter_txns(tmp_path, torn_tails=torn)] == [1, 2]
    assert len(torn) == 1 and torn[0].file == path


def test_torn_tail_in_an_older_file_is_skipped_like_zookeeper(tmp_path):
    """After a crash and a restart that did not repair, reading goes on with the next file; the tail is reported."""
    path, offsets = write_log(tmp_path, 3, prealloc=0)
    path.write_bytes(path.read_bytes()[: offsets[2] + 7])
    write_log(tmp_path, 2, start=3)
    reader = LogReader(tmp_path)
    assert [e.header.zxid for e in reader] == [1, 2, 3, 4]
    assert [t.file.name for t in reader.torn_tails] == ["log.1"]


def test_corrupt_log_aborts_a_directory_read(tmp_path):
    """Corruption anywhere in the files read raises CorruptLog from LogReader."""
    path, offsets = write_log(tmp_path, 3)
    with open(path, "r+b") as f:
        f.seek(offsets[1] + 5)
        f.write(b"\xff")
    with pytest.raises(CorruptLog):
        list(LogReader(tmp_path))


# --- truncation (Zab TRUNC) ----------------------------------------------------------------------


def test_truncate_log_keeps_txns_up_to_the_zxid_across_files(tmp_path):
    """truncate_log(z) keeps every txn <= z, cuts the file holding the next one, deletes later files."""
    w = TxnLogWriter(tmp_path, prealloc_size=4096)
    for z in range(1, 31):
        w.append(hdr(z), create("/a%d" % z))
        if z in (10, 20):
            w.roll()
    w.close()
    assert truncate_log(tmp_path, 14) == 14
    assert [p.name for p in list_log_files(tmp_path)] == ["log.1", "log.b"]
    assert [h.zxid for h, _, _ in iter_txns(tmp_path)] == list(range(1, 15))
    assert truncate_log(tmp_path, 10) == 10  # the file starting at 11 goes entirely
    assert [p.name for p in list_log_files(tmp_path)] == ["log.1"]
    assert truncate_log(tmp_path, 100) == 10  # nothing after it: nothing changes
    assert [h.zxid for h, _, _ in iter_txns(tmp_path)] == list(range(1, 11))
    w = TxnLogWriter(tmp_path, prealloc_size=0)  # and the log goes on from there
    w.append(hdr(11), create("/b"))
    w.close()
    assert last_logged_zxid(tmp_path) == 11


def test_truncate_log_without_files_fails(tmp_path):
    """As FileTxnLog.truncate: no log files is an error, not a silent no-op."""
    with pytest.raises(StorageError):
        truncate_log(tmp_path, 5)


def test_session_txns_round_trip(tmp_path):
    """createSession and closeSession records (with their paths) survive the file."""
    w = TxnLogWriter(tmp_path, prealloc_size=0)
    w.append(hdr(1, OpCode.CREATE_SESSION), CreateSessionTxn(30000), TxnDigest(2, 1))
    w.append(hdr(2, OpCode.CLOSE_SESSION), CloseSessionTxn(["/e1", "/e2"]), TxnDigest(2, 2))
    w.close()
    got = [(h.type, t) for h, t, _ in iter_txns(tmp_path)]
    assert got == [(OpCode.CREATE_SESSION, CreateSessionTxn(30000)),
                   (OpCode.CLOSE_SESSION, CloseSessionTxn(["/e1", "/e2"]))]
    assert os.path.getsize(tmp_path / "log.1") > 16


@pytest.mark.parametrize("prealloc", [0, 4096, 8192])
def test_a_batch_append_writes_what_appends_one_by_one_write(tmp_path, prealloc):
    """append_entries (the durable log's one write per batch) gives the same file, padding and size
    included, as append_entry per txn, whatever the batches and across preallocation steps."""
    import random

    rng = random.Random(prealloc)
    entries = [(marshal_entry(hdr(z), create("/n%d" % z, b"x" * rng.randrange(0, 3000))), z) for z in range(1, 301)]
    one, many = TxnLogWriter(tmp_path / "one", prealloc_size=prealloc), TxnLogWriter(tmp_path / "many",
                                                                                   prealloc_size=prealloc)
    for entry, zxid in entries:
        one.append_entry(entry, zxid)
    i = 0
    while i < len(entries):
        n = rng.randrange(0, 40)
        many.append_entries(entries[i:i + n])
        i += n
    one.commit()
    many.commit()
    a, b = (tmp_path / "one" / log_name(1)), (tmp_path / "many" / log_name(1))
    assert a.stat().st_size == b.stat().st_size
    assert a.read_bytes() == b.read_bytes()
    assert [e.header.zxid for e in read_log_file(b)[0]] == list(range(1, 301))
    with pytest.raises(ValueError):
        many.append_entries([(entries[5][0], 5)])  # zxids only go forward


class _QueueReactor:
    """callFromThread queues the call; the test runs the queue on its own thread."""

    def __init__(self):
        import queue

        self.calls = queue.Queue()

    def callFromThread(self, f, *args):
        self.calls.put((f, args))

    def run_until(self, cond, timeout=10.0):
        import queue
        import time

        deadline = time.monotonic() + timeout
        while not cond():
            try:
                f, args = self.calls.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("the log thread did not finish in time") from None
            f(*args)


@pytest.mark.parametrize("busy", [False, True])
def test_the_log_rolls_at_every_threshold_even_while_a_snapshot_is_written(tmp_path, caplog, busy):
    """SyncRequestProcessor's rule: past snapCount/2 + random(snapCount/2) txns the count restarts
    and the log rolls; a snapshot is started unless the previous one is still being written, which
    is then skipped. A snapshot that takes long therefore does not make the next one start as soon
    as it ends: snapshots stay as far apart as the count says, and the log files as short."""
    import logging
    import random

    from zkcompat.net.durable import DurableTxnLog
    from zkcompat.storage.txnlog import marshal_entry

    reactor = _QueueReactor()
    durable = DurableTxnLog(reactor, tmp_path, force_sync=False, snap_count=10, rng=random.Random(7))
    durable.writer.prealloc_size = 4096  # (reading back 64 MiB of padding per file takes seconds)
    snapshots = []

    def take_snapshot(sync=False):
        snapshots.append(durable.writer.last_zxid)
        durable._snapshot_running = busy  # busy: it never ends while this test runs

    durable.take_snapshot = take_snapshot
    rolls = []  # the last zxid of each rolled file
    roll = durable.writer.roll
    durable.writer.roll = lambda: (rolls.append(durable.writer.last_zxid), roll())
    done = []
    try:
        with caplog.at_level(logging.WARNING, logger="zkcompat.storage"):
            for z in range(1, 201):
                h = hdr(z)
                durable.append(h, create("/n%d" % z), lambda z=z: done.append(z), marshal_entry(h, create("/n%d" % z)))
                reactor.run_until(lambda z=z: len(done) == z)  # one txn per batch: a roll lands where it is due
    finally:
        durable.close()
    assert done == list(range(1, 201))
    gaps = [b - a for a, b in zip([0] + rolls, rolls)]
    assert len(rolls) >= 20 and all(6 <= g <= 10 for g in gaps)  # past 5 + random(5) txns, every time
    logs = [p.name for p in list_log_files(tmp_path / "version-2")]
    assert logs == ["log.%x" % (z + 1) for z in [0] + rolls if z < 200]
    skipped = [r for r in caplog.records if r.getMessage() == "Too busy to snap, skipping"]
    if busy:
        assert snapshots == rolls[:1] and len(skipped) == len(rolls) - 1
    else:
        assert snapshots == rolls and not skipped
    assert [h.zxid for h, _, _ in iter_txns(tmp_path / "version-2")] == list(range(1, 201))
