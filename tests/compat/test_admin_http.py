"""The AdminServer over real HTTP: zkcompat's /commands answers, and their shape against Apache ZooKeeper 3.8's."""

from __future__ import annotations

import json

import pytest
from http_helpers import admin_port_of, http_get
from kazoo.client import KazooClient

from zkcompat.servers import RealZooKeeper, ZkcompatProcess, free_port, free_ports
from zkcompat.testing import EmbeddedServer


@pytest.fixture
def embedded():
    with EmbeddedServer(admin_port=0) as server:
        yield server


def command(base_url: str, name: str) -> dict:
    status, headers, body = http_get(base_url + "/" + name)
    assert status == 200, (name, status, body)
    assert headers["content-type"] == "application/json"
    return json.loads(body)


def test_monitor_follows_the_tree(embedded, kazoo):
    """znode_count, ephemerals and watches in /commands/monitor change as a client works."""
    before = command(embedded.admin_url, "monitor")
    for i in range(5):
        kazoo.create("/m%d" % i, b"x" * 10)
    kazoo.create("/m0/e", ephemeral=True)
    kazoo.get("/m1", watch=lambda event: None)
    after = command(embedded.admin_url, "monitor")
    assert after["znode_count"] == before["znode_count"] + 6
    assert after["ephemerals_count"] == before["ephemerals_count"] + 1
    assert after["watch_count"] == before["watch_count"] + 1
    assert after["approximate_data_size"] >= before["approximate_data_size"] + 50
    assert after["packets_received"] > before["packets_received"]
    assert after["num_alive_connections"] == 1 and after["server_state"] == "standalone"
    assert command(embedded.admin_url, "mntr")["znode_count"] == after["znode_count"]


def test_aliases_answer_with_the_primary_name(embedded, kazoo):
    """/commands/cons and /commands/connections are one command; the answer names the primary one."""
    kazoo.exists("/")
    cons = command(embedded.admin_url, "cons")
    assert cons["command"] == "connections" and cons["error"] is None
    [conn] = cons["connections"]
    assert conn["session_id"] == kazoo.client_id[0]
    assert conn["last_operation"] == "EXIS"
    assert command(embedded.admin_url, "stat")["command"] == "stats"
    assert command(embedded.admin_url, "srvr")["command"] == "server_stats"
    assert command(embedded.admin_url, "config")["client_port"] == embedded.port


def test_watches_and_dump_name_the_session(embedded, kazoo):
    """wchc / wchp / dump show this client's session with its watches and ephemerals."""
    sid = kazoo.client_id[0]
    kazoo.create("/w", b"")
    kazoo.create("/w/e", b"", ephemeral=True)
    kazoo.get("/w", watch=lambda event: None)
    assert command(embedded.admin_url, "wchc")["session_id_to_watched_paths"] == {str(sid): ["/w"]}
    assert command(embedded.admin_url, "wchp")["path_to_session_ids"] == {"/w": [sid]}
    assert command(embedded.admin_url, "dump")["session_id_to_ephemeral_paths"] == {str(sid): ["/w/e"]}


def test_stat_reset_over_http(embedded, kazoo):
    """srst zeroes the server's packet counters; crst zeroes each connection's."""
    kazoo.exists("/")
    assert command(embedded.admin_url, "srvr")["server_stats"]["packets_received"] > 0
    assert command(embedded.admin_url, "srst") == {"command": "stat_reset", "error": None}
    assert command(embedded.admin_url, "srvr")["server_stats"]["packets_received"] == 0
    command(embedded.admin_url, "crst")
    assert command(embedded.admin_url, "cons")["connections"][0]["last_operation"] == "NA"


def test_command_list_unknown_command_and_other_paths(embedded):
    """The command URL lists links; an unknown name answers 200 with an error; other paths are 404."""
    status, headers, page = http_get(embedded.admin_url)
    assert status == 200 and '<a href="/commands/monitor">monitor</a>\n<br/>\n' in page
    assert http_get(embedded.admin_url + "/")[2] == page
    assert command(embedded.admin_url, "nosuch") == {"command": "nosuch", "error": "Unknown command: nosuch"}
    status, _, _ = http_get("http://%s:%d/other" % (embedded.host, embedded.admin_port))
    assert status == 404
    answer = command(embedded.admin_url, "set_trace_mask?traceMask=306")
    assert answer["tracemask"] == 306


def test_embedded_server_has_no_admin_server_unless_asked():
    """EmbeddedServer() binds no HTTP port (ZooKeeper's 8080 clash is a classic test-suite failure)."""
    with EmbeddedServer() as server:
        assert server.admin_port == 0 and server.metrics_port == 0


def test_zkcompat_serve_reads_the_admin_keys_of_zoo_cfg():
    """`zkcompat serve` starts the AdminServer from admin.* keys, logs its bound port, serves commandURL."""
    cfg = {"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1", "admin.serverPort": "0",
           "admin.commandURL": "/zk"}
    with ZkcompatProcess(config=cfg) as proc:
        port = admin_port_of(proc)
        answer = command("http://127.0.0.1:%d/zk" % port, "ruok")
        assert answer == {"command": "ruok", "error": None}
        icfg = command("http://127.0.0.1:%d/zk" % port, "initial_configuration")["initial_configuration"]
        assert "admin.commandURL=/zk" in icfg
        assert http_get("http://127.0.0.1:%d/commands/ruok" % port)[0] == 404


def test_a_taken_admin_port_stops_a_standalone_server():
    """Like ZooKeeper, a standalone server whose AdminServer cannot bind exits with status 4."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        cfg = {"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1",
               "admin.serverPort": str(busy.getsockname()[1])}
        proc = ZkcompatProcess(config=cfg)
        with pytest.raises(Exception):
            proc.start(timeout=20)
        try:
            assert proc.proc is None or proc.proc.wait(10) == 4
        finally:
            proc.stop()


# --- against Apache ZooKeeper 3.8 ----------------------------------------------------------------

# keys whose names are data (session ids, paths, times, server ids): only their values' shapes count
_DATA_KEYED = {"expiry_time_to_session_ids", "session_id_to_ephemeral_paths", "session_id_to_watched_paths",
               "path_to_session_ids", "current_config"}
# Environment.list's entries that only a JVM has (zkcompat lists python.* and os.memory.rss instead)
_JAVA_ONLY_ENV = {"java.version", "java.vendor", "java.home", "java.class.path", "java.library.path",
                  "java.io.tmpdir", "java.compiler", "os.memory.free", "os.memory.max", "os.memory.total"}


def _kind(v) -> str:
    return "null" if v is None else {bool: "bool", int: "int", float: "float", str: "str",
                                     list: "list", dict: "dict"}[type(v)]


def _same_shape(ours, real, where: str, problems: list, data_keyed: bool = False) -> None:
    if _kind(ours) != _kind(real):
        problems.append("%s: %s here, %s in ZooKeeper (%r vs %r)" % (where, _kind(ours), _kind(real), ours, real))
        return
    if isinstance(ours, dict):
        if data_keyed:
            for k, v in ours.items():
                for rv in list(real.values())[:1]:
                    _same_shape(v, rv, "%s[%s]" % (where, k), problems)
            return
        if set(ours) != set(real):
            problems.append("%s: keys only here %s, only in ZooKeeper %s" % (
                where, sorted(set(ours) - set(real)), sorted(set(real) - set(ours))))
        for k in set(ours) & set(real):
            _same_shape(ours[k], real[k], "%s.%s" % (where, k), problems, data_keyed=k in _DATA_KEYED)
    elif isinstance(ours, list) and ours and real:
        for item in ours:
            _same_shape(item, real[0], where + "[]", problems)


def _work(hosts: str) -> KazooClient:
    client = KazooClient(hosts=hosts, timeout=10.0)
    client.start(timeout=30)
    client.create("/adm", b"data")
    client.create("/adm/e", b"", ephemeral=True)
    client.get("/adm", watch=lambda event: None)
    client.exists("/nope", watch=lambda event: None)
    return client


@pytest.mark.real_zookeeper
def test_every_command_has_zookeepers_keys_and_value_types():
    """Each /commands/<name> answer has the key set and value types of Apache ZooKeeper 3.8's (values differ)."""
    real_port = free_port()
    real = RealZooKeeper(extra_cfg={"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1",
                                    "admin.serverPort": str(real_port)})
    ours = ZkcompatProcess(config={"4lw.commands.whitelist": "*", "admin.enableServer": "true",
                                   "admin.serverAddress": "127.0.0.1", "admin.serverPort": "0"})
    with real, ours:
        real_url = "http://127.0.0.1:%d/commands" % real_port
        our_url = "http://127.0.0.1:%d/commands" % admin_port_of(ours)
        clients = [_work(real.hosts), _work(ours.hosts)]
        try:
            real_page = http_get(real_url)[2]
            our_page = http_get(our_url)[2]
            real_names = [line[line.index(">") + 1:line.index("</a>")] for line in real_page.splitlines()
                          if line.startswith("<a ")]
            our_names = [line[line.index(">") + 1:line.index("</a>")] for line in our_page.splitlines()
                         if line.startswith("<a ")]
            # system_properties lists the JVM's properties: there is no JVM here
            assert our_names == [n for n in real_names if n != "system_properties"]
            assert our_page == "".join('<a href="/commands/%s">%s</a>\n<br/>\n' % (n, n) for n in our_names)
            assert command(our_url, "system_properties")["error"] == "Unknown command: system_properties"
            problems: list[str] = []
            aliases = ["mntr", "srvr", "stat", "cons", "crst", "srst", "conf", "config", "wchc", "wchp", "wchs",
                       "envi", "env", "isro", "gtmk", "stmk", "lead", "lsnp", "icfg", "orst", "obsr", "nosuch"]
            for name in our_names + aliases:
                mine, theirs = command(our_url, name), command(real_url, name)
                assert list(mine)[-2:] == list(theirs)[-2:] or list(mine)[:2] == list(theirs)[:2], name
                assert mine["command"] == theirs["command"], name
                if name in ("monitor", "mntr"):
                    # ZooKeeper adds ~470 summaries of its internal queues: ours are a subset, typed alike
                    missing = set(mine) - set(theirs)
                    assert not missing, missing
                    for k in mine:
                        _same_shape(mine[k], theirs[k], "%s.%s" % (name, k), problems)
                    continue
                if name in ("environment", "env", "envi"):
                    theirs = {k: v for k, v in theirs.items() if k not in _JAVA_ONLY_ENV}
                    mine = {k: v for k, v in mine.items() if not k.startswith("python.") and k != "os.memory.rss"}
                _same_shape(mine, theirs, name, problems)
            assert not problems, "\n".join(problems)
        finally:
            for c in clients:
                c.stop()
                c.close()


class _RealEnsemble:
    """Apache ZooKeeper 3.8 voters and observers on loopback, each with its AdminServer on a free port."""

    def __init__(self, voters: int = 3, observers: int = 1):
        self.sids = list(range(1, voters + observers + 1))
        self.observers = set(self.sids[voters:])
        ports = iter(free_ports(4 * len(self.sids)))  # distinct, for every member at once
        self.ports = {s: {k: next(ports) for k in ("client", "quorum", "election", "admin")} for s in self.sids}
        self.procs: list = []
        self.root = None

    def start(self):
        import shutil
        import subprocess
        import tempfile
        import time
        from pathlib import Path

        from zkcompat.servers import ServerStartError, ensure_real_zookeeper_installed

        classpath = ensure_real_zookeeper_installed()
        self.root = Path(tempfile.mkdtemp(prefix="realens-"))
        lines = "".join("server.%d=127.0.0.1:%d:%d:%s;127.0.0.1:%d\n" % (
            s, p["quorum"], p["election"], "observer" if s in self.observers else "participant", p["client"])
            for s, p in self.ports.items())
        for s, p in self.ports.items():
            d = self.root / str(s)
            (d / "data").mkdir(parents=True)
            (d / "data" / "myid").write_text(str(s))
            cfg = ("tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s\n4lw.commands.whitelist=*\n"
                   "admin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n" % (d / "data", p["admin"])) + lines
            if s in self.observers:
                cfg += "peerType=observer\n"
            (d / "zoo.cfg").write_text(cfg)
            java = shutil.which("java") or "java"
            self.procs.append(subprocess.Popen(
                [java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classpath,
                 "-Dzookeeper.log.dir=%s" % d, "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(d / "zoo.cfg")],
                stdin=subprocess.DEVNULL, stdout=open(d / "out.log", "wb"), stderr=subprocess.STDOUT,
                start_new_session=True))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            modes = {s: self.mode(s) for s in self.sids}
            if all(m in ("leader", "follower", "observer") for m in modes.values()):
                return self
            time.sleep(0.1)
        raise ServerStartError("the real ensemble did not form: %s" % modes)

    def mode(self, sid):
        from zkcompat.servers import four_letter_word

        try:
            text = four_letter_word("127.0.0.1", self.ports[sid]["client"], "srvr", timeout=1.0)
        except OSError:
            return None
        return next((line[6:] for line in text.splitlines() if line.startswith("Mode: ")), None)

    def stop(self):
        import shutil

        for p in self.procs:
            p.kill()
            p.wait(10)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@pytest.mark.real_zookeeper
def test_ensemble_commands_have_zookeepers_keys_and_value_types():
    """Leader, follower and observer answer leader/voting_view/zabstate/srvr/... with ZooKeeper 3.8's shapes."""
    from zkcompat.servers import ZkcompatEnsemble

    admin_cfg = {"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1", "admin.serverPort": "0"}
    with _RealEnsemble() as real, ZkcompatEnsemble(3, observers=1, extra_cfg=admin_cfg) as ours:
        real_urls = {real.mode(s): "http://127.0.0.1:%d/commands" % real.ports[s]["admin"] for s in real.sids}
        our_urls = {ours.mode(s): "http://127.0.0.1:%d/commands" % admin_port_of(ours.members[s])
                    for s in sorted(ours.members)}
        assert set(real_urls) == set(our_urls) == {"leader", "follower", "observer"}
        problems: list[str] = []
        for role in ("leader", "follower", "observer"):
            for name in ("leader", "voting_view", "zabstate", "observers", "server_stats", "stats", "configuration",
                         "observer_connection_stat_reset", "last_snapshot", "is_read_only", "ruok"):
                mine, theirs = command(our_urls[role], name), command(real_urls[role], name)
                if name == "observers" and role == "leader":
                    # zkcompat's leader keeps no per-observer packet counters: its entries name sid and last_zxid
                    assert mine["synced_observers"] == theirs["synced_observers"] == 1
                    assert set(mine["observers"][0]) <= set(theirs["observers"][0])
                    continue
                _same_shape(mine, theirs, "%s %s" % (role, name), problems)
            mine, theirs = command(our_urls[role], "monitor"), command(real_urls[role], "monitor")
            assert not set(mine) - set(theirs), (role, set(mine) - set(theirs))
        assert not problems, "\n".join(problems)
        assert command(our_urls["leader"], "leader")["is_leader"] is True
        assert command(our_urls["observer"], "zabstate")["voting"] is False
        assert len(command(our_urls["follower"], "voting_view")["current_config"]) == 3
