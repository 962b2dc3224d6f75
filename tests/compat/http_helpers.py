"""HTTP helpers for the AdminServer and /metrics tests: plain GETs and ports read from a server's log."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request


def http_get(url: str, timeout: float = 10.0, headers: dict | None = None) -> tuple[int, dict, str]:
    """GET ``url``: (status, lower-cased headers, body text), for error statuses too."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode("utf-8", "replace")


def port_from_log(path, pattern: str, timeout: float = 10.0) -> int:
    """Wait until the log at ``path`` has a line matching ``pattern`` (one group: the port)."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        try:
            text = open(path, encoding="utf-8", errors="replace").read()
        except OSError:
            text = ""
        m = rx.search(text)
        if m:
            return int(m.group(1))
        if time.monotonic() > deadline:
            raise AssertionError("no line matching %r in %s:\n%s" % (pattern, path, text[-2000:]))
        time.sleep(0.02)


def admin_port_of(process) -> int:
    """The AdminServer port a ``zkcompat serve`` process logged (it may have bound port 0)."""
    return port_from_log(process.stderr_path, r"AdminServer serving on http://[^\s]*:(\d+)/")


def metrics_port_of(process) -> int:
    return port_from_log(process.stderr_path, r"Prometheus metrics serving on http://[^\s]*:(\d+)/metrics")
