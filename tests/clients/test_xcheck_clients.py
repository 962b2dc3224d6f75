"""Every client program of this suite, run once through ``zkcompat xcheck``.

A real Apache ZooKeeper 3.8 and a ``zkcompat serve`` are started alike (conftest.make_server),
both empty, with the cross-check proxy (zkcompat.xcheck.XCheckProxy) in front: the programs are
served by the real ZooKeeper while every request is mirrored to zkcompat in a parallel session
and the two answers are compared.  Each program must still pass all its checks (it talks to the
real server), and the proxy must report no divergence during its run except the intended
differences of conformance/intended_differences.toml (``INTENDED`` below: how each one shows as a
divergence of the proxy, keyed by its entry in that file, whose reason it quotes).

The programs run one after the other, in one module, against the same two servers (Curator
against two of its own, see ``xcheck_no_reaping``): each run's divergences are those the proxy
reported between its start and the moment the proxy has nothing left to compare, after the
sessions the program left open were closed through the proxy (see ``_close_left_sessions``).
Each test prints its counts (``-s``); the proxy's log is kept as xcheck.log / xcheck-curator.log
in the session's client-logs directory.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import socket
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from clientkit import Server, program_args, run_checks, unique_base
from tcp_proxy import CuttableProxy

from protocol import messages
from protocol import records as r
from protocol.codes import OpCode
from protocol.framing import FrameDecoder, frame
from tests.clients.conftest import make_server  # (by its package: tests/compat has a conftest too)
from tests.clients.test_c_client import BATCH, C_CHECKS, _cli_batch, _normalise
from tests.clients.test_go_client import GO_CHECKS
from tests.clients.test_java_client import (
    CURATOR_CHECKS,
    CURATOR_JARS,
    JVM_FLAGS,
    LOGGING_JARS,
    ZK_CHECKS,
    ZK_JARS,
    _classpath,
)
from tests.clients.test_node_client import NODE_CHECKS, NODE_DIR, PACKAGE
from zkcompat.xcheck import Divergence, XCheckProxy

INTENDED_FILE = Path(__file__).resolve().parents[2] / "conformance" / "intended_differences.toml"

pytestmark = pytest.mark.real_zookeeper

WAIT_S = 5.0  # how long one server may lag the other (the proxy's --wait)
SETTLE_S = 30.0  # how long the proxy may take to finish comparing after a program exits

_MULTI_RESULT_STAT = re.compile(r"^body\[\d+\]\.(type|body\.stat(\..+)?)$")

# How the intended differences between ZooKeeper 3.8.0 and zkcompat (conformance/
# intended_differences.toml, keyed by scenario there) show as a divergence of the proxy:
INTENDED = {
    # ZOOKEEPER-2623: a standalone check() is answered UNIMPLEMENTED; 3.8.0 never answers it
    "check.standalone.*": lambda d: d.op == "check" and d.fields == ["answer"],
    # ZOOKEEPER-2590: exists() on an existing node without READ is NOAUTH; 3.8.0 returns the Stat
    "acl.exists_requires_read*": lambda d: d.op == "exists" and ("err", "OK(0)", "NOAUTH(-102)") in d.differs
    and all(f == "err" or f.startswith("body") for f in d.fields),
    # ZOOKEEPER-4026: create2 inside multi answers a Create2Response (with its Stat); 3.8.0 a CreateResponse
    "multi.create2_result*": lambda d: d.op == "multi" and all(_MULTI_RESULT_STAT.match(f) for f in d.fields),
}


def intended_reason(div: Divergence) -> str | None:
    """The reason (from the toml) of the intended difference ``div`` is, or None."""
    reasons = {e["scenario"]: e["reason"] for e in tomllib.loads(INTENDED_FILE.read_text())["difference"]}
    for scenario, matches in INTENDED.items():
        if matches(div):
            return reasons[scenario]
    return None


@dataclass
class XCheck:
    server: Server  # what the programs are told: the proxy's address
    proxy: XCheckProxy
    log: io.StringIO


@dataclass
class CrossChecked:
    requests: int
    compared: int
    divergences: list[Divergence]

    def unexplained(self) -> list[Divergence]:
        return [d for d in self.divergences if intended_reason(d) is None]


@contextlib.contextmanager
def _servers_behind_xcheck(name: str, log_root: Path, **config):
    """Real ZooKeeper and zkcompat configured alike, both empty, behind one XCheckProxy."""
    real, cand = make_server("real", **config), make_server("zkcompat", **config)
    with ThreadPoolExecutor(2) as pool:
        started = [pool.submit(s.start) for s in (real, cand)]
        errors = [f.exception() for f in started]
    try:
        if any(errors):
            raise next(e for e in errors if e)
        log = io.StringIO()
        proxy = XCheckProxy((real.host, real.port), (cand.host, cand.port), wait_s=WAIT_S, log=log).start()
        try:
            yield XCheck(Server(proxy.hosts, proxy.host, proxy.port, "xcheck"), proxy, log)
        finally:
            proxy.stop()
            (log_root / ("%s.log" % name)).write_text(log.getvalue() + proxy.summary() + "\n")
    finally:
        for s in (real, cand):
            s.stop()


@pytest.fixture(scope="module")
def xcheck(log_root):
    """The servers (containers and TTL nodes checked every 100 ms) behind the proxy."""
    with _servers_behind_xcheck("xcheck", log_root) as xc:
        yield xc


@pytest.fixture
def xcheck_no_reaping(log_root):
    """Servers of their own for Curator, with the container reaper idle during the run.

    Curator's recipes leave empty lock containers behind, and each server deletes those on its
    own clock: a deleteContainer transaction is not a client request the proxy can put in order,
    so reads and stats straddling one differ by a zxid (or by the node itself) between the two
    servers.  Curator's checks do not wait for a container to go, so here the reaper's interval
    is ten minutes (ZkClientChecks, which does wait, runs with the 100 ms interval).
    """
    with _servers_behind_xcheck("xcheck-curator", log_root, container_check_ms="600000") as xc:
        yield xc


def _cross_check(xc: XCheck, run) -> tuple[object, CrossChecked]:
    """Run ``run()`` (one client program) and collect what the proxy found meanwhile."""
    proxy = xc.proxy
    before_div, before_req, before_cmp = len(proxy.divergences), proxy.requests, proxy.compared
    result = run()
    settled = proxy.wait_settled(SETTLE_S)
    _close_left_sessions(xc)
    settled = settled and proxy.wait_settled(SETTLE_S)
    found = CrossChecked(proxy.requests - before_req, proxy.compared - before_cmp,
                         list(proxy.divergences[before_div:]))
    assert settled, "the proxy still had answers to compare %gs after the program ended" % SETTLE_S
    return result, found


def _next_frame(sock: socket.socket, frames: FrameDecoder) -> bytes:
    while True:
        data = sock.recv(65536)
        assert data, "the server closed the connection before answering"
        got = frames.feed(data)
        if got:
            return got[0]


def _close_left_sessions(xc: XCheck) -> None:
    """Close, through the proxy, every session a program left open (a program that exits without
    closing its session leaves it to expire): an expiry is a transaction each server makes on its
    own clock, which would land in the middle of the next program on one server before the other.
    A session that already expired is answered so by both servers."""
    left = xc.proxy.call(lambda: [(pair.real_id, pair.real_passwd) for pair in xc.proxy.sessions.values()])
    for session_id, passwd in left:
        with socket.create_connection((xc.server.host, xc.server.port), timeout=WAIT_S) as sock:
            frames = FrameDecoder()
            req = r.ConnectRequest(protocol_version=0, last_zxid_seen=0, time_out=10000, session_id=session_id,
                                   passwd=passwd)
            sock.sendall(frame(messages.encode_connect_request(req, False)))
            if r.ConnectResponse.decode(_next_frame(sock, frames), 0)[0].session_id == 0:
                continue  # expired already
            sock.sendall(frame(r.RequestHeader(xid=1, type=OpCode.CLOSE_SESSION).to_bytes()))
            _next_frame(sock, frames)


def _assert_no_divergence(client: str, found: CrossChecked) -> None:
    print("%s: %d requests cross-checked, %d answers compared, %d divergences"
          % (client, found.requests, found.compared, len(found.divergences)))
    assert found.requests > 0
    bad = found.unexplained()
    assert not bad, "%s: %d divergences between ZooKeeper and zkcompat:\n%s" % (
        client, len(bad), "\n".join(d.to_text() for d in bad))


def _program(xc: XCheck, client: str, cmd_for, expected, log_root, **kw):
    proxy = CuttableProxy((xc.server.host, xc.server.port))
    try:
        cmd = cmd_for(program_args(xc.server, proxy, unique_base(client)))
        return run_checks(client, cmd, expected, log_dir=log_root / ("xcheck-" + client), **kw)
    finally:
        proxy.close()


def _java(main: str, jars: list[str]):
    def cmd_for(args, classes):
        cp = os.pathsep.join([str(classes), _classpath(jars + LOGGING_JARS)])
        return [shutil.which("java") or "java", *JVM_FLAGS, "-cp", cp, main, *args]
    return cmd_for


def test_intended_differences_are_those_of_the_toml():
    """Every difference matched here is an entry of intended_differences.toml, and matches only its own kind."""
    scenarios = {e["scenario"] for e in tomllib.loads(INTENDED_FILE.read_text())["difference"]}
    assert set(INTENDED) <= scenarios
    check = Divergence("c1", "check", 5, "", "(no answer)", "", [("answer", "(absent)", "present")])
    exists = Divergence("c1", "exists", 5, "", "", "", [("err", "OK(0)", "NOAUTH(-102)"),
                                                        ("body.stat.czxid", "Z+1", "(absent)")])
    multi = Divergence("c1", "multi", 5, "", "", "", [("body[0].type", "create", "create2"),
                                                      ("body[0].body.stat.czxid", "(absent)", "Z+1")])
    assert "ZOOKEEPER-2623" in intended_reason(check)
    assert "ZOOKEEPER-2590" in intended_reason(exists)
    assert "ZOOKEEPER-4026" in intended_reason(multi)
    not_intended = [
        Divergence("c1", "exists", 5, "", "", "", [("err", "OK(0)", "NONODE(-101)")]),
        Divergence("c1", "exists", 5, "", "", "", [("err", "OK(0)", "NOAUTH(-102)"), ("zxid", "Z+1", "Z+2")]),
        Divergence("c1", "multi", 5, "", "", "", [("body[0].err", "OK(0)", "NODEEXISTS(-110)")]),
        Divergence("c1", "get_data", 5, "", "", "", [("answer", "(absent)", "present")]),
    ]
    assert [intended_reason(d) for d in not_intended] == [None] * len(not_intended)


def test_java_client_through_xcheck(xcheck, java_classes, log_root):
    """ZkClientChecks through the proxy: all checks pass, no divergence."""
    cmd = _java("ZkClientChecks", ZK_JARS)
    run, found = _cross_check(xcheck, lambda: _program(
        xcheck, "ZkClientChecks", lambda a: cmd(a, java_classes), ZK_CHECKS, log_root, timeout=150))
    run.assert_complete()
    _assert_no_divergence("ZkClientChecks", found)


def test_curator_through_xcheck(xcheck_no_reaping, java_classes, log_root):
    """CuratorChecks through the proxy: all checks pass, no divergence."""
    cmd = _java("CuratorChecks", ZK_JARS + CURATOR_JARS)
    xcheck = xcheck_no_reaping
    run, found = _cross_check(xcheck, lambda: _program(
        xcheck, "CuratorChecks", lambda a: cmd(a, java_classes), CURATOR_CHECKS, log_root, timeout=150))
    run.assert_complete()
    _assert_no_divergence("CuratorChecks", found)


def test_c_client_through_xcheck(xcheck, c_binary, log_root):
    """zk_c_checks through the proxy: all checks pass, no divergence."""
    run, found = _cross_check(xcheck, lambda: _program(
        xcheck, "c-client", lambda a: [str(c_binary), *a], C_CHECKS, log_root, timeout=120))
    run.assert_complete()
    _assert_no_divergence("c-client", found)


def test_cli_mt_through_xcheck(xcheck):
    """cli_mt's batch commands through the proxy: the output ZooKeeper gives, no divergence."""
    base = unique_base("cli_mt")

    def run():
        parent = ""
        for part in base.strip("/").split("/"):
            parent += "/" + part
            _cli_batch(xcheck.server.hosts, "create %s" % parent)
        return [(_normalise(_cli_batch(xcheck.server.hosts, c.format(base=base)), base), want.format(base="{base}"))
                for c, want in BATCH]

    outputs, found = _cross_check(xcheck, run)
    assert [got for got, _ in outputs] == [want for _, want in outputs]
    _assert_no_divergence("cli_mt", found)


def test_go_client_through_xcheck(xcheck, go_binary, log_root):
    """zk_go_checks through the proxy: all checks pass, no divergence."""
    run, found = _cross_check(xcheck, lambda: _program(
        xcheck, "go-zookeeper", lambda a: [str(go_binary), *a], GO_CHECKS, log_root, timeout=120))
    run.assert_complete()
    _assert_no_divergence("go-zookeeper", found)


def test_node_client_through_xcheck(xcheck, log_root):
    """node/checks.js through the proxy: all checks pass, no divergence."""
    node = shutil.which("node")
    assert node and PACKAGE.exists(), "node and node-zookeeper-client are needed (tests/clients/install.sh)"
    run, found = _cross_check(xcheck, lambda: _program(
        xcheck, "node-zookeeper-client", lambda a: [node, str(NODE_DIR / "checks.js"), *a], NODE_CHECKS, log_root,
        timeout=120, cwd=NODE_DIR))
    run.assert_complete()
    _assert_no_divergence("node-zookeeper-client", found)
