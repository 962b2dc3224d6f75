"""The generated fast codecs agree with the construct declarations they come from."""

from __future__ import annotations

import construct
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import jute, records
from protocol.jute import JuteError

INT = st.integers(-(2**31), 2**31 - 1)
LONG = st.integers(-(2**63), 2**63 - 1)
# BMP text: like Java, we write characters beyond the BMP as CESU-8, which UTF-8 decoding does not read back
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0xFFFF), max_size=20)


def _strategy(t):
    if t is jute.Int:
        return INT
    if t is jute.Long:
        return LONG
    if t is jute.Bool:
        return st.booleans()
    if t is jute.Buffer:
        return st.none() | st.binary(max_size=40)
    if t is jute.UString:
        return st.none() | TEXT
    if isinstance(t, jute.Vector):
        return st.none() | st.lists(_strategy(t.elem), max_size=4)
    if isinstance(t, jute.Nested):
        return record_strategy(t.record_cls)
    raise AssertionError(t)


def record_strategy(cls):
    return st.builds(cls, *[_strategy(t) for t in cls.types])


@pytest.mark.parametrize("cls", records.ALL_RECORDS, ids=lambda c: c.name)
def test_fast_codec_equals_construct(cls):
    """For random values of every record, generated encode/decode == construct build/parse."""

    @settings(max_examples=60, deadline=None)
    @given(record_strategy(cls))
    def check(obj):
        fast = cls.encode(obj)
        assert fast == cls.construct.build(obj.to_container())
        decoded, pos = cls.decode(fast, 0)
        assert pos == len(fast)
        assert decoded == obj
        assert cls.from_container(cls.construct.parse(fast)) == obj
        # with trailing bytes the record still decodes and stops where it ends
        decoded2, pos2 = cls.decode(fast + b"\x01\x02", 0)
        assert decoded2 == obj and pos2 == len(fast)

    check()


@pytest.mark.parametrize("cls", records.ALL_RECORDS, ids=lambda c: c.name)
def test_every_truncation_is_a_jute_error(cls):
    """Any strict prefix of an encoded record fails with JuteError, never another exception."""
    obj = cls(*[_example(t) for t in cls.types])
    data = cls.encode(obj)
    for cut in range(len(data)):
        with pytest.raises(JuteError):
            cls.from_bytes(data[:cut])
        with pytest.raises(construct.ConstructError):
            cls.construct.parse(data[:cut])


def _example(t):
    if t is jute.Int:
        return 7
    if t is jute.Long:
        return -5
    if t is jute.Bool:
        return True
    if t is jute.Buffer:
        return b"ab"
    if t is jute.UString:
        return "/p"
    if isinstance(t, jute.Vector):
        return [_example(t.elem)]
    return t.record_cls(*[_example(x) for x in t.record_cls.types])


def test_jute_null_and_negative_lengths():
    """-1 means null for buffers, strings and vectors; other negative vector counts mean empty."""
    assert records.GetDataResponse.from_bytes(b"\xff\xff\xff\xff" + bytes(68)).data is None
    assert records.SyncRequest.from_bytes(b"\xff\xff\xff\xff").path is None
    assert records.GetChildrenResponse.from_bytes(b"\xff\xff\xff\xff").children is None
    assert records.GetChildrenResponse.from_bytes(b"\xff\xff\xff\xfb").children == []
    with pytest.raises(JuteError):
        records.SyncRequest.from_bytes(b"\xff\xff\xff\xfe")


def test_malformed_utf8_decodes_like_java():
    """Invalid UTF-8 in a ustring becomes U+FFFD, as new String(bytes, UTF_8) does."""
    assert records.SyncRequest.from_bytes(b"\x00\x00\x00\x02/\xff").path == "/\ufffd"


def test_bool_reads_any_nonzero_byte_as_true():
    """Java's readBoolean: any non-zero byte is true; true is written as 1."""
    rec = records.GetDataRequest.from_bytes(b"\x00\x00\x00\x01/\x07")
    assert rec.watch is True
    assert rec.to_bytes()[-1:] == b"\x01"
