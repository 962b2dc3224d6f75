"""snappy-java's stream format, as ``zookeeper.snapshot.compression.method=snappy`` writes it.

Theory of operation
-------------------
SnappyOutputStream (xerial snappy-java) writes a 16-byte header -- the magic
``82 'SNAPPY' 00`` and two big-endian ints, version 1 and minimum compatible
version 1 -- then chunks: a big-endian int length and that many bytes of one
raw snappy block (each compressing up to 32 KiB of input).  A reader may meet
a second header where a chunk length is expected (concatenated streams).

A raw snappy block is a varint (little-endian base 128) of the uncompressed
length, then elements: a literal (tag & 3 == 0: length-1 in the tag's upper
six bits, or in 1-4 following little-endian bytes when they read 60-63) or a
back-reference copy (tag & 3 == 1, 2, 3: offsets of 11, 16 or 32 bits).

We decompress everything and compress with literals only: valid snappy that
any reader accepts (snapshots are not made smaller, which is not our aim).
"""

from __future__ import annotations

import struct
from typing import BinaryIO

MAGIC = b"\x82SNAPPY\x00"
HEADER = MAGIC + struct.pack(">ii", 1, 1)
BLOCK_SIZE = 32 * 1024
_I = struct.Struct(">i")


class SnappyError(ValueError):
    pass


def decompress_block(data: bytes) -> bytes:
    """Decode one raw snappy block."""
    n = len(data)
    pos = 0
    length = 0
    shift = 0
    while True:
        if pos >= n or shift > 32:
            raise SnappyError("bad snappy length varint")
        b = data[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    out = bytearray()
    while pos < n:
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:
            ln = tag >> 2
            if ln >= 60:
                extra = ln - 59
                if pos + extra > n:
                    raise SnappyError("truncated literal length")
                ln = int.from_bytes(data[pos : pos + extra], "little")
                pos += extra
            ln += 1
            if pos + ln > n:
                raise SnappyError("truncated literal")
            out += data[pos : pos + ln]
            pos += ln
            continue
        if kind == 1:
            if pos >= n:
                raise SnappyError("truncated copy")
            ln = 4 + ((tag >> 2) & 7)
            off = ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:
            if pos + 2 > n:
                raise SnappyError("truncated copy")
            ln = (tag >> 2) + 1
            off = int.from_bytes(data[pos : pos + 2], "little")
            pos += 2
        else:
            if pos + 4 > n:
                raise SnappyError("truncated copy")
            ln = (tag >> 2) + 1
            off = int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        if off == 0 or off > len(out):
            raise SnappyError("bad copy offset %d" % off)
        start = len(out) - off
        if off >= ln:
            out += out[start : start + ln]
        else:
            for i in range(ln):
                out.append(out[start + i])
    if len(out) != length:
        raise SnappyError("snappy block decodes to %d bytes, its header says %d" % (len(out), length))
    return bytes(out)


def compress_block(data: bytes) -> bytes:
    """A raw snappy block holding ``data`` as literals."""
    n = len(data)
    out = bytearray()
    v = n
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            break
    pos = 0
    while pos < n:
        ln = min(n - pos, 65536)
        if ln <= 60:
            out.append((ln - 1) << 2)
        else:
            out.append(61 << 2)
            out += (ln - 1).to_bytes(2, "little")
        out += data[pos : pos + ln]
        pos += ln
    return bytes(out)


class SnappyJavaReader:
    """A read-only file object over a snappy-java stream (what SnappyInputStream reads)."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        head = raw.read(len(HEADER))
        if head[: len(MAGIC)] != MAGIC or len(head) < len(HEADER):
            raise SnappyError("not a snappy-java stream (bad magic header)")
        self._buf = b""
        self._pos = 0
        self._eof = False

    def _fill(self) -> bool:
        while True:
            size_b = self.raw.read(4)
            if not size_b:
                self._eof = True
                return False
            if len(size_b) < 4:
                raise SnappyError("truncated snappy chunk length")
            if size_b == MAGIC[:4]:
                rest = self.raw.read(len(HEADER) - 4)
                if size_b + rest[: len(MAGIC) - 4] == MAGIC:
                    continue  # a concatenated stream's header
                raise SnappyError("bad snappy chunk")
            (size,) = _I.unpack(size_b)
            if size < 0:
                raise SnappyError("negative snappy chunk length")
            chunk = self.raw.read(size)
            if len(chunk) < size:
                raise SnappyError("truncated snappy chunk")
            self._buf = decompress_block(chunk)
            self._pos = 0
            if self._buf:
                return True

    def read(self, n: int = -1) -> bytes:
        parts = []
        want = n
        while want != 0:
            if self._pos >= len(self._buf) and (self._eof or not self._fill()):
                break
            take = len(self._buf) - self._pos if want < 0 else min(want, len(self._buf) - self._pos)
            parts.append(self._buf[self._pos : self._pos + take])
            self._pos += take
            if want > 0:
                want -= take
        return b"".join(parts)

    def close(self) -> None:
        self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SnappyJavaWriter:
    """A write-only file object producing a snappy-java stream; ``close()`` writes the last chunk."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.raw.write(HEADER)
        self._pending = bytearray()

    def write(self, b: bytes) -> int:
        self._pending += b
        while len(self._pending) >= BLOCK_SIZE:
            self._emit(bytes(self._pending[:BLOCK_SIZE]))
            del self._pending[:BLOCK_SIZE]
        return len(b)

    def _emit(self, block: bytes) -> None:
        c = compress_block(block)
        self.raw.write(_I.pack(len(c)) + c)

    def flush(self) -> None:
        if self._pending:
            self._emit(bytes(self._pending))
            self._pending = bytearray()
        self.raw.flush()

    def close(self) -> None:
        self.flush()
