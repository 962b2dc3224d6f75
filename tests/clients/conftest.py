"""Fixtures for the multi-language client suite: mainstream ZooKeeper clients, unmodified,
built in the test session from Debian's and npm's packages, run against the server.

By default the server is zkcompat (``python -m zkcompat serve``); with
``ZKCOMPAT_TARGET=real`` the same programs run against Apache ZooKeeper 3.8 (the
control run).  Both are configured alike: tickTime=2000, session timeouts
4000..40000 ms, extended types (TTL) on, a super digest for ``super:test``,
containers and TTL nodes checked every 100 ms, every four-letter word allowed.

Toolchains are installed by tests/clients/install.sh; a missing one fails the
test that needs it, with the package to install.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from clientkit import SUPER_PASSWORD, SUPER_USER, Server, target

from zkcompat.servers import RealZooKeeper, ZkcompatProcess


def _digest(user: str, password: str) -> str:
    import base64
    import hashlib

    raw = hashlib.sha1(("%s:%s" % (user, password)).encode()).digest()
    return "%s:%s" % (user, base64.b64encode(raw).decode())


CONTAINER_CHECK_MS = "100"


def make_server(kind: str | None = None, container_check_ms: str = CONTAINER_CHECK_MS):
    """The server of ``kind`` ('real' or 'zkcompat'; default: the target), configured as above."""
    super_digest = _digest(SUPER_USER, SUPER_PASSWORD)
    if (kind or target()) == "real":
        return RealZooKeeper(
            tick_time=2000,
            min_session_timeout=4000,
            max_session_timeout=40000,
            extended_types=True,
            super_digest=super_digest,
            four_letter_words="*",
            system_properties={"znode.container.checkIntervalMs": container_check_ms},
        )
    return ZkcompatProcess(
        config={
            "tickTime": "2000",
            "minSessionTimeout": "4000",
            "maxSessionTimeout": "40000",
            "extendedTypesEnabled": "true",
            "DigestAuthenticationProvider.superDigest": super_digest,
            "4lw.commands.whitelist": "*",
            "znode.container.checkIntervalMs": container_check_ms,
        }
    )


@pytest.fixture(scope="session")
def client_server():
    """The server under test for the whole session, as a clientkit.Server."""
    server = make_server()
    server.start()
    try:
        yield Server(hosts=server.hosts, host=server.host, port=server.port, target=target())
    finally:
        server.stop()


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory) -> Path:
    """Where the client programs are compiled (a temp dir, never the checkout)."""
    return tmp_path_factory.mktemp("client-builds")


@pytest.fixture(scope="session")
def log_root(tmp_path_factory) -> Path:
    """Where each program's stdout/stderr are kept for post-mortems."""
    return tmp_path_factory.mktemp("client-logs")


# The client programs, built once per session for every module that runs them (the build
# functions live with the tests of each client).


@pytest.fixture(scope="session")
def java_classes(build_dir) -> Path:
    """ZkClientChecks and CuratorChecks compiled with javac into a temp dir."""
    from tests.clients.test_java_client import compile_java_programs

    return compile_java_programs(build_dir)


@pytest.fixture(scope="session")
def c_binary(build_dir) -> Path:
    """zk_c_checks built with gcc against Debian's libzookeeper_mt."""
    from tests.clients.test_c_client import build_c_program

    return build_c_program(build_dir)


@pytest.fixture(scope="session")
def go_binary(build_dir) -> Path:
    """zk_go_checks built with `go build` in GOPATH mode, offline."""
    from tests.clients.test_go_client import build_go_program

    return build_go_program(build_dir)
