"""Apache ZooKeeper's C client (Debian's libzookeeper-mt) and its cli_mt shell, against the server.

c/zk_c_checks.c is compiled once per session with gcc against libzookeeper_mt and prints one
CHECK line per feature.  cli_mt (Debian's zookeeper-bin) is driven two ways: batch mode
(``-c CMD``, one session per command) with its whole output compared to what it prints
against Apache ZooKeeper 3.8, and an interactive session fed line by line on stdin that
sees its watches fire.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from clientkit import (
    HERE,
    build,
    debian_version,
    program_args,
    record_result,
    record_row,
    require_file,
    require_tool,
    run_checks,
    unique_base,
)
from tcp_proxy import CuttableProxy

CLI_MT = Path("/usr/lib/zookeeper/bin/cli_mt")
HEADER = Path("/usr/include/zookeeper/zookeeper.h")
WAIT = 15.0

C_CHECKS = [
    "connect_session",
    "crud_and_stat",
    "create_errors",
    "create2_and_children2",
    "sequential_and_ephemeral",
    "watches",
    "watches_survive_reconnect",
    "multi",
    "acl_digest_and_auth",
    "acl_ip_and_world",
    "auth_failed_state",
    "remove_watches",
    "async_order",
    "chroot",
    "sync_and_getconfig",
    "ttl_and_container_create",
    "session_expiry",
]


def build_c_program(build_dir) -> Path:
    """zk_c_checks built with gcc against Debian's libzookeeper_mt."""
    require_tool("gcc", "apt-get install -y gcc")
    require_file(HEADER, "apt-get install -y libzookeeper-mt-dev")
    out = build_dir / "zk_c_checks"
    build(
        [
            "gcc",
            "-DTHREADED",
            "-O1",
            "-Wall",
            "-Wno-format-truncation",
            "-o",
            str(out),
            str(HERE / "c" / "zk_c_checks.c"),
            "-lzookeeper_mt",
            "-lpthread",
        ],
        what="the C client program",
    )
    return out


@pytest.fixture(scope="module")
def c_run(client_server, c_binary, log_root):
    """One run of zk_c_checks against the server."""
    proxy = CuttableProxy((client_server.host, client_server.port))
    try:
        cmd = [str(c_binary), *program_args(client_server, proxy, unique_base("c"))]
        run = run_checks("c-client", cmd, C_CHECKS, log_dir=log_root / "c", timeout=120)
    finally:
        proxy.close()
    record_result(
        run,
        name="Apache ZooKeeper C client (libzookeeper-mt)",
        version="%s (Debian libzookeeper-mt2)" % debian_version("libzookeeper-mt2"),
        covers="CRUD and Stat, create2/getChildren2, sequential and ephemeral nodes, zoo_wget/zoo_wexists/"
        "zoo_wget_children watches, watch re-registration after a forced reconnect, zoo_multi (and its "
        "failure results), zoo_add_auth/zoo_set_acl/zoo_get_acl with digest/ip/world/super, AUTH_FAILED, "
        "zoo_remove_watches, async pipelining order, chroot, sync, getconfig, TTL/container create, "
        "session expiry",
        server_target=client_server.target,
    )
    return run


@pytest.mark.parametrize("check", C_CHECKS)
def test_c_client(c_run, check):
    """The C client's check passes against the server."""
    c_run.assert_check(check)


def test_c_client_run_is_complete(c_run):
    """The C client program exits 0 and reports exactly the expected checks."""
    c_run.assert_complete()


# --- cli_mt ---------------------------------------------------------------------------------

_NOISE = re.compile(
    r"^(Batch mode: .*|Watcher SESSION_EVENT state = CONNECTED_STATE|Got a new session id: .*|time = \d+ msec)$"
)


def _normalise(text: str, base: str) -> str:
    """cli_mt's output without session chatter, times and zxids; the base path shown as {base}."""
    lines = []
    for line in text.splitlines():
        if _NOISE.match(line.strip()) or not line.strip():
            continue
        line = re.sub(r"^\t(c|m)time ?= ?.*$", r"\t\1time = T", line)
        line = re.sub(r"(c|m)zxid=[0-9a-f]+", r"\1zxid=Z", line)
        line = re.sub(r"ephemeralOwner = [1-9a-f][0-9a-f]*", "ephemeralOwner = SESSION", line)
        lines.append(line.replace(base, "{base}"))
    return "\n".join(lines)


def _cli_batch(hosts: str, command: str) -> str:
    proc = subprocess.run(
        [str(CLI_MT), "-h", hosts, "-c", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=WAIT,
        check=False,
    )
    assert proc.returncode == 0, "cli_mt -c %r exited %d:\n%s" % (command, proc.returncode, proc.stdout.decode())
    return proc.stdout.decode("utf-8", "replace")


# Each command runs in its own cli_mt session (batch mode exits when the command's completion
# arrives); commands answered synchronously (exists, wexists, myid) never end a batch session,
# so they are exercised in the interactive test below.  Expected outputs are Apache ZooKeeper
# 3.8's, including the order of children (Java HashSet order).
STAT = "\tctime = T\n\tczxid=Z\n\tmtime = T\n\tmzxid=Z\n\tversion=%d\taversion=0\n\tephemeralOwner = 0"
STAT0, STAT1 = STAT % 0, STAT % 1
BATCH = [
    ("create {base}/b", "Creating [{base}/b] node (mode: 0)\n[{base}/b]: rc = 0\n\tname = {base}/b"),
    ("set {base}/b hello", "{base}/b: rc = 0 Stat:\n" + STAT1),
    ("get {base}/b", "{base}/b: rc = 0\n value_len = 5\nhello\nStat:\n" + STAT1),
    ("create +e {base}/b/e", "Creating [{base}/b/e] node (mode: 1)\n[{base}/b/e]: rc = 0\n\tname = {base}/b/e"),
    (
        "create +s {base}/b/s-",
        "Creating [{base}/b/s-] node (mode: 2)\n[{base}/b/s-]: rc = 0\n\tname = {base}/b/s-0000000001",
    ),
    ("create2 {base}/b/c", "Creating [{base}/b/c] node (mode: 0)\n[{base}/b/c]: rc = 0\n\tname = {base}/b/c\n" + STAT0),
    ("create {base}/b/z", "Creating [{base}/b/z] node (mode: 0)\n[{base}/b/z]: rc = 0\n\tname = {base}/b/z"),
    ("create {base}/b/a", "Creating [{base}/b/a] node (mode: 0)\n[{base}/b/a]: rc = 0\n\tname = {base}/b/a"),
    ("ls {base}/b", "{base}/b: rc = 0\n\ta\n\ts-0000000001\n\tz\n\tc"),
    ("ls2 {base}/b", "{base}/b: rc = 0\n\ta\n\ts-0000000001\n\tz\n\tc\n" + STAT1),
    ("sync {base}/b", "[{base}/b]: rc = 0\n\tname = {base}/b"),
    ("delete {base}/b", "{base}/b: rc = -111"),
    ("delete {base}/b/c", "{base}/b/c: rc = 0"),
    ("create {base}/b", "Creating [{base}/b] node (mode: 0)\n[{base}/b]: rc = -110"),
    ("create {base}/x/y", "Creating [{base}/x/y] node (mode: 0)\n[{base}/x/y]: rc = -101"),
    ("get {base}/nope", "{base}/nope: rc = -101\nStat:\nnull"),
    ("set {base}/nope x", "{base}/nope: rc = -101 Stat:\nnull"),
    ("ls {base}/nope", "{base}/nope: rc = -101"),
    ("delete {base}/nope", "{base}/nope: rc = -101"),
    ("create +c {base}/cont", "Creating [{base}/cont] node (mode: 4)\n[{base}/cont]: rc = 0\n\tname = {base}/cont"),
    ("create +t=60000 {base}/ttl", "Creating [{base}/ttl] node (mode: 5)\n[{base}/ttl]: rc = 0\n\tname = {base}/ttl"),
    (
        "create2 +t=60000 {base}/ttl2",
        "Creating [{base}/ttl2] node (mode: 5)\n[{base}/ttl2]: rc = 0\n\tname = {base}/ttl2\n" + STAT0,
    ),
    ("get {base}/ttl", "{base}/ttl: rc = 0\n value_len = 3\nnew\nStat:\n" + STAT0),
    (
        "create +es {base}/b/es-",
        "Creating [{base}/b/es-] node (mode: 3)\n[{base}/b/es-]: rc = 0\n\tname = {base}/b/es-0000000005",
    ),
    ("config", "/zookeeper/config: rc = 0\n value_len = 0\nStat:\n" + STAT0.replace("aversion=0", "aversion=ffffffff")),
]


CLI_INTERACTIVE = "interactive session: watches fire, bad addauth ends it"
CLI_CHECKS = ["%02d %s" % (i, command.replace("{base}", "")) for i, (command, _) in enumerate(BATCH, 1)]
CLI_CHECKS.append(CLI_INTERACTIVE)


class CliMtResults:
    """The cli_mt row of the compatibility table, rewritten as each cli_mt test finishes."""

    def __init__(self, server):
        self.server = server
        self.passed: list[str] = []
        self.started = time.monotonic()

    def add(self, check: str) -> None:
        self.passed.append(check)

    def write(self) -> None:
        record_row(
            "cli_mt",
            name="cli_mt (the C client's shell)",
            version="%s (Debian zookeeper-bin)" % debian_version("zookeeper-bin"),
            covers="batch mode (create/create2 with +e/+s/+c/+t, set, get, ls, ls2, sync, delete, config, errors) "
            "compared line by line with its output against ZooKeeper 3.8; an interactive session whose "
            "exists/ls/get/wexists watches fire, ended by a failing addauth",
            server_target=self.server.target,
            expected=CLI_CHECKS,
            passed=self.passed,
            seconds=time.monotonic() - self.started,
        )


@pytest.fixture(scope="module")
def cli_mt(client_server):
    """A fresh base path for cli_mt (created), and the table row its tests fill in."""
    require_file(CLI_MT, "apt-get install -y zookeeper-bin")
    base = unique_base("cli_mt")
    parent = ""
    for part in base.strip("/").split("/"):
        parent += "/" + part
        _cli_batch(client_server.hosts, "create %s" % parent)
    results = CliMtResults(client_server)
    yield base, results
    results.write()


def test_cli_mt_batch_commands(client_server, cli_mt):
    """cli_mt -c prints, command by command, exactly what it prints against ZooKeeper 3.8."""
    base, results = cli_mt
    mismatches = []
    for (command, expected), check in zip(BATCH, CLI_CHECKS):
        got = _normalise(_cli_batch(client_server.hosts, command.format(base=base)), base)
        want = expected.format(base="{base}")
        if got != want:
            mismatches.append("--- %s\nexpected:\n%s\ngot:\n%s" % (command, want, got))
        else:
            results.add(check)
    assert not mismatches, "\n".join(mismatches)


class _Interactive:
    """A cli_mt session fed on stdin; its (merged) output lines are collected by a thread."""

    def __init__(self, hosts: str):
        self.proc = subprocess.Popen(
            [str(CLI_MT), "-h", hosts],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def expect(self, wanted: str) -> None:
        """Wait (bounded) for an output line equal to `wanted`."""
        deadline = time.monotonic() + WAIT
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "cli_mt never printed %r; it printed:\n%s" % (wanted, "\n".join(self.seen))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            assert line is not None, "cli_mt exited before printing %r; it printed:\n%s" % (
                wanted,
                "\n".join(self.seen),
            )
            self.seen.append(line)
            if line == wanted:
                return

    def close(self) -> int | None:
        if self.proc.poll() is None:
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
                return None
        return self.proc.returncode


def test_cli_mt_interactive_watches_and_auth_failure(client_server, cli_mt):
    """An interactive cli_mt session: exists/ls/get set watches that fire; a bad addauth ends it."""
    base, results = cli_mt
    p = base + "/interactive"
    _cli_batch(client_server.hosts, "create %s" % p)
    cli = _Interactive(client_server.hosts)
    try:
        cli.expect("Watcher SESSION_EVENT state = CONNECTED_STATE")
        cli.send("exists %s/w" % p)
        cli.expect("Error -101 for %s/w" % p)
        _cli_batch(client_server.hosts, "create %s/w" % p)
        cli.expect("Watcher CREATED_EVENT state = CONNECTED_STATE for path %s/w" % p)
        cli.send("ls %s" % p)
        cli.expect("\tw")
        _cli_batch(client_server.hosts, "create %s/k" % p)
        cli.expect("Watcher CHILD_EVENT state = CONNECTED_STATE for path %s" % p)
        cli.send("get %s/w" % p)
        cli.expect(" value_len = 3")
        _cli_batch(client_server.hosts, "set %s/w changed" % p)
        cli.expect("Watcher CHANGED_EVENT state = CONNECTED_STATE for path %s/w" % p)
        cli.send("wexists %s/k" % p)
        cli.send("sync %s" % p)  # wexists prints nothing when the node exists: sync fences it
        cli.expect("[%s]: rc = 0" % p)
        _cli_batch(client_server.hosts, "delete %s/k" % p)
        cli.expect("Watcher DELETED_EVENT state = CONNECTED_STATE for path %s/k" % p)
        cli.send("addauth nosuchscheme secret")
        cli.expect("Watcher SESSION_EVENT state = AUTH_FAILED_STATE")
        cli.expect("Authentication failure. Shutting down...")
        cli.send("quit")
    finally:
        rc = cli.close()
    assert rc == 0, "cli_mt exited %s; it printed:\n%s" % (rc, "\n".join(cli.seen))
    results.add(CLI_INTERACTIVE)
