"""Prep: turn a write request into a fully determined txn (ZooKeeper's PrepRequestProcessor).

Theory of operation
-------------------
Every write is checked against the tree *plus the changes still in flight*
(``outstanding``: txns prepared but not yet applied), so that pipelined writes
see each other: versions, existence, ACLs, ephemeral parents, sequence numbers.
Prep assigns the zxid and the txn time and fixes everything apply will need
(sequential names, ephemeral owners, TTLs, parent cversions), so apply is a
pure function and a log replays to the same tree.

A failed write still consumes a zxid: it becomes an ErrorTxn (a multi that
fails becomes a MultiTxn of ErrorTxns) and goes through the log like any txn.
This is what ZooKeeper does, and clients see it in reply zxids.

Check order per op follows PrepRequestProcessor.pRequest2Txn exactly, because
the first failing check decides the error code a client sees.
"""

from __future__ import annotations

import logging
import re
from collections import deque

from protocol.codes import CONTAINER_EPHEMERAL_OWNER, CreateMode, ERR, OP, TTL_MAX_MS
from protocol.jute import JuteError
from protocol.messages import UnknownMultiOp, decode_multi
from protocol.records import (
    CheckVersionRequest,
    CheckVersionTxn,
    CloseSessionTxn,
    CreateContainerTxn,
    CreateRequest,
    CreateSessionTxn,
    CreateTTLRequest,
    CreateTTLTxn,
    CreateTxn,
    DeleteRequest,
    DeleteTxn,
    ErrorTxn,
    MultiTxn,
    ReconfigRequest,
    SetACLRequest,
    SetACLTxn,
    SetDataRequest,
    SetDataTxn,
    Txn,
    TxnHeader,
)

from .auth import AuthIds, AuthRegistry
from .errors import KeeperError
from .quota import MalformedQuota, QuotaEnforcer
from .sessions import SessionTracker
from .tree import EPHEMERAL_NORMAL, DataTree, ephemeral_type, ttl_owner

log = logging.getLogger("zkcompat.prep")
_U64 = 0xFFFFFFFFFFFFFFFF

SPECIAL_PATHS = frozenset(("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"))


# Paths of printable ASCII whose components are neither empty, "." nor "..": always valid.
_PLAIN_PATH = re.compile(r"(?:/(?!\.\.?(?:/|\Z))[\x20-\x2e\x30-\x7e]+)+")


def validate_path(path: str | None) -> None:
    """PathUtils.validatePath, raising BADARGUMENTS."""
    if path and _PLAIN_PATH.fullmatch(path) is not None:
        return
    validate_path_char_by_char(path)


def validate_path_char_by_char(path: str | None) -> None:
    if not path or path[0] != "/":
        raise KeeperError(ERR.BADARGUMENTS, path)
    n = len(path)
    if n == 1:
        return
    if path[-1] == "/":
        raise KeeperError(ERR.BADARGUMENTS, path)
    last = "/"
    for i in range(1, n):
        c = path[i]
        if c == "\0":
            raise KeeperError(ERR.BADARGUMENTS, path)
        if c == "/" and last == "/":
            raise KeeperError(ERR.BADARGUMENTS, path)
        if c == "." and last == ".":
            if path[i - 2] == "/" and (i + 1 == n or path[i + 1] == "/"):
                raise KeeperError(ERR.BADARGUMENTS, path)
        elif c == ".":
            if path[i - 1] == "/" and (i + 1 == n or path[i + 1] == "/"):
                raise KeeperError(ERR.BADARGUMENTS, path)
        else:
            o = ord(c)
            if (
                0 < o <= 0x1F
                or 0x7F <= o <= 0x9F
                or 0xD800 <= o <= 0xF8FF
                or 0xFFF0 <= o <= 0xFFFF
                or o > 0xFFFF  # a surrogate pair in Java: its high half is in D800-DBFF
            ):
                raise KeeperError(ERR.BADARGUMENTS, path)
        last = c


# CreateMode flags -> (ephemeral, sequential, container, ttl); other flags are BADARGUMENTS
_CREATE_MODES = {m.value: (m.is_ephemeral, m.is_sequential, m.is_container, m.is_ttl) for m in CreateMode}


class Change:
    """ZooKeeper's ChangeRecord: what a path will look like once in-flight txns apply."""

    __slots__ = ("zxid", "path", "exists", "czxid", "mzxid", "mtime", "version", "cversion", "aversion",
                 "ephemeral_owner", "pzxid", "child_count", "acl", "data")

    def copy(self, zxid: int) -> Change:
        c = Change()
        c.zxid = zxid
        c.path = self.path
        c.exists = self.exists
        c.czxid = self.czxid
        c.mzxid = self.mzxid
        c.mtime = self.mtime
        c.version = self.version
        c.cversion = self.cversion
        c.aversion = self.aversion
        c.ephemeral_owner = self.ephemeral_owner
        c.pzxid = self.pzxid
        c.child_count = self.child_count
        c.acl = self.acl
        c.data = self.data
        return c


def _change_from_node(path, node, zxid: int = -1) -> Change:
    """A change record of ``node`` as it is in the tree (with ``zxid``: the start of a new one)."""
    c = Change()
    c.zxid = zxid
    c.path = path
    c.exists = True
    c.czxid = node.czxid
    c.mzxid = node.mzxid
    c.mtime = node.mtime
    c.version = node.version
    c.cversion = node.cversion
    c.aversion = node.aversion
    c.ephemeral_owner = node.ephemeral_owner
    c.pzxid = node.pzxid
    children = node.children
    c.child_count = len(children) if children is not None else 0
    c.acl = node.acl
    c.data = node.data
    return c


def _created(zxid: int, path: str, time: int, owner: int, acl, data) -> Change:
    """The change record of a znode a create makes."""
    c = Change()
    c.zxid = zxid
    c.path = path
    c.exists = True
    c.czxid = c.mzxid = c.pzxid = zxid
    c.mtime = time
    c.version = c.cversion = c.aversion = 0
    c.ephemeral_owner = owner
    c.child_count = 0
    c.acl = acl
    c.data = data
    return c


def _deleted(zxid: int, path: str) -> Change:
    c = Change()
    c.zxid = zxid
    c.path = path
    c.exists = False
    c.child_count = 0
    c.acl = None
    return c


class PreparedTxn:
    """The output of prep: a txn header and record (or None for non-txn requests) and the error, if any."""

    __slots__ = ("hdr", "txn", "error")

    def __init__(self, hdr: TxnHeader | None, txn, error: KeeperError | None = None):
        self.hdr = hdr
        self.txn = txn
        if error is not None:
            # kept without its traceback: the frames there (and their callers') hold the request that
            # will hold this error, a reference cycle (a serving process freezes survivors, gcpolicy)
            error.__traceback__ = None
        self.error = error


class Prep:
    def __init__(self, tree: DataTree, sessions: SessionTracker, auth: AuthRegistry, *, extended_types: bool,
                 reconfig_enabled: bool = False, enforce_quota: bool = False):
        self.tree = tree
        self.sessions = sessions
        self.auth = auth
        self.extended_types = extended_types
        self.reconfig_enabled = reconfig_enabled
        # zookeeper.enforceQuota: None when off, so creates and setData pay one check
        self.quota: QuotaEnforcer | None = QuotaEnforcer(tree) if enforce_quota else None
        self.outstanding: deque[Change] = deque()  # in prep order (= zxid order)
        self.outstanding_for_path: dict[str, Change] = {}
        self.last_zxid = tree.last_processed_zxid

    # --- zxids and change records -------------------------------------------------------

    def next_zxid(self) -> int:
        self.last_zxid += 1
        return self.last_zxid

    def record_for(self, path: str) -> Change:
        c = self.outstanding_for_path.get(path)
        if c is None:
            node = self.tree.nodes.get(path)
            if node is not None:
                c = _change_from_node(path, node)
        if c is None or not c.exists:
            raise KeeperError(ERR.NONODE, path)
        return c

    def _add_change(self, c: Change) -> None:
        self.outstanding.append(c)
        self.outstanding_for_path[c.path] = c

    def applied(self, zxid: int) -> None:
        """Forget change records up to ``zxid`` once that txn is in the tree (FinalRequestProcessor)."""
        out = self.outstanding
        by_path = self.outstanding_for_path
        while out and out[0].zxid <= zxid:
            c = out.popleft()
            if by_path.get(c.path) is c:
                del by_path[c.path]

    # --- entry points -------------------------------------------------------------------

    def prepare(self, op: int, session_id: int, cxid: int, body, auth_ids: AuthIds | None, now_wall_ms: int,
                session_timeout: int = 0) -> PreparedTxn:
        """Prepare one request; ``body`` is the raw request bytes after the header."""
        hdr = None
        try:
            if op == OP.MULTI:
                return self._prepare_multi(session_id, cxid, body, auth_ids, now_wall_ms)
            if op in (OP.CREATE, OP.CREATE2, OP.CREATE_CONTAINER, OP.CREATE_TTL, OP.DELETE,
                      OP.SET_DATA, OP.SET_ACL, OP.RECONFIG, OP.CHECK, OP.DELETE_CONTAINER):
                hdr = TxnHeader(session_id, cxid, self.next_zxid(), now_wall_ms, op)
                record = self._decode(op, body)
                txn = self._to_txn(op, hdr.zxid, hdr.time, session_id, record, auth_ids)
                return PreparedTxn(hdr, txn)
            if op == OP.CREATE_SESSION:
                hdr = TxnHeader(session_id, cxid, self.next_zxid(), now_wall_ms, op)
                if body is not None:
                    # sent by a client: ZooKeeper reads the timeout from the request body
                    if len(body) < 4:
                        raise JuteError("createSession without a timeout")
                    session_timeout = int.from_bytes(body[:4], "big", signed=True)
                return PreparedTxn(hdr, CreateSessionTxn(session_timeout))
            if op == OP.CLOSE_SESSION:
                hdr = TxnHeader(session_id, cxid, self.next_zxid(), now_wall_ms, op)
                return PreparedTxn(hdr, self._close_session(session_id, hdr.zxid))
            # reads and other non-txn requests only check the session
            self.sessions.check(session_id)
            return PreparedTxn(None, None)
        except KeeperError as e:
            if hdr is not None:
                hdr.type = OP.ERROR
                return PreparedTxn(hdr, ErrorTxn(e.code), e)
            return PreparedTxn(None, None, e)
        except (JuteError, UnknownMultiOp, ValueError) as e:
            if isinstance(e, MalformedQuota):
                # PrepRequestProcessor logs any runtime exception as "Failed to process"
                log.error("Failed to process request of session 0x%x: %s", session_id & _U64, e)
            if hdr is not None:
                hdr.type = OP.ERROR
                return PreparedTxn(hdr, ErrorTxn(ERR.MARSHALLINGERROR), KeeperError(ERR.MARSHALLINGERROR))
            return PreparedTxn(None, None, KeeperError(ERR.MARSHALLINGERROR))

    _BODY = {
        OP.CREATE: CreateRequest,
        OP.CREATE2: CreateRequest,
        OP.CREATE_CONTAINER: CreateRequest,
        OP.CREATE_TTL: CreateTTLRequest,
        OP.DELETE: DeleteRequest,
        OP.SET_DATA: SetDataRequest,
        OP.SET_ACL: SetACLRequest,
        OP.RECONFIG: ReconfigRequest,
        OP.CHECK: CheckVersionRequest,
    }

    def _decode(self, op: int, body):
        if op == OP.DELETE_CONTAINER:
            return body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
        rec, _ = self._BODY[op].decode(body, 0)
        return rec

    def _prepare_multi(self, session_id, cxid, body, auth_ids, now_wall_ms) -> PreparedTxn:
        try:
            ops, _ = decode_multi(body, 0)
            kinds = {op_type in (OP.GET_DATA, OP.GET_CHILDREN) for op_type, _ in ops}
            if len(kinds) > 1 or True in kinds:
                # mixing reads and writes is refused when the record is read; a multi of reads
                # fails in prep (no txn for a read op): both end as MARSHALLINGERROR.
                raise UnknownMultiOp("reads in a multi")
            ops = [self._multi_op(t, rec) for t, rec in ops]
        except (JuteError, UnknownMultiOp):
            hdr = TxnHeader(session_id, cxid, self.next_zxid(), now_wall_ms, OP.ERROR)
            return PreparedTxn(hdr, ErrorTxn(ERR.MARSHALLINGERROR), KeeperError(ERR.MARSHALLINGERROR))
        zxid = self.next_zxid()
        pending = self._pending_changes([rec.path for _, rec in ops])
        hdr = TxnHeader(session_id, cxid, zxid, now_wall_ms, OP.MULTI)
        txns = []
        failure: KeeperError | None = None
        for op_type, rec in ops:
            if failure is not None:
                sub_type, sub_txn = OP.ERROR, ErrorTxn(ERR.RUNTIMEINCONSISTENCY)
            else:
                try:
                    sub_txn = self._to_txn(op_type, zxid, now_wall_ms, session_id, rec, auth_ids)
                    sub_type = op_type
                except KeeperError as e:
                    failure = e
                    sub_type, sub_txn = OP.ERROR, ErrorTxn(e.code)
                    self._rollback(zxid, pending)
                except (JuteError, MalformedQuota) as e:
                    # ZooKeeper meets a null path (a NullPointerException) or a quota node StatsTrack
                    # cannot parse as a runtime exception: the whole multi becomes an
                    # ErrorTxn(MARSHALLINGERROR) at the zxid it already took.
                    if isinstance(e, MalformedQuota):
                        log.error("Failed to process multi of session 0x%x: %s", session_id & _U64, e)
                    self._rollback(zxid, pending)
                    hdr.type = OP.ERROR
                    return PreparedTxn(hdr, ErrorTxn(ERR.MARSHALLINGERROR), KeeperError(ERR.MARSHALLINGERROR))
            txns.append(Txn(int(sub_type), sub_txn.to_bytes()))
        return PreparedTxn(hdr, MultiTxn(txns), failure)

    @staticmethod
    def _multi_op(header_type: int, rec):
        """MultiOperationRecord.deserialize: a create's op code follows its flags (TTL, container)."""
        if header_type in (OP.CREATE, OP.CREATE2, OP.CREATE_CONTAINER):
            try:
                mode = CreateMode(rec.flags)
            except ValueError:
                raise UnknownMultiOp("invalid flag %s for create mode" % rec.flags)
            if mode.is_ttl:
                return OP.CREATE_TTL, rec
            if mode.is_container:
                return OP.CREATE_CONTAINER, rec
        elif header_type == OP.CREATE_TTL:
            # Op.create(path, data, acl, flags, ttl): a non-TTL mode drops the ttl (bad flags mean PERSISTENT)
            try:
                mode = CreateMode(rec.flags)
            except ValueError:
                mode = CreateMode.PERSISTENT
            if not mode.is_ttl:
                op = OP.CREATE_CONTAINER if mode.is_container else OP.CREATE
                return op, CreateRequest(rec.path, rec.data, rec.acl, int(mode))
        return header_type, rec

    def _pending_changes(self, paths) -> dict[str, Change]:
        out = {}
        for path in paths:
            c = self.outstanding_for_path.get(path)
            if c is not None:
                out[path] = c
            cut = path.rfind("/") if path else -1
            if cut == -1 or "\0" in path:
                continue
            parent = path[:cut]
            pc = self.outstanding_for_path.get(parent)
            if pc is not None:
                out[parent] = pc
        return out

    def _rollback(self, zxid: int, pending: dict[str, Change]) -> None:
        out = self.outstanding
        while out and out[-1].zxid == zxid:
            c = out.pop()
            self.outstanding_for_path.pop(c.path, None)
        if not out:
            return
        first = out[0].zxid
        for c in pending.values():
            if c.zxid >= first:
                self.outstanding_for_path[c.path] = c

    # --- one op to one txn (pRequest2Txn) -------------------------------------------------

    def _parent_and_validate(self, path: str) -> str:
        if path is None:
            raise JuteError("null path")
        cut = path.rfind("/")
        if cut == -1 or "\0" in path or path in SPECIAL_PATHS:
            raise KeeperError(ERR.BADARGUMENTS, path)
        return path[:cut]

    @staticmethod
    def _check_version(current: int, expected: int, path: str) -> int:
        if expected != -1 and expected != current:
            raise KeeperError(ERR.BADVERSION, path)
        return current + 1

    def _to_txn(self, op: int, zxid: int, time: int, session_id: int, rec, auth_ids: AuthIds):
        if op in (OP.CREATE, OP.CREATE2, OP.CREATE_TTL, OP.CREATE_CONTAINER):
            return self._create(op, zxid, time, session_id, rec, auth_ids)
        if op == OP.DELETE:
            self.sessions.check(session_id)
            path = rec.path
            parent_path = self._parent_and_validate(path)
            parent = self.record_for(parent_path)
            self.auth.check_or_raise(parent.acl, 8, auth_ids, path)
            node = self.record_for(path)
            self._check_version(node.version, rec.version, path)
            if node.child_count > 0:
                raise KeeperError(ERR.NOTEMPTY, path)
            self._delete_changes(zxid, parent, path)
            return DeleteTxn(path)
        if op == OP.DELETE_CONTAINER:
            path = rec
            parent_path = self._parent_and_validate(path)
            node = self.record_for(path)
            if node.child_count > 0:
                raise KeeperError(ERR.NOTEMPTY, path)
            if ephemeral_type(node.ephemeral_owner, self.extended_types) == EPHEMERAL_NORMAL:
                raise KeeperError(ERR.BADVERSION, path)
            parent = self.record_for(parent_path)
            self._delete_changes(zxid, parent, path)
            return DeleteTxn(path)
        if op == OP.SET_DATA:
            self.sessions.check(session_id)
            path = rec.path
            if not path or path not in self.tree.nodes:  # a znode's path was valid when it was created
                validate_path(path)
            node = self.record_for(path)
            self.auth.check_or_raise(node.acl, 2, auth_ids, path)
            if self.quota is not None:
                self.quota.check(path, (len(rec.data) if rec.data is not None else 0)
                                 - (len(node.data) if node.data is not None else 0), 0, time)
            version = self._check_version(node.version, rec.version, path)
            c = node.copy(zxid)
            c.version = version
            c.mtime = time
            c.mzxid = zxid
            c.data = rec.data
            self._add_change(c)
            return SetDataTxn(path, rec.data, version)
        if op == OP.SET_ACL:
            self.sessions.check(session_id)
            path = rec.path
            validate_path(path)
            acl = self.auth.fixup(path, auth_ids, rec.acl)
            node = self.record_for(path)
            self.auth.check_or_raise(node.acl, 16, auth_ids, path)
            version = self._check_version(node.aversion, rec.version, path)
            c = node.copy(zxid)
            c.aversion = version
            self._add_change(c)
            return SetACLTxn(path, acl, version)
        if op == OP.CHECK:
            self.sessions.check(session_id)
            path = rec.path
            validate_path(path)
            node = self.record_for(path)
            self.auth.check_or_raise(node.acl, 1, auth_ids, path)
            return CheckVersionTxn(path, self._check_version(node.version, rec.version, path))
        if op == OP.RECONFIG:
            if not self.reconfig_enabled:
                raise KeeperError(ERR.RECONFIGDISABLED)
            self.sessions.check(session_id)
            # a standalone server cannot reconfigure (the LeaderZooKeeperServer cast fails)
            raise KeeperError(ERR.UNIMPLEMENTED)
        raise KeeperError(ERR.UNIMPLEMENTED)

    def _delete_changes(self, zxid: int, parent: Change, path: str) -> None:
        p = parent.copy(zxid)
        p.child_count -= 1
        p.pzxid = zxid
        self._add_change(p)
        self._add_change(_deleted(zxid, path))

    def _create(self, op, zxid, time, session_id, rec, auth_ids) -> object:
        flags = rec.flags
        path = rec.path
        ttl = rec.ttl if isinstance(rec, CreateTTLRequest) else -1
        mode = _CREATE_MODES.get(flags)
        if mode is None:
            raise KeeperError(ERR.BADARGUMENTS, path)
        is_ephemeral, is_sequential, is_container, is_ttl = mode
        # validateCreateRequest
        if is_ttl and not self.extended_types:
            raise KeeperError(ERR.UNIMPLEMENTED, path)
        if is_ttl:
            if ttl > TTL_MAX_MS or ttl <= 0:
                raise KeeperError(ERR.BADARGUMENTS, path)
        elif ttl >= 0:
            raise KeeperError(ERR.BADARGUMENTS, path)
        session = self.sessions.sessions.get(session_id)
        if session is None or session.closing:
            self.sessions.check(session_id)  # raises
        # validatePathForCreate (a null path is a NullPointerException in ZooKeeper: MARSHALLINGERROR)
        if path is None:
            raise JuteError("null path")
        cut = path.rfind("/")
        if cut == -1 or "\0" in path:
            raise KeeperError(ERR.BADARGUMENTS, path)
        parent_path = path[:cut]
        acl = self.auth.fixup(path, auth_ids, rec.acl)
        parent = self.outstanding_for_path.get(parent_path)
        if parent is None or not parent.exists:
            parent = self.record_for(parent_path)
        self.auth.check_or_raise(parent.acl, 4, auth_ids, path)
        parent_cversion = parent.cversion
        if is_sequential:
            path = "%s%010d" % (path, parent_cversion)
        validate_path(path)
        existing = self.outstanding_for_path.get(path)
        if existing is not None:
            if existing.exists:
                raise KeeperError(ERR.NODEEXISTS, path)
        elif path in self.tree.nodes:
            raise KeeperError(ERR.NODEEXISTS, path)
        if parent.ephemeral_owner and ephemeral_type(parent.ephemeral_owner, self.extended_types) == EPHEMERAL_NORMAL:
            raise KeeperError(ERR.NOCHILDRENFOREPHEMERALS, path)
        new_cversion = parent_cversion + 1
        if self.quota is not None:
            self.quota.check(path, len(rec.data) if rec.data is not None else 0, 1, time)
        if op == OP.CREATE_CONTAINER:
            txn = CreateContainerTxn(path, rec.data, acl, new_cversion)
        elif op == OP.CREATE_TTL:
            txn = CreateTTLTxn(path, rec.data, acl, new_cversion, ttl)
        else:
            txn = CreateTxn(path, rec.data, acl, is_ephemeral, new_cversion)
        if is_container:
            owner = CONTAINER_EPHEMERAL_OWNER
        elif is_ttl:
            owner = ttl_owner(ttl)
        elif is_ephemeral:
            owner = session_id
        else:
            owner = 0
        p = parent.copy(zxid)
        p.child_count += 1
        p.cversion = new_cversion
        p.pzxid = zxid
        self._add_change(p)
        self._add_change(_created(zxid, path, time, owner, acl, rec.data))
        return txn

    def _close_session(self, session_id: int, zxid: int) -> CloseSessionTxn:
        s = self.tree.ephemerals.get(session_id)
        es = s.java_clone() if s is not None else None
        if es is None:
            from .javahash import JavaHashSet

            es = JavaHashSet(16)
        for c in self.outstanding:
            if not c.exists:
                es.discard(c.path)
            elif c.ephemeral_owner == session_id:
                es.add(c.path)
        paths = list(es.ordered())
        for p in paths:
            self._add_change(_deleted(zxid, p))
        self.sessions.set_closing(session_id)
        return CloseSessionTxn(paths)
