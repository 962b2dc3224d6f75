"""A cuttable TCP proxy, so a client program can force its own reconnect.

Clients under test connect to ``proxy.hosts`` instead of the server.  The client
program itself drives the proxy over a tiny line protocol on ``control_port``
(one command per line, one ``ok ...`` answer line each):

- ``hold``    — from now on, new connections are accepted and closed at once, so
                the client keeps failing to reconnect (its session stays alive);
- ``cut``     — close every live connection (answer: ``ok <n>``, n = connections cut);
- ``release`` — forward new connections again;
- ``count``   — ``ok <n>``: live connections right now.

So "hold, cut, change things through a direct client, release" makes a client miss
events while disconnected and then reconnect with the same session: exactly what
makes it re-register its watches with setWatches/setWatches2.
"""

from __future__ import annotations

import socket
import threading


class CuttableProxy:
    """Forward 127.0.0.1:<port> to ``upstream`` (host, port); controlled on ``control_port``."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._held = False
        self._closed = False
        self.accepted = 0  # connections forwarded (not counting those refused while held)
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._control = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.control_port = self._control.getsockname()[1]
        self._threads = [
            threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True),
            threading.Thread(target=self._control_loop, name="proxy-control", daemon=True),
        ]
        for t in self._threads:
            t.start()

    @property
    def hosts(self) -> str:
        return "127.0.0.1:%d" % self.port

    # -- forwarding -------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                held = self._held or self._closed
            if held:
                _close(conn)
                continue
            try:
                up = socket.create_connection(self.upstream, timeout=10)
                up.settimeout(None)
            except OSError:
                _close(conn)
                continue
            for s in (conn, up):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (conn, up)
            with self._lock:
                self._pairs.add(pair)
                self.accepted += 1
            threading.Thread(target=self._pump, args=(conn, up, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, conn, pair), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        self._drop(pair)

    def _drop(self, pair) -> bool:
        with self._lock:
            if pair not in self._pairs:
                return False
            self._pairs.discard(pair)
        for s in pair:
            _close(s)
        return True

    def cut(self) -> int:
        """Close every live connection; answer how many were cut."""
        with self._lock:
            pairs = list(self._pairs)
        n = sum(1 for p in pairs if self._drop(p))
        self.cuts += n
        return n

    def hold(self, flag: bool = True) -> None:
        with self._lock:
            self._held = flag

    def live(self) -> int:
        with self._lock:
            return len(self._pairs)

    # -- control ----------------------------------------------------------------------------

    def _control_loop(self) -> None:
        while True:
            try:
                conn, _ = self._control.accept()
            except OSError:
                return
            threading.Thread(target=self._serve_control, args=(conn,), daemon=True).start()

    def _serve_control(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb", buffering=0) as f:
            for raw in f:
                cmd = raw.decode("ascii", "replace").strip().lower()
                if cmd == "hold":
                    self.hold(True)
                    answer = "ok"
                elif cmd == "release":
                    self.hold(False)
                    answer = "ok"
                elif cmd == "cut":
                    answer = "ok %d" % self.cut()
                elif cmd == "count":
                    answer = "ok %d" % self.live()
                elif cmd == "":
                    continue
                else:
                    answer = "error unknown command %r" % cmd
                f.write((answer + "\n").encode())

    def close(self) -> None:
        with self._lock:
            self._closed = True
        for s in (self._listener, self._control):
            _close(s)
        self.cut()


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
