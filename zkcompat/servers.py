"""Start ZooKeeper-protocol servers as processes: real Apache ZooKeeper and zkcompat.

Both classes share one shape (``start()``, ``stop()``, ``host``, ``port``,
``hosts``, context manager) so that the conformance suite, the compat tests
and the benchmark can run the same thing against either server.

``RealZooKeeper`` runs Debian's Apache ZooKeeper 3.8 (``apt-get install -y
zookeeper``; installed on demand when apt is there and we are root, or found
through ZOOKEEPER_CLASSPATH / ZOOKEEPER_HOME).  It is ready when ``srvr``
answers with a Mode line: the port opens before the server serves, and a
readiness ConnectRequest would itself create a session (a txn), which we avoid.

``ZkcompatProcess`` runs ``python -m zkcompat serve --port 0 --print-port`` and
reads the bound port from its first stdout line, so no port is ever guessed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEBIAN_JARS = Path("/usr/share/java")
# what Apache ZooKeeper's Netty connection factory (and so its TLS client port) needs besides zookeeper.jar
NETTY_JARS = tuple(str(DEBIAN_JARS / ("netty-%s.jar" % n)) for n in (
    "buffer", "codec", "common", "handler", "resolver", "transport", "transport-native-unix-common",
    "transport-native-epoll"))
ZKCLI = Path("/usr/share/zookeeper/bin/zkCli.sh")


TEST_JVM_FLAGS = ("-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


class ServerStartError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct free ports: all are held at once while they are chosen.

    Choosing them one at a time can give the same port twice (each is free again once its socket
    closes): two members of one ensemble then share an election port.
    """
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            socks.append(s)
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def four_letter_word(host: str, port: int, cmd: str, timeout: float = 5.0) -> str:
    """Send a four-letter word and return the whole answer (the server closes after it)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(cmd.encode("ascii"))
        chunks = []
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def ensure_real_zookeeper_installed() -> str:
    """Return the classpath of Apache ZooKeeper, installing Debian's package if needed."""
    env_cp = os.environ.get("ZOOKEEPER_CLASSPATH")
    if env_cp:
        return env_cp
    home = os.environ.get("ZOOKEEPER_HOME")
    if home:
        jars = sorted(str(p) for p in Path(home).glob("lib/*.jar")) + sorted(str(p) for p in Path(home).glob("*.jar"))
        if jars:
            return os.pathsep.join(jars)
    jar = DEBIAN_JARS / "zookeeper.jar"
    if not jar.exists():
        if shutil.which("apt-get") and os.geteuid() == 0:
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(["apt-get", "update"], check=False, env=env, stdout=subprocess.DEVNULL)
            subprocess.run(["apt-get", "install", "-y", "zookeeper"], check=True, env=env, stdout=subprocess.DEVNULL)
        if not jar.exists():
            raise ServerStartError(
                "Apache ZooKeeper is not installed: run `apt-get install -y zookeeper` "
                "or set ZOOKEEPER_HOME / ZOOKEEPER_CLASSPATH"
            )
    # zookeeper.jar's manifest names its dependencies; log4j + its slf4j binding give us a log;
    # Jetty (the AdminServer, when a test enables it) also needs the servlet API, which it does not name.
    extra = [DEBIAN_JARS / n for n in ("zookeeper-jute.jar", "slf4j-log4j12.jar", "log4j-1.2.jar",
                                       "servlet-api.jar")]
    return os.pathsep.join(str(p) for p in [jar, *extra] if p.exists())


class _ProcessServer:
    host = "127.0.0.1"
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def hosts(self) -> str:
        return "%s:%d" % (self.host, self.port)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def four_letter_word(self, cmd: str) -> str:
        return four_letter_word(self.host, self.port, cmd)

    def kill(self) -> None:
        """SIGKILL: the process dies without any cleanup, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def _terminate(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None


class RealZooKeeper(_ProcessServer):
    """One standalone Apache ZooKeeper server on a free loopback port, with a fresh data dir."""

    def __init__(
        self,
        *,
        tick_time: int = 2000,
        min_session_timeout: int | None = None,
        max_session_timeout: int | None = None,
        extended_types: bool = True,
        super_digest: str | None = None,
        jute_maxbuffer: int | None = None,
        four_letter_words: str = "*",
        max_client_cnxns: int | None = None,
        extra_cfg: dict[str, str] | None = None,
        system_properties: dict[str, str] | None = None,
        port: int | None = None,
        extra_classpath: tuple[str, ...] = (),
        jvm_flags: list[str] | None = None,
    ):
        self.tick_time = tick_time
        self.min_session_timeout = min_session_timeout
        self.max_session_timeout = max_session_timeout
        self.extended_types = extended_types
        self.super_digest = super_digest
        self.jute_maxbuffer = jute_maxbuffer
        self.four_letter_words = four_letter_words
        self.max_client_cnxns = max_client_cnxns
        self.extra_cfg = dict(extra_cfg or {})
        self.system_properties = dict(system_properties or {})
        self.requested_port = port
        self.extra_classpath = tuple(extra_classpath)
        # tests start many servers: a small heap and C1 only start fastest; the benchmark passes
        # [] for the JVM's defaults, as Debian's zkServer.sh runs it (JAVA_OPTS="")
        self.jvm_flags = list(TEST_JVM_FLAGS if jvm_flags is None else jvm_flags)
        self.workdir: Path | None = None

    @property
    def log_path(self) -> Path | None:
        return self.workdir / "log" / "zookeeper.log" if self.workdir else None

    def start(self, timeout: float = 60.0) -> RealZooKeeper:
        classpath = os.pathsep.join([ensure_real_zookeeper_installed(), *self.extra_classpath])
        self.workdir = Path(tempfile.mkdtemp(prefix="realzk-"))
        data = self.workdir / "data"
        logdir = self.workdir / "log"
        data.mkdir()
        logdir.mkdir()
        self.port = self.requested_port or free_port(self.host)
        cfg = {
            "tickTime": str(self.tick_time),
            "dataDir": str(data),
            "clientPort": str(self.port),
            "clientPortAddress": self.host,
            "admin.enableServer": "false",
            "4lw.commands.whitelist": self.four_letter_words,
        }
        if self.min_session_timeout is not None:
            cfg["minSessionTimeout"] = str(self.min_session_timeout)
        if self.max_session_timeout is not None:
            cfg["maxSessionTimeout"] = str(self.max_session_timeout)
        if self.max_client_cnxns is not None:
            cfg["maxClientCnxns"] = str(self.max_client_cnxns)
        cfg.update(self.extra_cfg)
        (self.workdir / "zoo.cfg").write_text("".join("%s=%s\n" % kv for kv in cfg.items()))
        (self.workdir / "log4j.properties").write_text(
            "log4j.rootLogger=INFO, FILE\n"
            "log4j.appender.FILE=org.apache.log4j.FileAppender\n"
            "log4j.appender.FILE.File=%s\n"
            "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.FILE.layout.ConversionPattern=%%d{ISO8601} - %%-5p [%%t:%%C{1}@%%L] - %%m%%n\n"
            % (logdir / "zookeeper.log")
        )
        props = {
            "zookeeper.log.dir": str(logdir),
            "log4j.configuration": "file:%s" % (self.workdir / "log4j.properties"),
            "zookeeper.extendedTypesEnabled": "true" if self.extended_types else "false",
        }
        if self.super_digest:
            props["zookeeper.DigestAuthenticationProvider.superDigest"] = self.super_digest
        if self.jute_maxbuffer is not None:
            props["jute.maxbuffer"] = str(self.jute_maxbuffer)
        props.update(self.system_properties)
        java = shutil.which("java") or "java"
        cmd = [java, *self.jvm_flags, "-cp", classpath]
        cmd += ["-D%s=%s" % kv for kv in props.items()]
        cmd += ["org.apache.zookeeper.server.quorum.QuorumPeerMain", str(self.workdir / "zoo.cfg")]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=open(logdir / "stdout.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError("real ZooKeeper exited with %s; see %s" % (self.proc.returncode, logdir))
            try:
                if "Mode:" in four_letter_word(self.host, self.port, "srvr", timeout=1.0):
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServerStartError("real ZooKeeper did not start serving within %.0fs" % timeout)

    def stop(self) -> None:
        self._terminate()
        if self.workdir is not None and not os.environ.get("ZKCOMPAT_KEEP_SERVER_DIRS"):
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


class ZkcompatProcess(_ProcessServer):
    """``zkcompat serve`` as users run it, in a subprocess, on a port it binds itself."""

    def __init__(self, *args: str, config: dict[str, str] | None = None, env: dict[str, str] | None = None,
                 port: int = 0):
        self.args = list(args)
        self.requested_port = port
        self.config = dict(config or {})
        self.env = env
        self.workdir: Path | None = None
        self.stderr_path: Path | None = None
        self.secure_port = 0  # the TLS client port, when the config has secureClientPort
        self._stdout = b""

    def start(self, timeout: float = 30.0) -> ZkcompatProcess:
        self.workdir = Path(tempfile.mkdtemp(prefix="zkcompat-"))
        self._stdout = b""
        cmd = [sys.executable, "-m", "zkcompat", "serve", "--host", self.host, "--port", str(self.requested_port),
               "--print-port"]
        # like RealZooKeeper: no AdminServer on port 8080 unless the test's config asks for one
        config = {"admin.enableServer": "false", **self.config}
        cfg = self.workdir / "zoo.cfg"
        cfg.write_text("".join("%s=%s\n" % kv for kv in config.items()))
        cmd += ["--config", str(cfg)]
        if "--data-dir" not in self.args and "--in-memory" not in self.args:
            cmd.append("--in-memory")
        cmd += self.args
        self.stderr_path = self.workdir / "stderr.log"
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=open(self.stderr_path, "wb"),
            env=dict(os.environ, **(self.env or {})),
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self._readline(timeout)
        try:
            self.port = int(line.strip())
            if "secureClientPort" in self.config:  # --print-port then prints the TLS port
                self.secure_port = int(self._readline(timeout).strip())
        except ValueError:
            self.stop()
            raise ServerStartError("zkcompat serve printed %r instead of its port; see %s" % (line, self.stderr_path))
        return self

    def _readline(self, timeout: float) -> str:
        import selectors

        assert self.proc is not None and self.proc.stdout is not None
        # read the pipe ourselves: a buffered readline could swallow the next line, which a
        # select() on the pipe would then wait for in vain (--print-port may print two lines)
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        try:
            while b"\n" not in self._stdout:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self.kill()
                    raise ServerStartError("zkcompat serve did not report its port within %.0fs" % timeout)
                chunk = os.read(fd, 4096)
                if not chunk:
                    break  # the process ended: what is left (maybe nothing) is the answer
                self._stdout += chunk
        finally:
            sel.close()
        line, _, self._stdout = self._stdout.partition(b"\n")
        return line.decode()

    def stop(self) -> None:
        self._terminate()
        if self.workdir is not None and not os.environ.get("ZKCOMPAT_KEEP_SERVER_DIRS"):
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


class ZkcompatEnsemble:
    """A zkcompat ensemble of ``zkcompat serve`` processes on loopback, one zoo.cfg each.

    Members are numbered from 1; ``kill(sid)`` is SIGKILL, ``restart(sid)`` starts it
    again with the same config.  ``leader()`` asks each live member's srvr for its Mode.
    """

    def __init__(self, size: int = 3, observers: int = 0, *, tick_time: int = 500, extra_cfg=None,
                 durable: bool = False):
        self.durable = durable
        self._dirs: dict[int, str] = {}
        self.size = size
        self.observers = observers
        self.tick_time = tick_time
        self.extra_cfg = dict(extra_cfg or {})
        self.members: dict[int, ZkcompatProcess] = {}
        self.ports: dict[int, int] = {}

    def _config(self) -> dict[str, str]:
        cfg = {"tickTime": str(self.tick_time), "initLimit": "10", "syncLimit": "5",
               "4lw.commands.whitelist": "*"}
        cfg.update(self.extra_cfg)
        for sid in range(1, self.size + self.observers + 1):
            role = "participant" if sid <= self.size else "observer"
            cfg["server.%d" % sid] = "127.0.0.1:%d:%d:%s;127.0.0.1:%d" % (
                self._quorum[sid], self._election[sid], role, self.ports[sid])
        return cfg

    def start(self, timeout: float = 30.0) -> ZkcompatEnsemble:
        total = self.size + self.observers
        ports = iter(free_ports(3 * total))
        self._quorum = {sid: next(ports) for sid in range(1, total + 1)}
        self._election = {sid: next(ports) for sid in range(1, total + 1)}
        self.ports = {sid: next(ports) for sid in range(1, total + 1)}
        try:
            for sid in range(1, total + 1):
                self._start_member(sid)
            self.wait_serving(set(range(1, total + 1)), timeout)
        except BaseException:
            self.stop()  # a `with` block whose start fails never reaches __exit__: no member may outlive it
            raise
        return self

    def _start_member(self, sid: int) -> None:
        args = ["--server-id", str(sid)]
        if self.durable:
            if sid not in self._dirs:
                self._dirs[sid] = tempfile.mkdtemp(prefix="zkcompat-member%d-" % sid)
            args += ["--data-dir", self._dirs[sid]]
        member = ZkcompatProcess(*args, config=self._config(), port=self.ports[sid])
        member.start()
        self.members[sid] = member

    @property
    def hosts(self) -> str:
        return ",".join("127.0.0.1:%d" % self.ports[s] for s in sorted(self.ports))

    def host(self, sid: int) -> str:
        return "127.0.0.1:%d" % self.ports[sid]

    def mode(self, sid: int) -> str | None:
        try:
            text = four_letter_word("127.0.0.1", self.ports[sid], "srvr", timeout=2.0)
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("Mode: "):
                return line[6:]
        return None

    def leader(self) -> int | None:
        for sid in sorted(self.members):
            if self.members[sid].proc is not None and self.mode(sid) == "leader":
                return sid
        return None

    def wait_serving(self, sids, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            modes = {sid: self.mode(sid) for sid in sids}
            if all(m in ("leader", "follower", "observer") for m in modes.values()):
                return
            time.sleep(0.05)
        raise ServerStartError("ensemble members %s not serving within %.0fs: %s" % (sorted(sids), timeout, modes))

    def kill(self, sid: int) -> None:
        self.members[sid].kill()
        self.members[sid].stop()

    def restart(self, sid: int) -> None:
        self._start_member(sid)

    def stop(self) -> None:
        for member in self.members.values():
            member.stop()
        if not os.environ.get("ZKCOMPAT_KEEP_SERVER_DIRS"):
            for d in self._dirs.values():
                shutil.rmtree(d, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
