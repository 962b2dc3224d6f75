"""Micro-benchmarks of a whole request through the core (``ZooKeeperServer``) without sockets.

A frame goes in through ``Connection.data_received`` and the reply comes out of ``flush``
into a fake transport, as ``tests/unit/corekit.py`` drives the core: decoding, the per-session
queue, prep, apply (for create), the reply's encoding and framing are all timed.
"""

from __future__ import annotations

import itertools
import struct

import pytest

from protocol import records
from protocol.codes import OpCode
from protocol.framing import frame
from tests.unit.corekit import CoreClient, make_server

OPEN_ACL = [records.ACL(31, records.Id("world", "anyone"))]
VALUE = b"x" * 1024
_REPLY = struct.Struct(">iiqi")  # frame length, xid, zxid, err


def _client():
    server, _clock = make_server()
    client = CoreClient(server).connect()
    assert client.create("/b", b"")[0] == 0
    assert client.create("/b/n", VALUE)[0] == 0
    return server, client


def _one_request(server, client, data: bytes) -> bytes:
    start = len(client.transport.data)
    client.conn.data_received(data)
    server.flush()
    return bytes(client.transport.data[start:])


def test_core_get_data(benchmark):
    server, client = _client()
    data = frame(records.RequestHeader(1000, OpCode.GET_DATA).to_bytes()
                 + records.GetDataRequest("/b/n", False).to_bytes())
    out = benchmark(_one_request, server, client, data)
    _, xid, _, err = _REPLY.unpack_from(out, 0)
    assert (xid, err) == (1000, 0)
    resp = records.GetDataResponse.from_bytes(out[20:])
    assert resp.data == VALUE


@pytest.mark.parametrize("path", ["fast", "general"])
def test_core_create(benchmark, path):
    """A create through the fast path (zkcompat.core.fastwrite) and, for comparison, through prep."""
    server, client = _client()
    if path == "general":
        server._fast_writes = {}
    xids = itertools.count(1000)

    def setup():
        xid = next(xids)
        data = frame(records.RequestHeader(xid, OpCode.CREATE).to_bytes()
                     + records.CreateRequest("/b/c%d" % xid, VALUE, OPEN_ACL, 0).to_bytes())
        return (server, client, data), {}

    benchmark.pedantic(_one_request, setup=setup, rounds=2000)
    last = next(xids) - 1
    reply = client.reply(last)
    assert reply.err == 0 and records.CreateResponse.from_bytes(reply.body).path == "/b/c%d" % last
    assert client.exists("/b/c1000")[0] == 0


@pytest.mark.parametrize("path", ["fast", "general"])
def test_core_set_data(benchmark, path):
    server, client = _client()
    if path == "general":
        server._fast_writes = {}
    data = frame(records.RequestHeader(1000, OpCode.SET_DATA).to_bytes()
                 + records.SetDataRequest("/b/n", VALUE, -1).to_bytes())
    out = benchmark(_one_request, server, client, data)
    _, xid, _, err = _REPLY.unpack_from(out, 0)
    assert (xid, err) == (1000, 0)
    assert records.Stat.from_bytes(out[20:]).version > 0
