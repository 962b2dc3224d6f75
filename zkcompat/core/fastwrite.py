"""The hot path of the two commonest writes: create (and create2) and setData.

Theory of operation
-------------------
``Prep`` turns any write into a txn in general terms: it decodes the request
into a record, checks it against the tree and the changes in flight, builds a
txn record, and the log encodes that record again.  For a create or a setData
that will *succeed* almost all of that is fixed by the request's own bytes: a
CreateTxn is the CreateRequest's path, data and ACL followed by two fields of
prep's choosing, and a SetDataTxn is the SetDataRequest with the new version
in place of the expected one.  So this path reads the request in place, runs
the checks prep would run, and builds the log entry by splicing the request's
bytes (no record decode, no ACL objects, no re-encoding).

It answers only requests it can prove will succeed, and takes no step that
changes state until every check has passed; anything else (a container or
TTL create, an ACL other than one ``world:anyone``, a path that is not plain
ASCII, a failing check, quotas on, a learner's server) returns False before
touching anything, and the request goes the general way, which gives the
error ZooKeeper gives.  What it produces (txn header and record, change
records, the log entry) is what the general path produces for the same
request: ``tests/unit/test_fastwrite.py`` feeds the same requests through
both and compares logs, replies and trees byte for byte.

Once the log has such a txn, it is applied and answered here too: the tree's
create or setData is called directly (no dispatch on the txn type, no apply
result) and the reply is the create's path bytes kept from the request, or
the Stat the tree returns.  The reply goes out through the server's own
``_send_result``, which keeps the figures, and the session's queue is then
released as ``ZooKeeperServer._committed`` releases it.
"""

from __future__ import annotations

import struct

from protocol.codes import OP
from protocol.records import ACL, CreateTxn, Id, SetDataTxn, TxnHeader

from .prep import Change, PreparedTxn, _change_from_node, _created
from .tree import EPHEMERAL_NORMAL, ApplyResult, NodeExists, NoNode, ephemeral_type

_I32 = struct.Struct(">i")
_TXN_HEADER = struct.Struct(">qiqqi")  # TxnHeader: clientId, cxid, zxid, time, type
_CREATE_TAIL = struct.Struct(">?i")  # CreateTxn after its ACL: ephemeral, parentCVersion
# one ACL entry of world:anyone, after its perms: the vector count is 1 and the Id is fixed
_WORLD_ANYONE = b"\x00\x00\x00\x05world\x00\x00\x00\x06anyone"
_ONE = b"\x00\x00\x00\x01"
_ACL_BYTES = 4 + 4 + len(_WORLD_ANYONE)
_CREATE, _CREATE2, _SET_DATA = OP.CREATE, OP.CREATE2, OP.SET_DATA
_CREATE_PERM, _WRITE_PERM = 4, 2


class FastWrites:
    """Bound to one server; ``handlers`` maps an opcode to its fast path."""

    def __init__(self, server, request_class, closed_state: int):
        self.server = server
        self.request_class = request_class
        self.closed_state = closed_state  # a Connection's state once its socket is gone
        self._acls: dict[bytes, list] = {}  # the ACL vector's bytes -> the tree's interned ACL
        self.handlers = {_CREATE: self.create, _CREATE2: self.create, _SET_DATA: self.set_data}

    def _world_acl(self, raw: bytes) -> list | None:
        """The interned ACL a single world:anyone entry with these bytes stands for, or None."""
        if raw[:4] != _ONE or raw[8:] != _WORLD_ANYONE:
            return None
        acl = self.server.tree.intern_acl([ACL(_I32.unpack_from(raw, 4)[0], Id("world", "anyone"))])
        if len(self._acls) < 64:  # perms are one int: a handful of distinct values in practice
            self._acls[raw] = acl
        return acl

    def _head(self, conn, buf: bytes):
        """What a CreateRequest and a SetDataRequest start with, checked: (path, data, the offset
        of the data's length, the offset after the data), or None for the general path."""
        server = self.server
        if server.forwarder is not None or server.prep.quota is not None:
            return None
        n = len(buf)
        if n < 12:
            return None
        plen = _I32.unpack_from(buf, 8)[0]
        dpos = 12 + plen
        if plen <= 0 or dpos + 4 > n:
            return None
        dlen = _I32.unpack_from(buf, dpos)[0]
        if dlen == -1:
            data = None
            end = dpos + 4
        else:
            end = dpos + 4 + dlen
            if dlen < 0 or end > n:
                return None
            data = buf[dpos + 4 : end]
        if end + 4 > n:  # a flags or version int follows either way
            return None
        session = server.sessions.sessions.get(conn.session_id)
        if session is None or session.closing:
            return None
        try:
            return buf[12:dpos].decode("ascii"), data, dpos, end
        except UnicodeDecodeError:
            return None

    def _existing(self, path: str, perm: int, conn):
        """The change record in flight or the znode at ``path``, if it exists and ``conn`` has
        ``perm`` on it; else None."""
        server = self.server
        rec = server.prep.outstanding_for_path.get(path)
        if rec is None:
            rec = server.tree.nodes.get(path)
            if rec is None:
                return None
        elif not rec.exists:
            return None
        if not server.auth.check(rec.acl, perm, conn.auth):
            return None
        return rec

    def create(self, conn, buf: bytes, xid: int, t: int, now: int) -> bool:
        head = self._head(conn, buf)
        if head is None:
            return False
        # CreateRequest: path, data, acl, flags
        path, data, dpos, apos = head
        fpos = apos + _ACL_BYTES
        if fpos + 4 > len(buf):
            return False
        flags = _I32.unpack_from(buf, fpos)[0]
        if flags & ~3:  # containers, TTLs, bad modes: the general path
            return False
        raw_acl = buf[apos:fpos]
        acl = self._acls.get(raw_acl)
        if acl is None:
            acl = self._world_acl(raw_acl)
            if acl is None:
                return False
        server = self.server
        prep = server.prep
        session_id = conn.session_id
        cut = path.rfind("/")
        if cut == -1:
            return False
        parent_path = path[:cut]
        parent = self._existing(parent_path, _CREATE_PERM, conn)
        if parent is None:
            return False
        cversion = parent.cversion
        sequential = flags & 2
        if sequential:
            path = "%s%010d" % (path, cversion)
        # printable ASCII in components neither empty, "." nor ".." (prep's _PLAIN_PATH; a component
        # that merely starts with a dot goes the general way), without a regular expression's match
        if path[0] != "/" or path[-1] == "/" or not path.isprintable() or "//" in path or "/." in path:
            return False
        existing = prep.outstanding_for_path.get(path)
        if existing is not None:
            if existing.exists:
                return False
        elif path in server.tree.nodes:
            return False
        owner = parent.ephemeral_owner
        if owner and ephemeral_type(owner, server.config.extended_types) == EPHEMERAL_NORMAL:
            return False
        new_cversion = cversion + 1
        if new_cversion > 0x7FFFFFFF:  # the general path's encoder refuses an int that overflows
            return False
        # every check passed: from here on this request is prepared, as prep would have
        zxid = prep.last_zxid = prep.last_zxid + 1
        wall = server.clock.wall_ms()
        ephemeral = bool(flags & 1)
        hdr = TxnHeader(session_id, xid, zxid, wall, t)
        txn = CreateTxn(path, data, acl, ephemeral, new_cversion)
        if sequential:
            path_bytes = _I32.pack(len(path)) + path.encode("ascii")  # the txn's path, and the reply
            entry = b"".join((_TXN_HEADER.pack(session_id, xid, zxid, wall, t), path_bytes, buf[dpos:fpos],
                              _CREATE_TAIL.pack(ephemeral, new_cversion)))
        else:
            path_bytes = buf[8:dpos]
            entry = b"".join((_TXN_HEADER.pack(session_id, xid, zxid, wall, t), buf[8:fpos],
                              _CREATE_TAIL.pack(ephemeral, new_cversion)))
        if type(parent) is Change:
            p = parent.copy(zxid)
        else:
            p = _change_from_node(parent_path, parent, zxid)
        p.child_count += 1
        p.cversion = new_cversion
        p.pzxid = zxid
        c = _created(zxid, path, wall, session_id if ephemeral else 0, acl, data)
        outstanding = prep.outstanding
        by_path = prep.outstanding_for_path
        outstanding.append(p)
        by_path[parent_path] = p
        outstanding.append(c)
        by_path[path] = c
        self._submit(conn, xid, t, now, hdr, txn, entry, path_bytes)
        return True

    def set_data(self, conn, buf: bytes, xid: int, t: int, now: int) -> bool:
        head = self._head(conn, buf)
        if head is None:
            return False
        # SetDataRequest: path, data, version
        path, data, _, vpos = head
        expected = _I32.unpack_from(buf, vpos)[0]
        server = self.server
        prep = server.prep
        session_id = conn.session_id
        # a znode's path (in the tree or about to be) was valid when it was created
        node = self._existing(path, _WRITE_PERM, conn)
        if node is None:
            return False
        version = node.version
        if expected != -1 and expected != version:
            return False
        version += 1
        if version > 0x7FFFFFFF:  # the general path's encoder refuses an int that overflows
            return False
        zxid = prep.last_zxid = prep.last_zxid + 1
        wall = server.clock.wall_ms()
        hdr = TxnHeader(session_id, xid, zxid, wall, t)
        txn = SetDataTxn(path, data, version)
        entry = b"".join((_TXN_HEADER.pack(session_id, xid, zxid, wall, t), buf[8:vpos], _I32.pack(version)))
        c = node.copy(zxid) if type(node) is Change else _change_from_node(path, node, zxid)
        c.version = version
        c.mtime = wall
        c.mzxid = zxid
        c.data = data
        prep.outstanding.append(c)
        prep.outstanding_for_path[path] = c
        self._submit(conn, xid, t, now, hdr, txn, entry, None)
        return True

    def _submit(self, conn, xid, t, now, hdr, txn, entry, body) -> None:
        """ZooKeeperServer.submit's write branch, with the entry already marshalled (``body``: what the
        commit answers with besides the result, kept in the request's unused body)."""
        req = self.request_class(conn, conn.session_id, xid, t, body, now)
        req.prepared = PreparedTxn(hdr, txn)
        conn.pending.append(req)
        self.server.stats.outstanding += 1
        commit = self._commit
        self.server.log.append(hdr, txn, lambda: commit(req), entry)

    # --- the log has the txn: ZooKeeperServer._committed and _finish for these requests --------------

    def _commit(self, req) -> None:
        """Apply the create or setData and answer it (a create's ``req.body`` holds the reply's path,
        length and bytes, as the request had it)."""
        server = self.server
        hdr = req.prepared.hdr
        txn = req.prepared.txn
        zxid = hdr.zxid
        try:
            if hdr.type == _SET_DATA:
                stat = reply = server.tree.set_data(txn.path, txn.data, txn.version, zxid, hdr.time)
            else:
                stat = server.tree.create_node(txn.path, txn.data, txn.acl, hdr.client_id if txn.ephemeral else 0,
                                               txn.parent_c_version, zxid, hdr.time, hdr.type == _CREATE2)
                reply = req.body + stat if stat is not None else req.body
        except (NoNode, NodeExists):  # not after prep's checks; if ever, the general path's answer
            server._committed(req)
            return
        server.tree.txn_applied(zxid)
        server.prep.applied(zxid)
        if server.forwarder is None:
            server.stats.outstanding -= 1
        req.done = True
        conn = req.conn
        pending = conn.pending
        if pending[0] is req:  # always, as a session's writes apply in its order: answer it here
            pending.popleft()
            if conn.state != self.closed_state:
                server._send_result(conn, req, 0, reply)
        else:  # the general reply, made from the apply's result
            req.rc = rc = ApplyResult(req.type, zxid)
            rc.path = txn.path
            rc.stat = stat
        server._release(conn)
