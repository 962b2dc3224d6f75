"""Framing: frames split across and packed into reads, and the length limit."""

import pytest

from protocol.framing import FrameDecoder, FrameError, frame


def test_frames_split_at_every_byte_boundary():
    """A stream cut at any point yields the same frames."""
    stream = frame(b"hello") + frame(b"") + frame(b"x" * 300)
    for cut in range(len(stream) + 1):
        d = FrameDecoder()
        got = d.feed(stream[:cut]) + d.feed(stream[cut:])
        assert got == [b"hello", b"", b"x" * 300]
        assert d.buffered_bytes == 0


def test_length_above_maximum_or_negative_is_an_error():
    """Lengths above jute.maxbuffer or below zero are refused before any body arrives."""
    d = FrameDecoder(10)
    assert d.feed(frame(b"x" * 10)) == [b"x" * 10]
    with pytest.raises(FrameError):
        d.feed(b"\x00\x00\x00\x0b")
    with pytest.raises(FrameError):
        FrameDecoder(10).feed(b"\xff\xff\xff\xff")
