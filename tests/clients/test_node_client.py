"""node-zookeeper-client (from the npm registry) against the server.

node/checks.js runs on Debian's node with the package installed by tests/clients/install.sh
into tests/clients/node/node_modules (pinned in node/package.json and package-lock.json); it
prints one CHECK line per feature.
"""

from __future__ import annotations

import json

import pytest
from clientkit import HERE, program_args, record_result, require_file, require_tool, run_checks, unique_base
from tcp_proxy import CuttableProxy

NODE_DIR = HERE / "node"
PACKAGE = NODE_DIR / "node_modules" / "node-zookeeper-client" / "package.json"

NODE_CHECKS = [
    "connect_session",
    "crud_and_stat",
    "create_errors",
    "sequential_and_ephemeral",
    "watches",
    "watches_survive_reconnect",
    "transaction",
    "acl_digest_ip_and_auth",
    "auth_failed",
    "chroot",
    "async_pipelining_order",
    "session_expiry",
]


@pytest.fixture(scope="module")
def node_run(client_server, log_root):
    """One run of node/checks.js against the server."""
    node = require_tool("node", "apt-get install -y nodejs")
    require_file(PACKAGE, "cd tests/clients/node && npm ci")
    version = json.loads(PACKAGE.read_text())["version"]
    proxy = CuttableProxy((client_server.host, client_server.port))
    try:
        cmd = [node, str(NODE_DIR / "checks.js"), *program_args(client_server, proxy, unique_base("node"))]
        run = run_checks(
            "node-zookeeper-client", cmd, NODE_CHECKS, log_dir=log_root / "node", timeout=120, cwd=NODE_DIR
        )
    finally:
        proxy.close()
    record_result(
        run,
        name="node-zookeeper-client",
        version="%s (npm)" % version,
        covers="CRUD and Stat, sequential/ephemeral nodes, mkdirp, data/child/exist watches, watch "
        "re-registration after a forced reconnect (setWatches), transactions (and their failure results), "
        "digest/ip/world ACLs and super, AUTH_FAILED, chroot, pipelining order, session expiry",
        server_target=client_server.target,
    )
    return run


@pytest.mark.parametrize("check", NODE_CHECKS)
def test_node_client(node_run, check):
    """The node-zookeeper-client check passes against the server."""
    node_run.assert_check(check)


def test_node_client_run_is_complete(node_run):
    """The Node program exits 0 and reports exactly the expected checks."""
    node_run.assert_complete()
