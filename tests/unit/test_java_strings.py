"""Strings as Java reads and writes them on the wire (BinaryInputArchive / BinaryOutputArchive)."""

import pytest

from protocol.jute import java_utf8, java_utf8_decode

# (input bytes, the UTF-16 code units JDK 17's new String(bytes, UTF_8) produced), printed by Java.
JAVA_DECODED = [
    ("eda0bdedb880", "fffd.fffd."),
    ("e08080", "fffd.fffd.fffd."),
    ("c3", "fffd."),
    ("f09f9880", "d83d.de00."),
    ("f09f98", "fffd."),
    ("f4908080", "fffd.fffd.fffd.fffd."),
    ("ff41", "fffd.0041."),
    ("e1", "fffd."),
    ("e180", "fffd."),
    ("c0af", "fffd.fffd."),
    ("fff1f1f5", "fffd.fffd.fffd.fffd."),
    ("90c1c0f5f49fa0", "fffd.fffd.fffd.fffd.fffd.fffd.fffd."),
    ("c080f1e0bf7fff", "fffd.fffd.fffd.fffd.007f.fffd."),
    ("bd9f41a0eff19f", "fffd.fffd.0041.fffd.fffd.fffd."),
    ("a09fc0a000f5", "fffd.fffd.fffd.fffd.0000.fffd."),
    ("41", "0041."),
    ("c1", "fffd."),
    ("a000", "fffd.0000."),
    ("f1e1f190c1f5c2", "fffd.fffd.fffd.fffd.fffd.fffd."),
    ("e0f400b87ff1", "fffd.fffd.0000.fffd.007f.fffd."),
    ("dff0ff7fbddf", "fffd.fffd.fffd.007f.fffd.fffd."),
    ("c2f5e0", "fffd.fffd.fffd."),
    ("7f", "007f."),
    ("80ef80e0ef", "fffd.fffd.fffd.fffd."),
    ("00", "0000."),
    ("b800c1c141f4ef", "fffd.0000.fffd.fffd.0041.fffd.fffd."),
    ("eff07f909fc1", "fffd.fffd.007f.fffd.fffd.fffd."),
    ("b8dfe17fe0e100", "fffd.fffd.fffd.007f.fffd.fffd.0000."),
    ("80bfc2bd", "fffd.fffd.00bd."),
    ("00", "0000."),
    ("f1", "fffd."),
    ("f4c0b8ffc1f1f5", "fffd.fffd.fffd.fffd.fffd.fffd.fffd."),
    ("bff0", "fffd.fffd."),
    ("ef80eff0c100", "fffd.fffd.fffd.fffd.0000."),
    ("90e000", "fffd.fffd.0000."),
    ("c0ef", "fffd.fffd."),
    ("a09f908041bfc1", "fffd.fffd.fffd.fffd.0041.fffd.fffd."),
    ("df00a0e1", "fffd.0000.fffd.fffd."),
    ("e0ef7f7f7fc190", "fffd.fffd.007f.007f.007f.fffd.fffd."),
    ("c200a0ededa0", "fffd.0000.fffd.fffd.fffd."),
]


def _units(s: str) -> str:
    out = []
    for c in s:
        o = ord(c)
        if o > 0xFFFF:
            o -= 0x10000
            out.append("%04x." % (0xD800 + (o >> 10)))
            out.append("%04x." % (0xDC00 + (o & 0x3FF)))
        else:
            out.append("%04x." % o)
    return "".join(out)


@pytest.mark.parametrize("hex_in,java_units", JAVA_DECODED)
def test_malformed_utf8_decodes_as_java_does(hex_in, java_units):
    """Each malformed byte sequence turns into the same U+FFFD count and characters as in Java."""
    assert _units(java_utf8_decode(bytes.fromhex(hex_in))) == java_units


def test_characters_beyond_the_bmp_are_written_as_two_surrogates():
    """writeString encodes each UTF-16 code unit on its own: an emoji becomes 6 bytes (CESU-8)."""
    assert java_utf8("/\U0001f600") == bytes.fromhex("2feda0bdedb880")
    assert java_utf8("/é") == "/é".encode()
    assert java_utf8_decode(java_utf8("a\U0001f600")) == "a\ufffd\ufffd"
