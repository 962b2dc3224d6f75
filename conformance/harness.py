"""Running one scenario against one server: setup, the scenario's own steps, epilogue, cleanup.

Theory of operation
-------------------
A scenario is a small function ``fn(t)`` taking a ``ScenarioContext``.  It opens
connections (``t.session()``, ``t.connection()``), sends requests, waits for the
frames it expects, and every frame consumed lands in ``t.transcript``.  The same
function runs once against the reference server and once against the candidate;
the two transcripts are normalised and compared elsewhere (conformance.normalize,
conformance.compare).

Isolation, so that scenarios never influence each other (and can run in any order
or shard):

- *Setup*: an unrecorded admin session creates the scenario's own root znode,
  ``/<scenario name>``, with an open ACL, then closes its session.  Everything
  the scenario makes lives under that root.
- *Epilogue* (recorded): every connection that still holds a live session gets a
  ping as a fence, so that any frame the server had queued for it (a stray
  notification, a duplicate reply) is recorded before the comparison.
- *Cleanup* (unrecorded): every session the scenario created is closed, on its
  open connection or by reconnecting with its id and password, so that no session
  expires later and consumes a zxid in another scenario's window; then a super
  user deletes the root's subtree.  Scenarios that create containers or TTL nodes
  wait inside the scenario for the reaper to act, so the server's background
  ContainerManager never issues a txn after the scenario ends.

A scenario has a time budget (``timeout_s``); every wait is capped by it, so a
server that never answers costs a bounded time and shows up as ``timeout`` events.
A Python exception inside a scenario is recorded as an ``error`` event (its type
and message), which the comparison then reports like any other difference.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

from protocol.codes import Err

from . import servers
from .client import Connection, Event, Transcript, admin_get, four_letter_word_raw

ADMIN_TIMEOUT_MS = 10000
DEFAULT_SESSION_TIMEOUT_MS = 10000


@dataclass
class Scenario:
    name: str
    func: Callable
    doc: str
    timeout_s: float = 30.0
    tags: tuple[str, ...] = ()
    # zoo.cfg settings both servers of this scenario's pair get on top of servers.SETTINGS
    # (sorted (key, value) pairs); scenarios with the same settings share a server pair
    settings: tuple[tuple[str, str], ...] = ()


@dataclass
class ScenarioResult:
    scenario: Scenario
    transcript: Transcript
    elapsed_s: float
    setup_error: str | None = None
    notes: list[str] = field(default_factory=list)
    end_zxid: int | None = None


class ScenarioContext:
    """What a scenario function sees: its root path, its connections, and a few helpers."""

    def __init__(self, scenario: Scenario, server, transcript: Transcript):
        self.scenario = scenario
        self.server = server
        self.host = server.host
        self.port = server.port
        self.transcript = transcript
        self.root = "/" + scenario.name
        self.connections: list[Connection] = []
        self.deadline = time.monotonic() + scenario.timeout_s
        self._labels = 0

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts]) if parts else self.root

    def connection(self, label: str | None = None) -> Connection:
        """A bare TCP connection: no handshake sent yet."""
        if label is None:
            self._labels += 1
            label = "c%d" % self._labels
        conn = Connection(self.transcript, label, self.host, self.port, deadline=self.deadline)
        self.connections.append(conn)
        return conn

    def session(self, label: str | None = None, *, timeout_ms: int = DEFAULT_SESSION_TIMEOUT_MS, **kw) -> Connection:
        """A connection with a completed handshake (the ConnectResponse is recorded)."""
        conn = self.connection(label)
        conn.connect(timeout_ms=timeout_ms, **kw)
        return conn

    def reconnect(
        self,
        old: Connection,
        label: str | None = None,
        *,
        timeout_ms: int | None = None,
        last_zxid_seen: int = 0,
        passwd: bytes | None = None,
        **kw,
    ) -> Connection:
        """A new connection resuming ``old``'s session (its id and password unless overridden)."""
        conn = self.connection(label)
        conn.connect(
            timeout_ms=timeout_ms
            if timeout_ms is not None
            else (old.negotiated_timeout_ms or DEFAULT_SESSION_TIMEOUT_MS),
            session_id=old.session_id or 0,
            passwd=old.passwd if passwd is None else passwd,
            last_zxid_seen=last_zxid_seen,
            **kw,
        )
        return conn

    def note(self, key: str, value) -> None:
        """Record a value computed by the scenario (compared like any field)."""
        self.transcript.note(key, value)

    def four_letter_word(self, cmd: str | bytes) -> str:
        """Send a four-letter word on a fresh connection and record the whole answer."""
        raw = cmd.encode() if isinstance(cmd, str) else cmd
        text = four_letter_word_raw(self.host, self.port, raw)
        fields = {"cmd": raw.decode("latin-1"), "output": text, "namespace": self.root[1:]}
        self.transcript.add(Event("4lw", "-", fields))
        return text

    def admin(self, command: str, query: dict[str, str] | None = None):
        """GET the AdminServer's ``<commandURL>/<command>`` and record the answer (an ``admin`` event).

        The event holds the HTTP status, the content type and the parsed JSON (or,
        for an answer that is not JSON such as the command list page, its text).
        ``command=""`` is the command URL itself.  Returns the JSON (or text).
        """
        status, ctype, body = admin_get(
            self.host, self.server.admin_port, servers.SETTINGS["admin.commandURL"], command, query,
            timeout_s=max(0.5, min(10.0, self.remaining_s())),
        )
        fields = {"command": command, "query": dict(query or {}), "status": status, "content_type": ctype}
        try:
            fields["json"] = json.loads(body)
        except ValueError:
            fields["text"] = body
        self.transcript.add(Event("admin", "-", fields))
        return fields.get("json", fields.get("text"))

    def remaining_s(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


# --- unrecorded admin work -----------------------------------------------------------------


def _admin(server) -> Connection:
    conn = Connection(Transcript(), "admin", server.host, server.port)
    ev = conn.connect(timeout_ms=ADMIN_TIMEOUT_MS)
    if ev is None or ev.kind != "connect_response" or not ev.fields.get("session_id"):
        raise RuntimeError("admin session could not connect: %r" % (ev,))
    return conn


def _close_admin(conn: Connection) -> int | None:
    ev = conn.close_session(timeout_s=5)
    conn.wait_close(5)
    conn.close_socket()
    return ev.fields.get("zxid") if ev is not None and ev.kind == "reply" else None


def _expect_ok(ev: Event | None, what: str, allowed=(Err.OK,)) -> None:
    if ev is None or ev.kind != "reply":
        raise RuntimeError("%s: no reply (%r)" % (what, ev))
    err = int(ev.fields["err"].split("(")[-1].rstrip(")"))
    if err not in [int(a) for a in allowed]:
        raise RuntimeError("%s: %s" % (what, ev.fields["err"]))


def setup_root(server, root: str) -> int | None:
    """Create the scenario's root; returns the server's last zxid before the admin session was created."""
    conn = _admin(server)
    try:
        _expect_ok(conn.auth("digest", ("%s:%s" % (servers.SUPER_USER, servers.SUPER_PASSWORD)).encode()), "auth super")
        first = conn.ping()
        before = first.fields["zxid"] - 1 if first is not None and first.kind == "reply" else None
        # A root left by an interrupted earlier run of the same scenario is removed first.
        _delete_tree(conn, root)
        _expect_ok(conn.create(root, b""), "create " + root)
    finally:
        _close_admin(conn)
    return before


def _children(conn: Connection, path: str) -> list[str] | None:
    ev = conn.get_children(path)
    if ev is None or ev.kind != "reply" or not ev.fields["err"].startswith("OK"):
        return None
    return list(ev.fields["body"]["children"])


def _delete_tree(conn: Connection, path: str) -> None:
    kids = _children(conn, path)
    if kids is None:
        return
    for k in kids:
        _delete_tree(conn, path.rstrip("/") + "/" + k)
    _expect_ok(conn.delete(path), "delete " + path, allowed=(Err.OK, Err.NONODE))


def cleanup(server, ctx: ScenarioContext) -> int | None:
    """Close every session the scenario opened, then delete its root (all unrecorded).

    A session counts as closed only when a closeSession on it was answered OK.  A
    refused reconnect (zero session id) proves nothing about the session it named:
    ZooKeeper refuses a wrong password without ending the session.  Every other
    session is resumed with the password the server gave it and closed, so none is
    left to expire (and consume a zxid) while a later scenario runs.  Returns the
    zxid of the last cleanup txn, for the runner's leak check.
    """
    for conn in ctx.connections:
        # a ConnectResponse the scenario never consumed still names a session to close
        if conn.awaiting_connect_response and not conn.closed:
            with conn.unrecorded():
                conn.next_event(1.0)
    sessions: dict[int, bytes] = {}
    dead: set[int] = set()
    for conn in ctx.connections:
        if conn.session_id:
            sessions.setdefault(conn.session_id, conn.passwd)
        if conn.session_closed and conn.session_id:
            dead.add(conn.session_id)
    # First on connections that are still open (no reconnect needed).
    for conn in ctx.connections:
        sid = conn.session_id
        if sid and sid not in dead and not conn.closed:
            conn.transcript = Transcript()  # unrecorded from here on
            conn.scenario_deadline = None
            conn.close_session(timeout_s=3)
            conn.wait_close(3)
            dead.add(sid)
    for sid, passwd in sessions.items():
        if sid in dead:
            continue
        conn = Connection(Transcript(), "cleanup", server.host, server.port)
        ev = conn.connect(timeout_ms=ADMIN_TIMEOUT_MS, session_id=sid, passwd=passwd)
        if ev is not None and ev.kind == "connect_response" and ev.fields.get("session_id"):
            conn.close_session(timeout_s=3)
            conn.wait_close(3)
        conn.close_socket()
    for conn in ctx.connections:
        conn.close_socket()
    admin = _admin(server)
    end_zxid = None
    try:
        _expect_ok(
            admin.auth("digest", ("%s:%s" % (servers.SUPER_USER, servers.SUPER_PASSWORD)).encode()), "auth super"
        )
        _delete_tree(admin, ctx.root)
        # a quota the scenario set on its root (zkCli setquota's nodes) goes with it
        _delete_tree(admin, "/zookeeper/quota" + ctx.root)
    finally:
        end_zxid = _close_admin(admin)
    return end_zxid


def epilogue(ctx: ScenarioContext) -> None:
    """Fence every live connection with a recorded ping, so queued frames are compared too."""
    for conn in ctx.connections:
        if conn.session_id and not conn.session_closed and not conn.closed and not conn.no_epilogue:
            conn.barrier()


def run_scenario(scenario: Scenario, server, previous_end_zxid: int | None = None) -> ScenarioResult:
    """Setup, scenario, epilogue, cleanup.  ``previous_end_zxid`` (the last zxid of the previous
    scenario's cleanup on this server) enables the leak check: any txn between the two means some
    earlier scenario left something behind that acted later (a session expiring, the reaper)."""
    transcript = Transcript()
    t0 = time.monotonic()
    notes = []
    try:
        before = setup_root(server, "/" + scenario.name)
        if previous_end_zxid is not None and before is not None and before != previous_end_zxid:
            notes.append(
                "leak check: %d txn(s) ran on this server between the previous scenario's cleanup and "
                "this scenario's setup" % (before - previous_end_zxid)
            )
    except Exception as e:  # the server could not even set up: that is a result too
        transcript.add(Event("error", "-", {"setup": "%s: %s" % (type(e).__name__, e)}))
        transcript.ended_ms = int(time.time() * 1000)
        return ScenarioResult(scenario, transcript, time.monotonic() - t0, setup_error=str(e))
    ctx = ScenarioContext(scenario, server, transcript)
    try:
        scenario.func(ctx)
        epilogue(ctx)
    except Exception as e:
        transcript.add(Event("error", "-", {"exception": "%s: %s" % (type(e).__name__, e)}))
        transcript.note_traceback = traceback.format_exc()
    transcript.ended_ms = int(time.time() * 1000)
    end_zxid = None
    try:
        end_zxid = cleanup(server, ctx)
    except Exception as e:
        notes.append("cleanup failed: %s: %s" % (type(e).__name__, e))
    res = ScenarioResult(scenario, transcript, time.monotonic() - t0, notes=notes)
    res.end_zxid = end_zxid
    return res
