"""The typed outcomes of reading ZooKeeper's on-disk files.

Every way a data dir can be damaged maps to exactly one of these, carrying the
file and byte offset, so callers decide what to do and nothing is lost
silently:

- ``TornTail``: the end of a transaction log file holds an incomplete record
  (a crash mid-write: the record runs past the end of the file, or its
  end-of-record byte was never written), or a log file whose header was never
  completely written.  Nothing after it in that file is valid, so it is safe to
  cut the file there: ``TornTail.truncate()`` does so.
- ``CorruptLog``: damage that a crash cannot explain, or that would lose
  records if cut (a bad checksum, an undecodable record, a bad magic number,
  an incomplete record followed by valid ones).  Never repaired automatically.
- ``CorruptSnapshot``: a snapshot that cannot be used (bad magic, bad checksum,
  truncated, inconsistent tree); loaders fall back to an older snapshot.
- ``UnsupportedSnapshot``: a snapshot we recognise but cannot read (a
  compression method that is not implemented).
"""

from __future__ import annotations

import os
from pathlib import Path

LOG_HEADER_SIZE = 16  # FileHeader: magic int, version int, dbid long


class StorageError(Exception):
    """Base of every storage outcome that is raised."""


class LogError(StorageError):
    """A problem at a byte offset of one transaction log file."""

    def __init__(self, file, offset: int, reason: str):
        self.file = Path(file)
        self.offset = offset
        self.reason = reason
        super().__init__("%s at offset %d: %s" % (self.file, offset, reason))


class TornTail(LogError):
    """An incomplete last record (or header) of a log file: a crash mid-write; cut at ``offset``."""

    def truncate(self) -> None:
        """Cut the file at ``offset``; a file with no complete header is removed altogether."""
        if self.offset < LOG_HEADER_SIZE:
            try:
                os.unlink(self.file)
            except FileNotFoundError:
                pass
            return
        with open(self.file, "r+b") as f:
            f.truncate(self.offset)
            f.flush()
            os.fsync(f.fileno())


class CorruptLog(LogError):
    """Damage in a log file that must not be cut away silently."""


class CorruptSnapshot(StorageError):
    def __init__(self, file, offset: int | None, reason: str):
        self.file = Path(file) if file is not None else None
        self.offset = offset
        self.reason = reason
        where = "" if offset is None else " at offset %d" % offset
        super().__init__("%s%s: %s" % (self.file or "<snapshot>", where, reason))


class UnsupportedSnapshot(CorruptSnapshot):
    """A snapshot in a format we recognise but do not read (e.g. snappy compression)."""
