"""Sessions: ids, passwords and expiry, as ZooKeeper's SessionTrackerImpl keeps them.

Theory of operation
-------------------
Expiry works in ticks (ExpiryQueue): a session touched at ``now`` with timeout
``t`` is due at ``roundToNextInterval(now + t)``, the next multiple of tickTime,
and all sessions due in one bucket expire together when that bucket's time
comes.  Every request or ping of the session touches it; a reconnect with the
right password touches it too.  Time is the injected monotonic clock, so tests
expire sessions by advancing a fake clock.

Ids: ``((monotonic ms << 24) >>> 8) | (serverId << 56)``, then +1 per session
(SessionTrackerImpl.initializeNextSessionId): the server id is the top byte.
Long.MIN_VALUE is skipped (it marks containers).  The password is derived from
the id (javahash.session_password), so no password is ever stored.
"""

from __future__ import annotations

from protocol.codes import CONTAINER_EPHEMERAL_OWNER, Err

from .errors import KeeperError

_U64 = (1 << 64) - 1


def _signed64(v: int) -> int:
    v &= _U64
    return v - (1 << 64) if v >> 63 else v


def initial_session_id(server_id: int, now_ms: int) -> int:
    sid = ((now_ms << 24) & _U64) >> 8
    sid |= (server_id << 56) & _U64
    sid = _signed64(sid)
    if sid == CONTAINER_EPHEMERAL_OWNER:
        sid += 1
    return sid


class Session:
    __slots__ = ("session_id", "timeout_ms", "closing", "expires_at")

    def __init__(self, session_id: int, timeout_ms: int):
        self.session_id = session_id
        self.timeout_ms = timeout_ms
        self.closing = False
        self.expires_at = 0


class SessionTracker:
    def __init__(self, server_id: int, tick_ms: int, now_ms: int):
        self.tick_ms = tick_ms
        self.next_session_id = initial_session_id(server_id, now_ms)
        self.sessions: dict[int, Session] = {}
        self.buckets: dict[int, dict[int, None]] = {}  # expiry time -> session ids
        self.next_expiration = self._round(now_ms)
        self.touched: dict[int, int] = {}  # session -> timeout, touched since last drained (a learner's PING)

    def _round(self, t: int) -> int:
        return (t // self.tick_ms + 1) * self.tick_ms

    def new_session_id(self) -> int:
        sid = self.next_session_id
        self.next_session_id = _signed64(sid + 1)
        if self.next_session_id == CONTAINER_EPHEMERAL_OWNER:
            self.next_session_id += 1
        return sid

    def add(self, session_id: int, timeout_ms: int, now_ms: int) -> Session:
        session = self.sessions.get(session_id)
        if session is None:
            session = self.sessions[session_id] = Session(session_id, timeout_ms)
        self.touch(session_id, timeout_ms, now_ms)
        return session

    def touch(self, session_id: int, timeout_ms: int, now_ms: int) -> bool:
        session = self.sessions.get(session_id)
        if session is None or session.closing:
            return False
        self.touched[session_id] = timeout_ms
        due = self._round(now_ms + timeout_ms)
        if due != session.expires_at:
            if session.expires_at:
                old = self.buckets.get(session.expires_at)
                if old is not None:
                    old.pop(session_id, None)
                    if not old:
                        del self.buckets[session.expires_at]
            self.buckets.setdefault(due, {})[session_id] = None
            session.expires_at = due
        return True

    def set_closing(self, session_id: int) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.closing = True

    def remove(self, session_id: int) -> None:
        session = self.sessions.pop(session_id, None)
        if session is not None and session.expires_at:
            bucket = self.buckets.get(session.expires_at)
            if bucket is not None:
                bucket.pop(session_id, None)
                if not bucket:
                    del self.buckets[session.expires_at]

    def drain_touched(self) -> dict[int, int]:
        touched, self.touched = self.touched, {}
        return touched

    def check(self, session_id: int) -> None:
        """SessionTrackerImpl.checkSession (every standalone connection has the same owner)."""
        session = self.sessions.get(session_id)
        if session is None:
            raise KeeperError(Err.UNKNOWNSESSION)
        if session.closing:
            raise KeeperError(Err.SESSIONEXPIRED)

    def is_valid(self, session_id: int) -> bool:
        s = self.sessions.get(session_id)
        return s is not None and not s.closing

    def next_deadline(self) -> int | None:
        """When the next bucket falls due, or None when no session is tracked."""
        if not self.buckets:
            return None
        return max(min(self.buckets), self.next_expiration)

    def pop_expired(self, now_ms: int) -> list[int]:
        """ExpiryQueue.poll: the sessions of every bucket due by ``now_ms``, marked closing."""
        out: list[int] = []
        for due in sorted(t for t in self.buckets if t <= now_ms):
            for sid in self.buckets.pop(due):
                session = self.sessions.get(sid)
                if session is not None and session.expires_at == due:
                    session.expires_at = 0
                    session.closing = True
                    out.append(sid)
        self.next_expiration = self._round(now_ms)
        return out
