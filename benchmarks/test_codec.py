"""Micro-benchmarks of the jute codec on the records of the hot path (``pytest benchmarks/ --benchmark-only``).

Each case first checks its round trip, so a benchmark never times a codec that is wrong.
"""

from __future__ import annotations

from protocol import records
from protocol.codes import OpCode

OPEN_ACL = [records.ACL(31, records.Id("world", "anyone"))]
STAT = records.Stat(czxid=0x100000002, mzxid=0x100000007, ctime=1700000000000, mtime=1700000000500, version=3,
                    cversion=0, aversion=0, ephemeral_owner=0, data_length=1024, num_children=0,
                    pzxid=0x100000002)


def _decode_all(data: bytes, *classes):
    pos = 0
    out = []
    for cls in classes:
        rec, pos = cls.decode(data, pos)
        out.append(rec)
    assert pos == len(data)
    return out


def test_encode_get_data_request(benchmark):
    hdr = records.RequestHeader(42, OpCode.GET_DATA)
    req = records.GetDataRequest("/zkbench/some/node", True)
    data = benchmark(lambda: hdr.to_bytes() + req.to_bytes())
    assert _decode_all(data, records.RequestHeader, records.GetDataRequest) == [hdr, req]


def test_decode_get_data_request(benchmark):
    hdr = records.RequestHeader(42, OpCode.GET_DATA)
    req = records.GetDataRequest("/zkbench/some/node", True)
    data = hdr.to_bytes() + req.to_bytes()
    assert benchmark(_decode_all, data, records.RequestHeader, records.GetDataRequest) == [hdr, req]


def test_encode_get_data_response(benchmark):
    hdr = records.ReplyHeader(42, 0x100000007, 0)
    resp = records.GetDataResponse(b"x" * 1024, STAT)
    data = benchmark(lambda: hdr.to_bytes() + resp.to_bytes())
    assert _decode_all(data, records.ReplyHeader, records.GetDataResponse) == [hdr, resp]


def test_decode_get_data_response(benchmark):
    hdr = records.ReplyHeader(42, 0x100000007, 0)
    resp = records.GetDataResponse(b"x" * 1024, STAT)
    data = hdr.to_bytes() + resp.to_bytes()
    assert benchmark(_decode_all, data, records.ReplyHeader, records.GetDataResponse) == [hdr, resp]


def test_encode_create_request(benchmark):
    req = records.CreateRequest("/zkbench/c123456", b"x" * 1024, OPEN_ACL, 0)
    data = benchmark(req.to_bytes)
    assert records.CreateRequest.from_bytes(data) == req


def test_decode_create_request(benchmark):
    req = records.CreateRequest("/zkbench/c123456", b"x" * 1024, OPEN_ACL, 0)
    data = req.to_bytes()
    assert benchmark(records.CreateRequest.from_bytes, data) == req
