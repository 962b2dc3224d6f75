"""AdminServer command data (zkcompat.core.admin) on the core with a fake clock, and its Jackson-style JSON."""

from __future__ import annotations

import os

from protocol.codes import OpCode
from zkcompat.core import admin, fourlw
from zkcompat.core.config import QuorumServer
from zkcompat.core.stats import LATENCY_BUCKETS_MS, OpLatency

from .corekit import CoreClient, make_server
from .zabsim import SimNet


def connected(server, **kw):
    c = CoreClient(server).connect(**kw)
    assert c.session_id != 0
    return c


def test_every_answer_ends_with_command_and_error():
    """A command's answer holds its own keys, then "command" (the primary name, also for an alias), then "error"."""
    server, clock = make_server()
    for cmd in admin.COMMANDS:
        for name in cmd.names:
            answer = admin.run_command(server, name)
            assert list(answer)[-2:] == ["command", "error"] or list(answer)[:2] == ["error", "command"], name
            assert answer["command"] == cmd.primary_name
    assert list(admin.run_command(server, "mntr")) == list(admin.run_command(server, "monitor"))


def test_unknown_command_and_a_server_that_does_not_serve():
    """Unknown names get ZooKeeper's error; server-bound commands refuse while there is no quorum."""
    server, clock = make_server()
    assert admin.run_command(server, "nosuch") == {"command": "nosuch", "error": "Unknown command: nosuch"}
    server.serving = False
    assert admin.run_command(server, "srvr") == {
        "command": "srvr", "error": "This ZooKeeper instance is not currently serving requests"}
    # monitor, environment, zabstate and the trace mask answer anyway (isServerRequired() is false)
    assert admin.run_command(server, "mntr")["error"] is None
    assert admin.run_command(server, "zabstate")["error"] is None


def test_leader_on_a_standalone_server_puts_the_error_first():
    """LeaderCommand sets its own error on a standalone server; the error key stays in front."""
    server, clock = make_server()
    answer = admin.run_command(server, "lead")
    assert list(answer.items()) == [("error", "server is not initialized"), ("command", "leader")]


def test_monitor_json_agrees_with_mntr_text():
    """/commands/monitor and the mntr four-letter word report the same figures, typed in JSON."""
    server, clock = make_server()
    c = connected(server)
    c.create("/a", b"hello")
    c.get_data("/a", watch=True)
    answer = admin.run_command(server, "monitor")
    text = dict(fourlw.monitor(server))
    for key, value in answer.items():
        if key in ("command", "error") or key == "open_file_descriptor_count":
            continue
        assert "zk_" + key in text, key
        if isinstance(value, float):
            assert text["zk_" + key] == fourlw.java_double(value)
        else:
            assert text["zk_" + key] == str(value)
    assert isinstance(answer["avg_latency"], float) and isinstance(answer["znode_count"], int)
    assert answer["znode_count"] == server.tree.node_count
    assert answer["watch_count"] == 1 and answer["global_sessions"] == 1


def test_connections_and_stat_resets():
    """connections lists full per-connection figures; crst and srst reset them as the 4lw words do."""
    server, clock = make_server()
    c = connected(server, timeout=10000)
    c.create("/x")
    c.get_data("/x")
    conns = admin.run_command(server, "cons")["connections"]
    assert len(conns) == 1
    info = conns[0]
    assert info["session_id"] == c.session_id and info["session_timeout"] == 10000
    assert info["last_operation"] == "GETD" and info["packets_received"] == 3
    assert info["remote_socket_address"] == "127.0.0.1:%d" % c.conn.remote_port
    brief = admin.run_command(server, "stat")["connections"][0]
    assert set(brief) == {"remote_socket_address", "interest_ops", "outstanding_requests", "packets_received",
                          "packets_sent"}
    assert admin.run_command(server, "srvr")["server_stats"]["packets_received"] == 3
    assert admin.run_command(server, "crst")["error"] is None
    info = admin.run_command(server, "connections")["connections"][0]
    assert info["packets_received"] == 0 and info["last_operation"] == "NA" and info["last_cxid"] == -1
    admin.run_command(server, "srst")
    stats = admin.run_command(server, "server_stats")["server_stats"]
    assert stats["packets_received"] == 0 and stats["max_latency"] == 0


def test_watches_dump_and_signed_session_ids():
    """Session ids print as Java longs: a server id above 127 gives negative ids, map keys are strings."""
    server, clock = make_server(server_id=200)
    c = connected(server)
    java_sid = c.session_id
    assert java_sid < 0
    c.create("/w")
    c.create("/w/e", flags=1)  # ephemeral
    c.get_data("/w", watch=True)
    c.exists("/nope", watch=True)
    assert admin.run_command(server, "wchc")["session_id_to_watched_paths"] == {str(java_sid): ["/w", "/nope"]}
    assert admin.run_command(server, "wchp")["path_to_session_ids"] == {"/w": [java_sid], "/nope": [java_sid]}
    summary = admin.run_command(server, "wchs")
    assert (summary["num_connections"], summary["num_paths"], summary["num_total_watches"]) == (1, 2, 2)
    dump = admin.run_command(server, "dump")
    assert dump["session_id_to_ephemeral_paths"] == {str(java_sid): ["/w/e"]}
    [(due, sids)] = dump["expiry_time_to_session_ids"].items()
    assert sids == [java_sid] and int(due) >= clock.now_ms()


def test_set_trace_mask_takes_a_long_argument():
    """set_trace_mask wants traceMask=<long>; get_trace_mask and gtmk then report it."""
    server, clock = make_server()
    saved = fourlw.get_trace_mask()
    try:
        assert admin.run_command(server, "stmk")["error"] == "setTraceMask requires long traceMask argument"
        assert admin.run_command(server, "stmk", {"traceMask": "0x10"})["error"] == (
            "setTraceMask requires long traceMask argument, got 0x10")
        assert admin.run_command(server, "stmk", {"traceMask": "9223372036854775808"})["error"] is not None
        assert admin.run_command(server, "set_trace_mask", {"traceMask": "-5"})["tracemask"] == -5
        assert admin.run_command(server, "gtmk")["tracemask"] == -5
        server.config.four_letter_words = frozenset({"gtmk"})
        assert fourlw.run(server, "gtmk", None, b"") == "-5"
    finally:
        fourlw.set_trace_mask(saved)


def test_last_snapshot_and_dirs_read_the_data_dir(tmp_path):
    """last_snapshot names the newest snapshot file's zxid in hex; dirs sums the version-2 files."""
    server, clock = make_server()
    assert admin.run_command(server, "lsnp")["zxid"] == "ffffffffffffffff"
    assert admin.run_command(server, "lsnp")["timestamp"] == -1
    v2 = tmp_path / "version-2"
    v2.mkdir()
    (v2 / "snapshot.0").write_bytes(b"x" * 10)
    (v2 / "snapshot.1a").write_bytes(b"y" * 20)
    (v2 / "log.1").write_bytes(b"z" * 5)
    os.utime(v2 / "snapshot.1a", (1700000000, 1700000000))
    server.config.data_dir = str(tmp_path)
    answer = admin.run_command(server, "last_snapshot")
    assert (answer["zxid"], answer["timestamp"]) == ("1a", 1700000000)
    assert admin.run_command(server, "dirs")["datadir_size"] == 35
    server.config.four_letter_words = frozenset({"dirs"})
    assert fourlw.run(server, "dirs", None, b"") == "datadir_size: 35\nlogdir_size: 35\n"
    conf = admin.run_command(server, "conf")
    assert conf["data_dir"] == str(v2) and conf["tick_time"] == 2000


def test_ensemble_member_answers_leader_voting_view_and_zabstate():
    """On a simulated ensemble: leader names the leader, voting_view lists voters, zabstate is broadcast."""
    net = SimNet(seed=7)
    net.run(5000)
    lead = net.leader()
    assert lead is not None
    assert net.create(net.client(lead), "/x") == 0
    net.run(1000)
    servers = {sid: QuorumServer(sid, "127.0.0.%d" % sid, 2000 + sid, 3000 + sid, "participant", "127.0.0.1",
                                 4000 + sid) for sid in (1, 2, 3)}
    for sid in (1, 2, 3):
        peer = net.peers[sid]
        peer.server.config.servers = servers
        answer = admin.run_command(peer.server, "leader", peer=peer)
        assert answer == {"is_leader": sid == lead, "leader_id": lead, "leader_ip": "127.0.0.%d" % lead,
                          "command": "leader", "error": None}
        zab = admin.run_command(peer.server, "zabstate", peer=peer)
        assert zab["zabstate"] == "broadcast" and zab["voting"] is True and zab["myid"] == sid
        assert zab["is_leader"] == (sid == lead) and zab["client_address"] == "127.0.0.1:%d" % (4000 + sid)
        assert zab["quorum_address"]["one"] == "127.0.0.%d:%d" % (sid, 2000 + sid)
        assert int(zab["last_zxid"], 16) == (zab["zab_epoch"] << 32) + zab["zab_counter"] > 0
        view = admin.run_command(peer.server, "voting_view", peer=peer)["current_config"]
        assert len(view) == 3 and view["2"] == {
            "server_addresses": ["127.0.0.2:2002"], "election_addresses": ["127.0.0.2:3002"],
            "client_address": "127.0.0.1:4002", "learner_type": "participant"}
    assert admin.run_command(net.peers[lead].server, "srvr", peer=net.peers[lead])["proposal_stats"] == {
        "last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1}


def test_render_json_prints_like_jackson():
    """Objects indent two spaces per level, arrays stay on one line, empties are `{ }` / `[ ]` (golden text)."""
    answer = {"connections": [{"remote_socket_address": "127.0.0.1:1", "packets_sent": 6}], "secure_connections": [],
              "session_id_to_watched_paths": {"7": ["/a", "/nope"]}, "current_config": {},
              "avg_latency": 3.8333, "zero": 0.0, "read_only": False, "command": "x", "error": None}
    assert admin.render_json(answer) == (
        '{\n'
        '  "connections" : [ {\n'
        '    "remote_socket_address" : "127.0.0.1:1",\n'
        '    "packets_sent" : 6\n'
        '  } ],\n'
        '  "secure_connections" : [ ],\n'
        '  "session_id_to_watched_paths" : {\n'
        '    "7" : [ "/a", "/nope" ]\n'
        '  },\n'
        '  "current_config" : { },\n'
        '  "avg_latency" : 3.8333,\n'
        '  "zero" : 0.0,\n'
        '  "read_only" : false,\n'
        '  "command" : "x",\n'
        '  "error" : null\n'
        '}')
    # control characters as Jackson escapes them (upper-case hex); a literal backslash stays text
    assert admin.render_json(["a\x1fb", "\\u00ab", "/é\n"]) == '[ "a\\u001Fb", "\\\\u00ab", "/é\\n" ]'
    # ZooKeeper 3.8's exact bytes for ruok
    assert admin.render_json({"command": "ruok", "error": None}) == '{\n  "command" : "ruok",\n  "error" : null\n}'


def test_command_index_links_primary_names():
    """The command list links every primary name under the command URL, sorted, one per line."""
    page = admin.command_index("/commands")
    assert page.startswith('<a href="/commands/configuration">configuration</a>\n<br/>\n')
    assert page.count("<a href=") == len(admin.COMMANDS)
    assert '<a href="/commands/mntr">' not in page


def test_op_latency_histogram_counts_and_buckets():
    """Per-op counts are cumulative over the buckets; fast-path reads land in the first bucket."""
    h = OpLatency()
    h.observe(OpCode.CREATE, 0)
    h.observe(OpCode.CREATE, 3)
    h.observe(OpCode.CREATE, 10**6)
    h.count_instant(OpCode.GET_DATA)
    snap = h.snapshot()
    cumulative, count, sum_ms = snap["create"]
    assert count == 3 and sum_ms == 10**6 + 3
    assert len(cumulative) == len(LATENCY_BUCKETS_MS) + 1
    assert cumulative[0] == 1 and cumulative[LATENCY_BUCKETS_MS.index(5)] == 2 and cumulative[-1] == 3
    assert snap["getData"] == ([1] * (len(LATENCY_BUCKETS_MS) + 1), 1, 0)


def test_core_records_per_op_latency_on_both_paths():
    """Writes (the pipeline) and fast-path reads both reach the per-op histogram with ZooKeeper's op names."""
    server, clock = make_server()
    c = connected(server)
    c.create("/p")
    c.get_data("/p")
    c.exists("/p")
    snap = server.op_latency.snapshot()
    assert snap["create"][1] == 1 and snap["getData"][1] == 1 and snap["exists"][1] == 1


def test_zoo_cfg_admin_and_metrics_keys(tmp_path):
    """admin.* and metricsProvider.* parse into ServerConfig with ZooKeeper's defaults; the file text is kept."""
    from zkcompat.config import config_from_properties, load_config

    defaults = config_from_properties({})
    assert (defaults.admin_enable_server, defaults.admin_server_address, defaults.admin_server_port,
            defaults.admin_command_url) == (True, "0.0.0.0", 8080, "/commands")
    assert not defaults.prometheus_enabled and defaults.metrics_http_port == 7000
    text = ("admin.enableServer=false\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=9090\n"
            "admin.commandURL=/zk\n"
            "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n"
            "metricsProvider.httpHost=127.0.0.2\nmetricsProvider.httpPort=7001\n")
    (tmp_path / "zoo.cfg").write_text(text)
    cfg = load_config(tmp_path / "zoo.cfg")
    assert (cfg.admin_enable_server, cfg.admin_server_address, cfg.admin_server_port, cfg.admin_command_url) == (
        False, "127.0.0.1", 9090, "/zk")
    assert cfg.prometheus_enabled and (cfg.metrics_http_host, cfg.metrics_http_port) == ("127.0.0.2", 7001)
    assert cfg.initial_config == text
    # ZooKeeper reads admin.* as system properties too: the zookeeper. prefix is accepted
    assert config_from_properties({"zookeeper.admin.enableServer": "FALSE"}).admin_enable_server is False


# --- figures checked against Apache ZooKeeper 3.8 by the conformance suite (conformance/scenarios/admin.py) ---


def test_node_count_counts_the_root_under_both_its_names():
    """A fresh server has 4 znodes and reports 5, as ZooKeeper's nodes map holds the root as "" and "/"."""
    server, clock = make_server()
    assert admin.run_command(server, "srvr")["node_count"] == 5
    assert admin.run_command(server, "mntr")["znode_count"] == 5
    assert "Node count: 5\n" in server.run_four_letter_word("srvr", None, b"")
    c = connected(server)
    c.create("/a")
    assert admin.run_command(server, "srvr")["node_count"] == 6


def test_client_response_sizes_follow_replies_and_notifications_until_srst():
    """last/min/max response sizes: -1 at first, then each reply's and notification's length; srst resets them."""
    server, clock = make_server()

    def sizes():
        st = admin.run_command(server, "server_stats")
        mntr = admin.run_command(server, "monitor")
        assert st["client_response"] == st["server_stats"]["client_response_stats"]
        assert (mntr["last_client_response_size"], mntr["min_client_response_size"],
                mntr["max_client_response_size"]) == tuple(st["client_response"].values())
        return tuple(st["client_response"].values())

    assert sizes() == (-1, -1, -1)
    w = connected(server)
    assert sizes() == (-1, -1, -1)  # the ConnectResponse is no client response
    w.create("/x")  # header 16 + path "/x" (4 + 2)
    assert sizes() == (22, 22, 22)
    w.get_data("/x", watch=True)  # header 16 + data (4 + 0) + Stat 68
    assert sizes() == (88, 22, 88)
    c = connected(server)
    c.set_data("/x", b"abc")  # w's notification: header 16 + type, state 8 + path 6; then c's reply 16 + 68
    assert len(w.notifications()) == 1 and sizes() == (84, 22, 88)
    c.delete("/x")
    assert sizes() == (16, 16, 88)
    admin.run_command(server, "srst")
    assert sizes() == (-1, -1, -1)
    assert admin.run_command(server, "leader")["error"]  # standalone: proposal sizes never apply


def test_a_connect_response_is_a_packet_sent():
    """NIOServerCnxn counts every buffer it writes: the ConnectResponse is the connection's first packet sent."""
    server, clock = make_server()
    c = connected(server)
    [info] = admin.run_command(server, "cons")["connections"]
    assert (info["packets_received"], info["packets_sent"]) == (1, 1)
    assert admin.run_command(server, "srvr")["server_stats"]["packets_sent"] == 1
    c.exists("/")
    [info] = admin.run_command(server, "cons")["connections"]
    assert (info["packets_received"], info["packets_sent"]) == (2, 2)


def test_hash_entries_carry_the_digest_version():
    """Each digest-log entry is ZooKeeper's ZxidDigest: zxid, digest, digest_version (2)."""
    server, clock = make_server()
    c = connected(server)
    for i in range(128):
        c.create("/n%d" % i)
    [entry] = admin.run_command(server, "hash")["digests"]
    assert list(entry) == ["zxid", "digest", "digest_version"]
    assert entry["zxid"] == 128 and entry["digest_version"] == 2
    assert entry["digest"] == server.tree.digest_log[0][1]


def test_dump_lists_a_session_whose_ephemerals_were_all_deleted():
    """ZooKeeper's ephemerals map keeps a session's emptied set until the session ends: dump still lists it."""
    server, clock = make_server(four_letter_words=frozenset({"dump"}))
    c = connected(server)
    c.create("/e", flags=1)
    c.delete("/e")
    assert admin.run_command(server, "dump")["session_id_to_ephemeral_paths"] == {str(c.session_id): []}
    text = server.run_four_letter_word("dump", None, b"")
    assert "Sessions with Ephemerals (1):\n0x%x:\nConnections dump:" % c.session_id in text
    c.close_session()
    assert admin.run_command(server, "dump")["session_id_to_ephemeral_paths"] == {}


def _java_bucket_order(keys, hash_fn):
    """Iteration order of a fresh java.util.HashMap (16 buckets) filled with ``keys`` in order."""
    def bucket(k):
        h = hash_fn(k)
        return (h ^ (h >> 16)) & 15
    return sorted(keys, key=lambda k: (bucket(k), keys.index(k)))


def test_watch_reports_iterate_like_the_fresh_java_maps_zookeeper_builds():
    """wchp's paths and session ids, and wchc's sessions, come in the order of Java HashMaps/HashSets."""
    from zkcompat.core.javahash import java_string_hash

    def long_hash(v):
        v &= (1 << 64) - 1
        return (v ^ (v >> 32)) & 0xFFFFFFFF

    server, clock = make_server()
    clients = [connected(server) for _ in range(6)]
    paths = ["/w", "/missing", "/a/b/c", "/zz", "/q"]
    for c in clients:
        for p in paths:
            c.exists(p, watch=True)
    by_path = admin.run_command(server, "wchp")["path_to_session_ids"]
    assert list(by_path) == _java_bucket_order(paths, java_string_hash) != paths
    sids = [c.session_id for c in clients]
    for p in paths:
        assert by_path[p] == _java_bucket_order(sids, long_hash)
    by_session = admin.run_command(server, "wchc")["session_id_to_watched_paths"]
    assert list(by_session) == [str(s) for s in _java_bucket_order(sids, long_hash)]
    assert all(v == _java_bucket_order(paths, java_string_hash) for v in by_session.values())


def test_environment_names_the_architecture_as_the_jvm_does():
    """os.arch is the JVM's name for the machine (amd64 on x86_64 Linux), as tools reading envi expect."""
    assert fourlw.java_os_arch("Linux", "x86_64") == "amd64"
    assert fourlw.java_os_arch("Linux", "i686") == "i386"
    assert fourlw.java_os_arch("Linux", "aarch64") == "aarch64"
    assert fourlw.java_os_arch("Darwin", "arm64") == "aarch64"


def test_an_auth_packet_answered_authfailed_is_not_counted_as_an_auth_failure():
    """auth_failed_count counts failed TLS client-certificate authentications only (ZooKeeper 3.8's Netty factory)."""
    from protocol.codes import Err

    server, clock = make_server()
    c = connected(server)
    assert c.auth("nope", b"x").err == Err.AUTHFAILED and c.closed
    assert admin.run_command(server, "srvr")["server_stats"]["auth_failed_count"] == 0
    assert admin.run_command(server, "mntr")["auth_failed_count"] == 0
