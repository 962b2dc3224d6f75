"""go-zookeeper (github.com/samuel/go-zookeeper/zk from Debian's package) against the server.

go/zk_go_checks.go is built once per session with Debian's Go in GOPATH mode against
/usr/share/gocode (GO111MODULE=off: nothing is downloaded) and prints one CHECK line per feature.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from clientkit import (
    HERE,
    build,
    debian_version,
    program_args,
    record_result,
    require_file,
    require_tool,
    run_checks,
    unique_base,
)
from tcp_proxy import CuttableProxy

GOCODE = Path("/usr/share/gocode")
GO_ZK = GOCODE / "src/github.com/samuel/go-zookeeper/zk"

GO_CHECKS = [
    "connect_session",
    "crud_and_stat",
    "create_errors",
    "sequential_and_ephemeral",
    "watches",
    "watches_survive_reconnect",
    "multi",
    "acl_digest_and_auth",
    "lock",
    "sync",
    "session_expiry_by_timeout",
]


def build_go_program(build_dir) -> Path:
    """zk_go_checks built with `go build` in GOPATH mode, offline, caches in a temp dir."""
    go = require_tool("go", "apt-get install -y golang-go")
    require_file(GO_ZK, "apt-get install -y golang-github-samuel-go-zookeeper-dev")
    out = build_dir / "zk_go_checks"
    env = dict(
        os.environ,
        GOPATH=str(GOCODE),
        GO111MODULE="off",
        GOFLAGS="",
        GOPROXY="off",
        GOCACHE=str(build_dir / "gocache"),
        CGO_ENABLED="0",
    )
    build([go, "build", "-o", str(out), str(HERE / "go" / "zk_go_checks.go")], env=env, what="the Go client program")
    return out


@pytest.fixture(scope="module")
def go_run(client_server, go_binary, log_root):
    """One run of zk_go_checks against the server."""
    proxy = CuttableProxy((client_server.host, client_server.port))
    try:
        cmd = [str(go_binary), *program_args(client_server, proxy, unique_base("go"))]
        run = run_checks("go-zookeeper", cmd, GO_CHECKS, log_dir=log_root / "go", timeout=120)
    finally:
        proxy.close()
    record_result(
        run,
        name="go-zookeeper (github.com/samuel/go-zookeeper/zk)",
        version="%s (Debian golang-github-samuel-go-zookeeper-dev)"
        % debian_version("golang-github-samuel-go-zookeeper-dev"),
        covers="CRUD and Stat, sequential/ephemeral/protected nodes, GetW/ExistsW/ChildrenW watches and the raw "
        "notification stream, watch re-registration after a forced reconnect (setWatches), Multi (and its "
        "failure results), digest/world/ip ACLs and super, zk.NewLock, sync, session expiry by timeout",
        server_target=client_server.target,
    )
    return run


@pytest.mark.parametrize("check", GO_CHECKS)
def test_go_client(go_run, check):
    """The go-zookeeper check passes against the server."""
    go_run.assert_check(check)


def test_go_client_run_is_complete(go_run):
    """The Go program exits 0 and reports exactly the expected checks."""
    go_run.assert_complete()
