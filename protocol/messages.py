"""Whole client messages: the handshake, request and reply bodies per opcode, multi.

Sans-IO helpers around protocol.records.  Nothing here keeps state or does I/O.

- The handshake: ConnectRequest/ConnectResponse carry an optional trailing
  ``readOnly`` byte; a 3.3-era client omits it and must get a reply without it
  (ZooKeeperServer.processConnectRequest / finishSessionInit).
- ``REQUEST_RECORDS`` / ``RESPONSE_RECORDS``: the body record of each opcode.
- multi / multiRead: a sequence of MultiHeader + op record, closed by the header
  {type -1, done true, err -1} (MultiOperationRecord, MultiResponse).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import records as r
from .codes import OpCode
from .jute import JuteError

REQUEST_RECORDS: dict[int, type | None] = {
    OpCode.CREATE: r.CreateRequest,
    OpCode.DELETE: r.DeleteRequest,
    OpCode.EXISTS: r.ExistsRequest,
    OpCode.GET_DATA: r.GetDataRequest,
    OpCode.SET_DATA: r.SetDataRequest,
    OpCode.GET_ACL: r.GetACLRequest,
    OpCode.SET_ACL: r.SetACLRequest,
    OpCode.GET_CHILDREN: r.GetChildrenRequest,
    OpCode.SYNC: r.SyncRequest,
    OpCode.PING: None,
    OpCode.GET_CHILDREN2: r.GetChildren2Request,
    OpCode.CHECK: r.CheckVersionRequest,
    OpCode.MULTI: None,  # decode_multi
    OpCode.CREATE2: r.CreateRequest,
    OpCode.RECONFIG: r.ReconfigRequest,
    OpCode.CHECK_WATCHES: r.CheckWatchesRequest,
    OpCode.REMOVE_WATCHES: r.RemoveWatchesRequest,
    OpCode.CREATE_CONTAINER: r.CreateRequest,
    OpCode.CREATE_TTL: r.CreateTTLRequest,
    OpCode.MULTI_READ: None,  # decode_multi
    OpCode.AUTH: r.AuthPacket,
    OpCode.SET_WATCHES: r.SetWatches,
    OpCode.SASL: r.GetSASLRequest,
    OpCode.GET_EPHEMERALS: r.GetEphemeralsRequest,
    OpCode.GET_ALL_CHILDREN_NUMBER: r.GetAllChildrenNumberRequest,
    OpCode.SET_WATCHES2: r.SetWatches2,
    OpCode.ADD_WATCH: r.AddWatchRequest,
    OpCode.WHO_AM_I: None,
    OpCode.CLOSE_SESSION: None,
}

RESPONSE_RECORDS: dict[int, type | None] = {
    OpCode.CREATE: r.CreateResponse,
    OpCode.DELETE: None,
    OpCode.EXISTS: r.ExistsResponse,
    OpCode.GET_DATA: r.GetDataResponse,
    OpCode.SET_DATA: r.SetDataResponse,
    OpCode.GET_ACL: r.GetACLResponse,
    OpCode.SET_ACL: r.SetACLResponse,
    OpCode.GET_CHILDREN: r.GetChildrenResponse,
    OpCode.SYNC: r.SyncResponse,
    OpCode.PING: None,
    OpCode.GET_CHILDREN2: r.GetChildren2Response,
    OpCode.CHECK: r.SetDataResponse,
    OpCode.MULTI: None,  # decode_multi_response
    OpCode.CREATE2: r.Create2Response,
    OpCode.RECONFIG: r.GetDataResponse,
    OpCode.CHECK_WATCHES: None,
    OpCode.REMOVE_WATCHES: None,
    OpCode.CREATE_CONTAINER: r.Create2Response,
    OpCode.CREATE_TTL: r.Create2Response,
    OpCode.MULTI_READ: None,  # decode_multi_response
    OpCode.AUTH: None,
    OpCode.SET_WATCHES: None,
    OpCode.SASL: r.SetSASLResponse,
    OpCode.GET_EPHEMERALS: r.GetEphemeralsResponse,
    OpCode.GET_ALL_CHILDREN_NUMBER: r.GetAllChildrenNumberResponse,
    OpCode.SET_WATCHES2: None,
    OpCode.ADD_WATCH: r.ErrorResponse,
    OpCode.WHO_AM_I: r.WhoAmIResponse,
    OpCode.CLOSE_SESSION: None,
}

# The record that follows a MultiHeader in a multi request, by op type
# (MultiOperationRecord.deserialize).
MULTI_OP_RECORDS: dict[int, type] = {
    OpCode.CREATE: r.CreateRequest,
    OpCode.CREATE2: r.CreateRequest,
    OpCode.CREATE_CONTAINER: r.CreateRequest,
    OpCode.CREATE_TTL: r.CreateTTLRequest,
    OpCode.DELETE: r.DeleteRequest,
    OpCode.SET_DATA: r.SetDataRequest,
    OpCode.CHECK: r.CheckVersionRequest,
    OpCode.GET_CHILDREN: r.GetChildrenRequest,
    OpCode.GET_DATA: r.GetDataRequest,
}

# The record that follows a MultiHeader in a multi response, by result type
# (MultiResponse.serialize); None = the header alone.
MULTI_RESULT_RECORDS: dict[int, type | None] = {
    OpCode.CREATE: r.CreateResponse,
    OpCode.CREATE2: r.Create2Response,
    OpCode.CREATE_TTL: r.Create2Response,
    OpCode.CREATE_CONTAINER: r.Create2Response,
    OpCode.DELETE: None,
    OpCode.DELETE_CONTAINER: None,
    OpCode.SET_DATA: r.SetDataResponse,
    OpCode.CHECK: None,
    OpCode.GET_CHILDREN: r.GetChildrenResponse,
    OpCode.GET_DATA: r.GetDataResponse,
    OpCode.ERROR: r.ErrorResponse,
}

# SerializeUtils.deserializeTxn: the record that follows a TxnHeader of each type (logs, PROPOSAL).
TXN_RECORDS: dict[int, type] = {
    OpCode.CREATE_SESSION: r.CreateSessionTxn,
    OpCode.CLOSE_SESSION: r.CloseSessionTxn,
    OpCode.CREATE: r.CreateTxn,
    OpCode.CREATE2: r.CreateTxn,
    OpCode.CREATE_TTL: r.CreateTTLTxn,
    OpCode.CREATE_CONTAINER: r.CreateContainerTxn,
    OpCode.DELETE: r.DeleteTxn,
    OpCode.DELETE_CONTAINER: r.DeleteTxn,
    OpCode.RECONFIG: r.SetDataTxn,
    OpCode.SET_DATA: r.SetDataTxn,
    OpCode.SET_ACL: r.SetACLTxn,
    OpCode.ERROR: r.ErrorTxn,
    OpCode.MULTI: r.MultiTxn,
}

# DataTree.processTxn: the record of each sub-txn inside a MultiTxn.
MULTI_TXN_RECORDS: dict[int, type] = {
    OpCode.CREATE: r.CreateTxn,
    OpCode.CREATE2: r.CreateTxn,
    OpCode.CREATE_TTL: r.CreateTTLTxn,
    OpCode.CREATE_CONTAINER: r.CreateContainerTxn,
    OpCode.DELETE: r.DeleteTxn,
    OpCode.DELETE_CONTAINER: r.DeleteTxn,
    OpCode.SET_DATA: r.SetDataTxn,
    OpCode.ERROR: r.ErrorTxn,
    OpCode.CHECK: r.CheckVersionTxn,
}

_MULTI_DONE = r.MultiHeader(-1, True, -1)


class UnknownMultiOp(JuteError):
    """A multi carried an op type that MultiOperationRecord does not know."""


@dataclass(slots=True)
class ConnectRequestMessage:
    request: r.ConnectRequest
    read_only: bool | None  # None: a 3.3-era client that sent no readOnly byte


def decode_connect_request(frame: bytes) -> ConnectRequestMessage:
    req, pos = r.ConnectRequest.decode(frame, 0)
    read_only = None
    if pos < len(frame):
        read_only = frame[pos] != 0
    return ConnectRequestMessage(req, read_only)


def encode_connect_request(req: r.ConnectRequest, read_only: bool | None) -> bytes:
    body = r.ConnectRequest.encode(req)
    if read_only is not None:
        body += b"\x01" if read_only else b"\x00"
    return body


def decode_connect_response(frame: bytes) -> tuple[r.ConnectResponse, bool | None]:
    resp, pos = r.ConnectResponse.decode(frame, 0)
    read_only = None
    if pos < len(frame):
        read_only = frame[pos] != 0
    return resp, read_only


def encode_connect_response(resp: r.ConnectResponse, read_only: bool | None) -> bytes:
    body = r.ConnectResponse.encode(resp)
    if read_only is not None:
        body += b"\x01" if read_only else b"\x00"
    return body


def decode_multi(buf, pos: int = 0) -> tuple[list[tuple[int, object]], int]:
    """Decode the ops of a multi or multiRead request: [(op type, request record)]."""
    ops: list[tuple[int, object]] = []
    header, pos = r.MultiHeader.decode(buf, pos)
    while not header.done:
        rec_cls = MULTI_OP_RECORDS.get(header.type)
        if rec_cls is None:
            raise UnknownMultiOp("invalid type of op %d" % header.type)
        rec, pos = rec_cls.decode(buf, pos)
        ops.append((header.type, rec))
        header, pos = r.MultiHeader.decode(buf, pos)
    return ops, pos


def encode_multi(ops) -> bytes:
    parts = []
    for op_type, rec in ops:
        parts.append(r.MultiHeader.encode(r.MultiHeader(op_type, False, -1)))
        parts.append(rec.to_bytes())
    parts.append(r.MultiHeader.encode(_MULTI_DONE))
    return b"".join(parts)


def encode_multi_response(results) -> bytes:
    """results: [(result type, record or None)]; an ERROR result carries ErrorResponse."""
    parts = []
    for res_type, rec in results:
        err = rec.err if res_type == OpCode.ERROR else 0
        parts.append(r.MultiHeader.encode(r.MultiHeader(res_type, False, err)))
        if rec is not None:
            parts.append(rec.to_bytes())
    parts.append(r.MultiHeader.encode(_MULTI_DONE))
    return b"".join(parts)


def decode_multi_response(buf, pos: int = 0) -> tuple[list[tuple[int, object]], int]:
    results: list[tuple[int, object]] = []
    header, pos = r.MultiHeader.decode(buf, pos)
    while not header.done:
        if header.type not in MULTI_RESULT_RECORDS:
            raise UnknownMultiOp("invalid type of result %d" % header.type)
        rec_cls = MULTI_RESULT_RECORDS[header.type]
        rec = None
        if rec_cls is not None:
            rec, pos = rec_cls.decode(buf, pos)
        results.append((header.type, rec))
        header, pos = r.MultiHeader.decode(buf, pos)
    return results, pos
