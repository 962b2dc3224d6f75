"""Apache ZooKeeper's Java client (Debian's 3.8) with SASL DIGEST-MD5 and over TLS.

The Java client brings its own DIGEST-MD5 (the JDK's SaslClient, which checks the
server's rspauth) and its own TLS stack (Netty with ZooKeeper's X509Util, PEM key and
trust stores).  One JVM per test runs ZooKeeperMain with one command; with
ZKCOMPAT_TARGET=real the same runs against Apache ZooKeeper 3.8.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from compat_helpers import target
from tls_certs import make_pki

from zkcompat.servers import DEBIAN_JARS, NETTY_JARS, ZKCLI, RealZooKeeper, ZkcompatProcess, free_port

SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
SERVER_JAAS = """Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_bob="bobpw";
};
"""
CLIENT_JAAS = """Client {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="bob"
    password="%s";
};
"""
TIMEOUT = 60


def _java_client(hosts: str, flags: list[str], *command: str) -> subprocess.CompletedProcess:
    if shutil.which("java") is None or not (DEBIAN_JARS / "zookeeper.jar").exists():
        pytest.fail("the Java client needs java and Debian's zookeeper package (apt-get install -y zookeeper)")
    classpath = ":".join([str(DEBIAN_JARS / "zookeeper.jar"), str(DEBIAN_JARS / "zookeeper-jute.jar"), *NETTY_JARS])
    cmd = ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", classpath, *flags,
           "org.apache.zookeeper.ZooKeeperMain", "-server", hosts, *command]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def sasl_server(tmp_path_factory):
    jaas = tmp_path_factory.mktemp("jaas") / "server.jaas"
    jaas.write_text(SERVER_JAAS)
    if target() == "real":
        server = RealZooKeeper(system_properties={"java.security.auth.login.config": str(jaas)},
                               extra_cfg={"authProvider.1": SASL_PROVIDER})
    else:
        server = ZkcompatProcess(config={"authProvider.1": SASL_PROVIDER}, env={"ZKCOMPAT_JAAS": str(jaas)})
    with server:
        yield server


def _client_jaas(tmp_path, password: str) -> str:
    path = tmp_path / "client.jaas"
    path.write_text(CLIENT_JAAS % password)
    return "-Djava.security.auth.login.config=%s" % path


def test_java_client_authenticates_with_digest_md5(sasl_server, tmp_path):
    """The JDK's DIGEST-MD5 client accepts our rspauth; whoami lists the sasl id."""
    run = _java_client(sasl_server.hosts, [_client_jaas(tmp_path, "bobpw")], "whoami")
    assert run.returncode == 0, run.stdout + run.stderr
    # (the client holds requests until SASL completes; its watcher events print on another
    # thread, which may not get to them before the JVM exits, so they are not checked)
    assert "\nsasl: bob\n" in run.stdout and "\nip: 127.0.0.1\n" in run.stdout


def test_zkcli_with_a_wrong_password_gets_auth_failed(sasl_server, tmp_path):
    """zkCli.sh as users run it (CLIENT_JVMFLAGS): the command fails with AuthFailed."""
    env = dict(os.environ, CLIENT_JVMFLAGS=_client_jaas(tmp_path, "wrong"))
    run = subprocess.run([str(ZKCLI), "-server", sasl_server.hosts, "ls", "/"], env=env, capture_output=True,
                         text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert "KeeperErrorCode = AuthFailed for /" in run.stdout + run.stderr


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(pki):
    cfg = {"ssl.keyStore.location": str(pki.server_keystore), "ssl.keyStore.type": "PEM",
           "ssl.trustStore.location": str(pki.truststore), "ssl.trustStore.type": "PEM"}
    if target() == "real":
        port = free_port()
        server = RealZooKeeper(extra_cfg=dict(cfg, secureClientPort=str(port)), extra_classpath=NETTY_JARS,
                               system_properties={"zookeeper.serverCnxnFactory":
                                                  "org.apache.zookeeper.server.NettyServerCnxnFactory"})
        server.secure_port = port
    else:
        server = ZkcompatProcess(config=dict(cfg, secureClientPort="0"))
    with server:
        yield server


def _tls_flags(keystore) -> list[str]:
    return ["-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
            "-Dzookeeper.client.secure=true",
            "-Dzookeeper.ssl.keyStore.location=%s" % keystore, "-Dzookeeper.ssl.keyStore.type=PEM"]


def test_java_client_over_tls_is_an_x509_identity(tls_server, pki, tmp_path):
    keystore = tmp_path / "client.pem"
    keystore.write_bytes(pki.client_key.read_bytes() + pki.client_cert.read_bytes())
    flags = _tls_flags(keystore) + ["-Dzookeeper.ssl.trustStore.location=%s" % pki.ca,
                                    "-Dzookeeper.ssl.trustStore.type=PEM"]
    run = _java_client("127.0.0.1:%d" % tls_server.secure_port, flags, "whoami")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "\nx509: CN=client,O=zkcompat tests\n" in run.stdout and "\nip: 127.0.0.1\n" in run.stdout
