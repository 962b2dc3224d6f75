"""ZooKeeper 3.8's transaction log files (``version-2/log.<zxid hex>``): write, read, repair.

Format (FileTxnLog, Util, SerializeUtils)
-----------------------------------------
::

    file   := FileHeader record* zeros*
    FileHeader := magic:int "ZKLG" (0x5A4B4C47)  version:int 2  dbid:long 0
    record := checksum:long  length:int  entry:byte[length]  'B'
    entry  := TxnHeader  txn?  TxnDigest?

- ``checksum`` is the Adler32 of ``entry`` (so its top four bytes are zero);
- the file is named after the zxid of its first record, in lower-case hex
  without leading zeros (``Long.toHexString``);
- ``txn`` is the record of the header's type (``CreateTxn``, ``MultiTxn``...);
  a closeSession written before 3.6 has none; a create written before 3.3 is a
  ``CreateTxnV0`` (read as a CreateTxn with parentCVersion -1);
- ``TxnDigest`` (version 2, tree digest after the txn, see ``digest.py``) is
  appended by 3.6+ servers when ``zookeeper.digest.enabled`` (the default):
  on every txn, createSession and closeSession included, *except* the error
  txns of failed requests (type -1 at top level; a failed multi has one).
  Nothing flags it: a reader takes it when at least 12 bytes remain after
  the txn, none otherwise;
- files are preallocated: before each record, when the write position is
  within 4 KiB of the allocated size, the file grows by 64 MiB of zeros (a new
  file is the 16-byte header plus 64 MiB).  A zero length (or a zero-filled
  rest) marks the end of the records.

Reading: outcomes (see ``errors.py``)
-------------------------------------
A file is read record by record.  At the first place where no complete, valid
record can be read:

- only zeros to the end of the file: the normal end (preallocation);
- a record that is complete (its length fits the file and ends in 'B') but
  whose checksum fails or that does not decode: ``CorruptLog`` (ZooKeeper
  refuses to start on it too: "CRC check failed");
- an incomplete record (runs past the end of the file, no 'B', a zero length
  before non-zero bytes, a negative length): ``TornTail`` when no valid record
  follows it in the file, else ``CorruptLog`` (ZooKeeper silently skips the
  rest of the file here; we refuse to lose those records).

A record whose written bytes are all zeros (a cut inside the checksum's top
four bytes, always zero) is indistinguishable from preallocation: the end.
A file shorter than its header, or holding only zeros, is a ``TornTail`` at
offset 0 (a crash right after creating it); a non-zero bad magic number is a
``CorruptLog``.  As in ZooKeeper, a torn tail in a file that is followed by
newer files (a crash, then a restart that did not repair) ends that file and
reading goes on with the next one; ``LogReader.torn_tails`` lists them all.

Writing
-------
``LogFileWriter`` writes the header and records to one open binary file and
preallocates as ZooKeeper does; ``TxnLogWriter`` manages the files of a
directory (a new ``log.<zxid>`` on the first append and after ``roll()``).
Neither decides when to sync: ``flush()`` hands buffered bytes to the OS and
``sync()`` also makes them durable (fdatasync) for every file written since
the last sync; the server calls them.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Iterator, NamedTuple

from protocol.jute import JuteError
from protocol.messages import MULTI_TXN_RECORDS, TXN_RECORDS  # noqa: F401  (TXN_RECORDS re-exported)
from protocol.quorum import decode_txn_entry, encode_txn_entry
from protocol.records import FileHeader, MultiTxn, TxnDigest, TxnHeader

from .errors import LOG_HEADER_SIZE, CorruptLog, StorageError, TornTail

TXNLOG_MAGIC = int.from_bytes(b"ZKLG", "big")
VERSION = 2
LOG_PREFIX = "log"
PREALLOC_SIZE = 64 * 1024 * 1024
WRITE_BUFFER = 1 << 20
PAD_THRESHOLD = 4096
EOR = 0x42  # 'B'
_REC_HEAD = struct.Struct(">qi")
_REC_OVERHEAD = _REC_HEAD.size + 1  # checksum, length, and the 'B' after the entry
_REC_HEAD_SIZE = _REC_HEAD.size  # 12
_DIGEST_SIZE = 12
_MAGIC_BYTES = b"ZKLG"
_NONZERO = re.compile(rb"[^\x00]")
_HEX_RE = re.compile(r"[+-]?[0-9a-fA-F]+\Z")
_DECODE_ERRORS = (JuteError, struct.error, ValueError, IndexError, TypeError, UnicodeError)
RESCUE_SCAN_LIMIT = 1 << 20  # candidate offsets examined when deciding torn vs corrupt

# --- names -------------------------------------------------------------------------------


def _hex(zxid: int) -> str:
    return "%x" % (zxid & 0xFFFFFFFFFFFFFFFF)


def log_name(zxid: int) -> str:
    """Util.makeLogName: ``log.<Long.toHexString(zxid)>``."""
    return "%s.%s" % (LOG_PREFIX, _hex(zxid))


def zxid_from_name(name: str, prefix: str) -> int:
    """Util.getZxidFromName: the hex zxid after ``prefix.``, or -1 when the name is not one of ours."""
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] == prefix and _HEX_RE.match(parts[1]):
        v = int(parts[1], 16)
        if -(1 << 63) <= v < (1 << 63):
            return v
    return -1


def list_log_files(log_dir) -> list[Path]:
    """Every ``log.*`` file of ``log_dir`` with a parseable zxid, oldest first."""
    d = Path(log_dir)
    if not d.is_dir():
        return []
    out = [(zxid_from_name(p.name, LOG_PREFIX), p.name, p) for p in d.iterdir()]
    return [p for z, _, p in sorted(x for x in out if x[0] >= 0) if p.is_file()]


def logs_from(files: list[Path], zxid: int) -> list[Path]:
    """FileTxnLog.getLogFiles: the newest file starting at or before ``zxid`` and every later one."""
    start = 0
    for f in files:
        fz = zxid_from_name(f.name, LOG_PREFIX)
        if fz > zxid:
            break
        start = max(start, fz)
    return [f for f in files if zxid_from_name(f.name, LOG_PREFIX) >= start]


# --- records -----------------------------------------------------------------------------


def marshal_entry(hdr: TxnHeader, txn, digest: TxnDigest | None = None) -> bytes:
    """Util.marshallTxnEntry: TxnHeader, then the txn record (if any), then the digest (if any)."""
    return encode_txn_entry(hdr, txn, digest)


def unmarshal_entry(data: bytes) -> tuple[TxnHeader, Any, TxnDigest | None]:
    """SerializeUtils.deserializeTxn; raises JuteError when ``data`` is not a txn."""
    entry = decode_txn_entry(data)
    return entry.hdr, entry.txn, entry.digest


def frame_record(entry: bytes) -> bytes:
    """checksum, length, entry, 'B': one record as it sits in the file."""
    return _REC_HEAD.pack(zlib.adler32(entry), len(entry)) + entry + b"B"


def decode_multi(multi: MultiTxn) -> list[tuple[int, Any]]:
    """The (type, record) of every op of a MultiTxn, as DataTree.processTxn decodes them."""
    out = []
    for sub in multi.txns:
        cls = MULTI_TXN_RECORDS.get(sub.type)
        if cls is None:
            raise ValueError("invalid type of op %d in multi txn" % sub.type)
        out.append((sub.type, cls.from_bytes(sub.data, exact=False)))
    return out


def padded_size(position: int, file_size: int, prealloc_size: int = PREALLOC_SIZE) -> int:
    """FilePadding.calculateFileSizeWithPadding: the file size to grow to before writing at ``position``."""
    if prealloc_size > 0 and position + PAD_THRESHOLD >= file_size:
        if position > file_size:
            file_size = position + prealloc_size
            file_size -= file_size % prealloc_size
        else:
            file_size += prealloc_size
    return file_size


class LogEntry(NamedTuple):
    header: TxnHeader
    txn: Any
    digest: TxnDigest | None
    file: Path
    offset: int  # of the record's checksum
    end: int  # just past its 'B'


# --- reading one file --------------------------------------------------------------------


class LogFile:
    """One log file, read lazily.

    Iterating yields its valid records as ``LogEntry``s and raises ``CorruptLog``
    where the file is damaged.  Once exhausted, ``end`` is the offset where the
    records stop and ``torn`` the ``TornTail`` found there, if any.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.header: FileHeader | None = None
        self.end: int | None = None
        self.torn: TornTail | None = None
        self.count = 0

    def __iter__(self) -> Iterator[LogEntry]:
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                self.end = 0
                self.torn = TornTail(self.path, 0, "empty log file (its header was never written)")
                return
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                yield from self._scan(mm, size)
            finally:
                mm.close()

    def _scan(self, mm, size: int) -> Iterator[LogEntry]:
        path = self.path
        if size < LOG_HEADER_SIZE:
            head = mm[:size]
            if _MAGIC_BYTES.startswith(head[:4]) or first_nonzero(head, 0) is None:
                self.end = 0
                self.torn = TornTail(path, 0, "truncated file header (%d of %d bytes)" % (size, LOG_HEADER_SIZE))
                return
            raise CorruptLog(path, 0, "bad magic %r (expected 'ZKLG')" % bytes(head[:4]))
        self.header = FileHeader.from_bytes(mm[:LOG_HEADER_SIZE])
        if self.header.magic != TXNLOG_MAGIC:
            if first_nonzero(mm, 0) is None:
                self.end = 0
                self.torn = TornTail(path, 0, "log file holds only zeros (its header was never written)")
                return
            raise CorruptLog(path, 0, "bad magic %r (expected 'ZKLG')" % bytes(mm[:4]))
        pos = LOG_HEADER_SIZE
        while True:
            damage = None  # why no valid record starts at pos
            complete = False  # the damaged record is complete in bytes
            if pos + _REC_HEAD_SIZE > size:
                if pos == size or first_nonzero(mm, pos) is None:
                    self.end = pos
                    return
                damage = "record header runs past the end of the file"
            else:
                crc, n = _REC_HEAD.unpack_from(mm, pos)
                if n == 0:
                    if first_nonzero(mm, pos) is None:
                        self.end = pos
                        return
                    damage = "zero-length record followed by non-zero bytes"
                elif n < 0:
                    damage = "negative record length %d" % n
                elif pos + _REC_HEAD_SIZE + n + 1 > size:
                    damage = "record of %d bytes runs past the end of the file" % n
                elif mm[pos + _REC_HEAD_SIZE + n] != EOR:
                    damage = "end-of-record marker missing"
                else:
                    complete = True
                    entry = mm[pos + _REC_HEAD_SIZE : pos + _REC_HEAD_SIZE + n]
                    if zlib.adler32(entry) != crc:
                        damage = "checksum mismatch (stored 0x%x, computed 0x%x)" % (
                            crc & 0xFFFFFFFFFFFFFFFF,
                            zlib.adler32(entry),
                        )
                    else:
                        try:
                            hdr, txn, digest = unmarshal_entry(entry)
                        except _DECODE_ERRORS as e:
                            damage = "undecodable txn: %s" % e
                        else:
                            end = pos + _REC_HEAD_SIZE + n + 1
                            self.count += 1
                            yield LogEntry(hdr, txn, digest, path, pos, end)
                            pos = end
                            continue
            self.end = pos
            if complete:
                raise CorruptLog(path, pos, damage)
            later = find_valid_record(mm, pos + 1, size)
            if later is None:
                self.torn = TornTail(path, pos, damage)
                return
            if later < 0:
                raise CorruptLog(path, pos, damage + "; too much data after it to prove no valid record follows")
            raise CorruptLog(path, pos, damage + "; valid records follow at offset %d" % later)


_ZERO_CHUNK = bytes(1 << 20)


def first_nonzero(buf, start: int, end: int | None = None) -> int | None:
    """The offset of the first non-zero byte of ``buf[start:end]``, or None (memcmp speed on zeros)."""
    end = len(buf) if end is None else end
    pos = start
    while pos < end:
        stop = min(end, pos + len(_ZERO_CHUNK))
        chunk = buf[pos:stop]
        if chunk != _ZERO_CHUNK[: stop - pos]:
            m = _NONZERO.search(chunk)
            return pos + m.start()
        pos = stop
    return None


def _valid_record_at(mm, p: int, size: int) -> bool:
    if p + _REC_HEAD_SIZE > size:
        return False
    crc, n = _REC_HEAD.unpack_from(mm, p)
    if crc <= 0 or crc > 0xFFFFFFFF or n <= 0 or p + _REC_HEAD_SIZE + n + 1 > size:
        return False
    if mm[p + _REC_HEAD_SIZE + n] != EOR:
        return False
    entry = mm[p + _REC_HEAD_SIZE : p + _REC_HEAD_SIZE + n]
    if zlib.adler32(entry) != crc:
        return False
    try:
        unmarshal_entry(entry)
    except _DECODE_ERRORS:
        return False
    return True


def find_valid_record(mm, start: int, size: int) -> int | None:
    """The offset of the first complete, valid record at or after ``start``; None if there is none.

    A record's checksum is a 32-bit value in a long, so one of the 4 bytes at
    p+4..p+7 is non-zero: only offsets near non-zero bytes are candidates.
    Returns -1 when more than RESCUE_SCAN_LIMIT candidates would have to be
    examined (the caller then stays on the safe side).
    """
    examined = 0
    last = start - 1
    pos = start
    while True:
        a = first_nonzero(mm, pos, size)
        if a is None:
            return None
        b = mm.find(b"\x00", a)
        b = size if b == -1 else b
        for p in range(max(a - 7, last + 1, start), b - 3):
            examined += 1
            if examined > RESCUE_SCAN_LIMIT:
                return -1
            if _valid_record_at(mm, p, size):
                return p
        last = max(last, b - 4)
        pos = b


def read_log_file(path) -> tuple[list[LogEntry], TornTail | None]:
    """All records of one file and its torn tail, if any (raises CorruptLog)."""
    lf = LogFile(path)
    entries = list(lf)
    return entries, lf.torn


def read_file_header(path) -> FileHeader:
    with open(path, "rb") as f:
        raw = f.read(LOG_HEADER_SIZE)
    if len(raw) < LOG_HEADER_SIZE:
        raise TornTail(path, 0, "truncated file header (%d of %d bytes)" % (len(raw), LOG_HEADER_SIZE))
    return FileHeader.from_bytes(raw)


# --- reading a directory -----------------------------------------------------------------


class LogReader:
    """The txns of a log directory from ``from_zxid`` on, oldest first, as FileTxnIterator reads them.

    Iterating yields ``LogEntry``s with zxid >= ``from_zxid`` (all records are
    checked, skipped ones too) and raises ``CorruptLog``.  Torn tails do not
    stop the iteration: reading goes on with the next file, and each one is
    appended to ``torn_tails`` (check it afterwards; nothing is dropped
    silently).
    """

    def __init__(self, log_dir, from_zxid: int = 0):
        self.log_dir = Path(log_dir)
        self.from_zxid = from_zxid
        self.files = logs_from(list_log_files(self.log_dir), from_zxid)
        self.torn_tails: list[TornTail] = []
        self.last_zxid: int | None = None
        self.count = 0

    def __iter__(self) -> Iterator[LogEntry]:
        for path in self.files:
            lf = LogFile(path)
            for entry in lf:
                zxid = entry.header.zxid
                self.last_zxid = zxid
                if zxid < self.from_zxid:
                    continue
                self.count += 1
                yield entry
            if lf.torn is not None:
                self.torn_tails.append(lf.torn)


def iter_txns(log_dir, from_zxid: int = 0, torn_tails: list | None = None):
    """Yield ``(TxnHeader, txn, TxnDigest or None)`` for every txn with zxid >= ``from_zxid``.

    Raises ``CorruptLog`` on damage.  A ``TornTail`` is appended to
    ``torn_tails`` when a list is given, and raised (after every valid txn
    before it was yielded) when it is not.
    """
    reader = LogReader(log_dir, from_zxid)
    seen = 0
    for entry in reader:
        while seen < len(reader.torn_tails):
            _torn(reader.torn_tails[seen], torn_tails)
            seen += 1
        yield entry.header, entry.txn, entry.digest
    while seen < len(reader.torn_tails):
        _torn(reader.torn_tails[seen], torn_tails)
        seen += 1


def _torn(t: TornTail, sink: list | None) -> None:
    if sink is None:
        raise t
    sink.append(t)


def last_logged_zxid(log_dir) -> int:
    """FileTxnLog.getLastLoggedZxid: the zxid of the last valid record, -1 when there is none."""
    files = list_log_files(log_dir)
    if not files:
        return -1
    last = -1
    for path in reversed(files):
        for entry in LogFile(path):
            last = entry.header.zxid
        if last != -1:
            return last
    return zxid_from_name(files[-1].name, LOG_PREFIX)


# --- repairing ---------------------------------------------------------------------------


def truncate_log(log_dir, zxid: int) -> int | None:
    """Remove every txn after ``zxid`` (Zab's TRUNC; FileTxnLog.truncate keeps ``zxid`` itself).

    The file holding the first later txn is cut just before it; files that
    start after ``zxid`` are deleted.  Returns the zxid of the last txn kept
    (None if none is).  Raises ``CorruptLog`` if damage precedes the cut.
    """
    files = list_log_files(log_dir)
    if not files:
        raise StorageError("no log files found to truncate in %s" % log_dir)
    last_kept = None
    cut = False  # once a file was cut, every later file goes
    for path in files:
        if cut or zxid_from_name(path.name, LOG_PREFIX) > zxid:
            os.unlink(path)
            cut = True
            continue
        it = iter(LogFile(path))
        cut_at = None
        try:
            for entry in it:
                if entry.header.zxid > zxid:
                    cut_at = entry.offset
                    break
                last_kept = entry.header.zxid
        finally:
            it.close()
        if cut_at is not None:
            _truncate_file(path, cut_at)
            cut = True
    _fsync_dir(log_dir)
    return last_kept


def _truncate_file(path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(offset)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(d) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- writing -----------------------------------------------------------------------------


def _fdatasync(fd: int) -> None:
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


class LogFileWriter:
    """Writes one log file to an open binary file object: the header now, then records.

    ``prealloc_size`` 0 disables preallocation (also when the file object has
    no ``fileno``, e.g. BytesIO, padding is written with seek/write).
    """

    def __init__(self, fobj: BinaryIO, *, dbid: int = 0, prealloc_size: int = PREALLOC_SIZE):
        self.fobj = fobj
        self.prealloc_size = prealloc_size
        header = FileHeader(TXNLOG_MAGIC, VERSION, dbid).to_bytes()
        fobj.write(header)
        fobj.flush()  # the magic number goes out before any padding, as in ZooKeeper
        self.position = len(header)
        self.allocated = self.position
        self.last_zxid: int | None = None

    def append(self, hdr: TxnHeader, txn, digest: TxnDigest | None = None) -> int:
        """Append one txn; returns the offset of its record."""
        return self.append_entry(marshal_entry(hdr, txn, digest), hdr.zxid)

    def append_entry(self, entry: bytes, zxid: int | None = None) -> int:
        """Append one already marshalled entry (TxnHeader + txn + digest bytes)."""
        if not entry:
            raise ValueError("empty txn entry")
        if zxid is not None:
            if self.last_zxid is not None and zxid <= self.last_zxid:
                raise ValueError("zxid 0x%x is not after 0x%x" % (zxid, self.last_zxid))
            self.last_zxid = zxid
        self._pad()
        offset = self.position
        rec = frame_record(entry)
        self.fobj.write(rec)
        self.position += len(rec)
        return offset

    def append_entries(self, items) -> None:
        """Append marshalled entries, ``(entry, zxid)`` pairs, in one write: the same bytes and the
        same file size as ``append_entry`` for each (the padding is worked out record by record)."""
        position = self.position
        allocated = self.allocated
        prealloc = self.prealloc_size
        last = self.last_zxid
        parts = []
        append = parts.append
        pack_head = _REC_HEAD.pack
        adler32 = zlib.adler32
        for entry, zxid in items:
            if not entry:
                raise ValueError("empty txn entry")
            if zxid is not None:
                if last is not None and zxid <= last:
                    raise ValueError("zxid 0x%x is not after 0x%x" % (zxid, last))
                last = zxid
            if prealloc > 0 and position + PAD_THRESHOLD >= allocated:
                allocated = padded_size(position, allocated, prealloc)
            append(pack_head(adler32(entry), len(entry)))
            append(entry)
            append(b"B")
            position += len(entry) + _REC_OVERHEAD
        self._grow_to(allocated)
        self.fobj.write(b"".join(parts))
        self.position = position
        self.last_zxid = last

    def _pad(self) -> None:
        self._grow_to(padded_size(self.position, self.allocated, self.prealloc_size))

    def _grow_to(self, new_size: int) -> None:
        if new_size == self.allocated:
            return
        self.fobj.flush()
        try:
            fd = self.fobj.fileno()
        except (AttributeError, OSError, ValueError):
            fd = None
        if fd is not None:
            os.pwrite(fd, b"\0", new_size - 1)
        else:
            here = self.fobj.tell()
            self.fobj.seek(new_size - 1)
            self.fobj.write(b"\0")
            self.fobj.seek(here)
        self.allocated = new_size

    def flush(self) -> None:
        self.fobj.flush()

    def sync(self) -> None:
        self.fobj.flush()
        _fdatasync(self.fobj.fileno())

    def close(self) -> None:
        self.fobj.close()


class TxnLogWriter:
    """The writing side of a log directory, as FileTxnLog: files, rolls and syncs; no policy."""

    def __init__(self, log_dir, *, dbid: int = 0, prealloc_size: int = PREALLOC_SIZE, sync_dir: bool = True):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.dbid = dbid
        self.prealloc_size = prealloc_size
        # a new file's directory entry is synced when it is created; False under forceSync=no,
        # where nothing is synced (ZooKeeper never syncs the directory)
        self.sync_dir = sync_dir
        self.current: LogFileWriter | None = None
        self.current_path: Path | None = None
        self._unsynced: list[LogFileWriter] = []  # rolled files not yet synced (streamsToFlush)
        self.last_zxid: int | None = None

    def append(self, hdr: TxnHeader, txn, digest: TxnDigest | None = None) -> None:
        self.append_entry(marshal_entry(hdr, txn, digest), hdr.zxid)

    def append_entry(self, entry: bytes, zxid: int) -> None:
        if self.last_zxid is not None and zxid <= self.last_zxid:
            raise ValueError("zxid 0x%x is not after 0x%x" % (zxid, self.last_zxid))
        if self.current is None:
            self._open(zxid)
        self.current.append_entry(entry, zxid)
        self.last_zxid = zxid

    def append_entries(self, items: list[tuple[bytes, int]]) -> None:
        """Append ``(entry, zxid)`` pairs, in zxid order, to the current file in one write."""
        if not items:
            return
        first = items[0][1]
        if self.last_zxid is not None and first <= self.last_zxid:
            raise ValueError("zxid 0x%x is not after 0x%x" % (first, self.last_zxid))
        if self.current is None:
            self._open(first)
        self.current.append_entries(items)
        self.last_zxid = items[-1][1]

    def _open(self, zxid: int) -> None:
        path = self.log_dir / log_name(zxid)
        if path.exists():
            # ZooKeeper overwrites; we only do so when the file holds no record (a crash right after creating it).
            try:
                entries, _ = read_log_file(path)
            except CorruptLog:
                entries = [None]
            if entries:
                raise StorageError("%s already exists and holds records" % path)
        # a batch goes to the kernel in one write at its sync, not in 8 KiB pieces
        fobj = open(path, "wb", buffering=WRITE_BUFFER)
        self.current = LogFileWriter(fobj, dbid=self.dbid, prealloc_size=self.prealloc_size)
        self.current_path = path
        self._unsynced.append(self.current)
        if self.sync_dir:
            _fsync_dir(self.log_dir)

    def roll(self) -> None:
        """Finish the current file: the next append starts a new one (it is synced at the next sync)."""
        if self.current is not None:
            self.current.flush()
            self.current = None
            self.current_path = None

    def commit(self, sync: bool = True) -> None:
        """FileTxnLog.commit: flush (and, if ``sync``, fdatasync) every file written since the
        last commit, then close the rolled ones: synced or not, a rolled file gets no more writes."""
        for w in self._unsynced:
            if sync:
                w.sync()
            else:
                w.flush()
        for w in self._unsynced:
            if w is not self.current:
                w.close()
        self._unsynced = [self.current] if self.current is not None else []

    def close(self) -> None:
        for w in self._unsynced:
            w.flush()
            w.close()
        self._unsynced = []
        self.current = None
        self.current_path = None
