"""Helpers shared by scenario modules (not scenarios themselves)."""

from __future__ import annotations

from protocol import records as r
from protocol.codes import OpCode

from ..client import OPEN_ACL, Connection, Event, acl, digest  # noqa: F401  (re-exported for scenarios)
from ..servers import SUPER_PASSWORD, SUPER_USER

NOTIFY_WAIT_S = 5.0


def err_of(ev: Event | None) -> str | None:
    """The error name of a reply event (e.g. 'OK'), None if there was no reply."""
    if ev is None or ev.kind != "reply":
        return None
    return ev.fields["err"].split("(")[0]


def zxid_of(ev: Event | None) -> int | None:
    if ev is None or ev.kind != "reply":
        return None
    return ev.fields["zxid"]


def stat_of(ev: Event | None) -> dict | None:
    if ev is None or ev.kind != "reply" or not isinstance(ev.fields.get("body"), dict):
        return None
    return ev.fields["body"].get("stat")


def add_digest(conn: Connection, user: str, password: str) -> Event | None:
    return conn.auth("digest", ("%s:%s" % (user, password)).encode())


def add_super(conn: Connection) -> Event | None:
    return add_digest(conn, SUPER_USER, SUPER_PASSWORD)


def digest_acl(perms: int, user: str, password: str) -> r.ACL:
    return acl(perms, "digest", digest(user, password))


def raw_request(xid: int, op: int, body: bytes = b"") -> bytes:
    """Header + body, unframed (callers frame or corrupt it)."""
    return r.RequestHeader.encode(r.RequestHeader(xid, op)) + body


def ustring(s: str | bytes | None) -> bytes:
    if s is None:
        return b"\xff\xff\xff\xff"
    b = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else s
    return len(b).to_bytes(4, "big", signed=True) + b


def int32(v: int) -> bytes:
    return v.to_bytes(4, "big", signed=True)


def int64(v: int) -> bytes:
    return v.to_bytes(8, "big", signed=True)


def boolean(v: bool) -> bytes:
    return b"\x01" if v else b"\x00"


__all__ = [
    "OPEN_ACL",
    "OpCode",
    "acl",
    "digest",
    "digest_acl",
    "err_of",
    "zxid_of",
    "stat_of",
    "add_digest",
    "add_super",
    "raw_request",
    "ustring",
    "int32",
    "int64",
    "boolean",
    "NOTIFY_WAIT_S",
]
