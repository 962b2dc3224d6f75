"""Length-prefixed framing of the ZooKeeper client and quorum streams, sans-IO.

Every packet, in both directions, is a big-endian int32 length followed by that
many bytes.  A receiver refuses a length below zero or above jute.maxbuffer
(NIOServerCnxn.readLength: "Len error"), which ends the connection.

``FrameDecoder.feed(data)`` returns the complete frames that ``data`` finishes;
partial input is kept until the rest arrives.  The buffer never holds more than
one partial frame plus its 4-byte prefix, so its size is bounded by
``frame_bytes_max + 4``.
"""

from __future__ import annotations

import struct

from .codes import JUTE_MAXBUFFER_DEFAULT

_LEN = struct.Struct(">i")


class FrameError(ValueError):
    """The peer sent a length prefix that ZooKeeper refuses."""

    def __init__(self, length: int, frame_bytes_max: int):
        super().__init__(
            "Len error: advertised length %d is malformed or larger than jute.maxbuffer=%d" % (length, frame_bytes_max)
        )
        self.length = length


def frame(body: bytes) -> bytes:
    return _LEN.pack(len(body)) + body


class FrameDecoder:
    """Splits a stream into frames.  Frames complete before a bad length prefix are
    still returned; the bad prefix is then reported in ``error`` (and raised by the
    next ``feed``), so a peer's good requests are answered before it is cut off."""

    __slots__ = ("frame_bytes_max", "_buf", "error")

    def __init__(self, frame_bytes_max: int = JUTE_MAXBUFFER_DEFAULT):
        self.frame_bytes_max = frame_bytes_max
        self._buf = b""
        self.error: FrameError | None = None

    @property
    def buffered_bytes(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        if self.error is not None:
            raise self.error
        buf = self._buf + data if self._buf else data
        frames = []
        pos = 0
        end = len(buf)
        limit = self.frame_bytes_max
        unpack = _LEN.unpack_from
        while end - pos >= 4:
            (n,) = unpack(buf, pos)
            if n < 0 or n > limit:
                self._buf = b""
                self.error = FrameError(n, limit)
                if not frames:
                    raise self.error
                return frames
            if end - pos - 4 < n:
                break
            frames.append(buf[pos + 4 : pos + 4 + n])
            pos += 4 + n
        self._buf = buf[pos:] if pos < end else b""
        return frames
