"""Tests of the conformance harness itself: recording, normalisation, comparison, intended differences.

Nothing here starts ZooKeeper: transcripts are built by hand or recorded from a tiny
scripted TCP peer, so each test shows that a specific wrong answer is reported (and
that normalisation does not hide a changed field).  The one test that runs real
servers is marked ``real_zookeeper``.
"""

from __future__ import annotations

import copy
import shutil
import socket
import threading

import pytest

from conformance import intended as intended_mod
from conformance.client import Connection, Event, Transcript, decode_multi_body
from conformance.compare import compare
from conformance.normalize import Normalizer, normalize_4lw, normalize_admin
from conformance.report import summary_line
from conformance.runner import Outcome
from conformance.scenarios import all_scenarios
from protocol import records as r
from protocol.framing import frame

SESSION_A = 0x0100000ABCDE0000
SESSION_B = 0x0100000ABCDE0001
NOW_MS = 1_800_000_000_000


def stat(czxid, mzxid, pzxid, ctime, mtime, version=0, cversion=0, owner=0, num_children=0):
    return {
        "czxid": czxid,
        "mzxid": mzxid,
        "ctime": ctime,
        "mtime": mtime,
        "version": version,
        "cversion": cversion,
        "aversion": 0,
        "ephemeral_owner": owner,
        "data_length": 0,
        "num_children": num_children,
        "pzxid": pzxid,
    }


def reference_transcript(base_zxid=100, base_time=NOW_MS, session=SESSION_A, other=SESSION_B, children=("a", "b")):
    """A plausible recorded scenario: connect, create, getData, a notification, getChildren."""
    t = Transcript()
    t.started_ms = base_time - 1000
    t.ended_ms = base_time + 1000
    z = base_zxid
    t.add(
        Event(
            "connect_response",
            "c1",
            {
                "protocol_version": 0,
                "time_out": 10000,
                "session_id": session,
                "passwd": bytes([session % 250 + 1]) * 16,
                "read_only": False,
            },
        )
    )
    t.add(
        Event(
            "connect_response",
            "c2",
            {
                "protocol_version": 0,
                "time_out": 10000,
                "session_id": other,
                "passwd": bytes([other % 250 + 1]) * 16,
                "read_only": False,
            },
        )
    )
    t.add(Event("reply", "c1", {"op": "create", "xid": 1, "zxid": z, "err": "OK(0)", "body": {"path": "/r/a"}}))
    t.add(
        Event(
            "reply",
            "c1",
            {
                "op": "set_data",
                "xid": 2,
                "zxid": z + 1,
                "err": "OK(0)",
                "body": {"stat": stat(z, z + 1, z, base_time, base_time + 5, version=1, owner=session)},
            },
        )
    )
    t.add(
        Event(
            "notification",
            "c2",
            {"xid": -1, "zxid": -1, "err": "OK(0)", "event": {"type": 3, "state": 3, "path": "/r/a"}},
        )
    )
    t.add(
        Event(
            "reply",
            "c2",
            {"op": "get_children", "xid": 1, "zxid": z + 1, "err": "OK(0)", "body": {"children": list(children)}},
        )
    )
    return t


def diffs_between(ref: Transcript, cand: Transcript, **kw):
    return compare(Normalizer(ref, **kw).events(), Normalizer(cand, **kw).events())


# --- normalisation keeps what two correct servers share ------------------------------------------


def test_two_servers_with_different_zxids_times_and_sessions_match():
    ref = reference_transcript()
    cand = reference_transcript(base_zxid=7000, base_time=NOW_MS + 123456, session=0x77, other=0x99)
    assert diffs_between(ref, cand) == []


def test_a_changed_error_code_is_a_difference():
    ref, cand = reference_transcript(), reference_transcript()
    cand.events[2].fields["err"] = "NODEEXISTS(-110)"
    d = diffs_between(ref, cand)
    assert [(x.ref_index, x.field, x.real, x.ours) for x in d] == [(2, "err", "OK(0)", "NODEEXISTS(-110)")]


def test_a_changed_version_is_a_difference():
    ref, cand = reference_transcript(), reference_transcript()
    cand.events[3].fields["body"]["stat"]["version"] = 2
    d = diffs_between(ref, cand)
    assert [(x.field, x.real, x.ours) for x in d] == [("body.stat.version", 1, 2)]


def test_a_zxid_distance_of_two_instead_of_one_is_a_difference():
    ref = reference_transcript()
    cand = reference_transcript(base_zxid=500)
    ev = cand.events[3]
    ev.fields["zxid"] = 502  # one txn too many between the create and the setData
    ev.fields["body"]["stat"]["mzxid"] = 502
    d = diffs_between(ref, cand)
    fields = {x.field: (x.real, x.ours) for x in d}
    assert fields["zxid"] == ("Z+1", "Z+2")
    assert fields["body.stat.mzxid"] == ("Z+1", "Z+2")


def test_sentinel_zxids_stay_literal():
    ref, cand = reference_transcript(), reference_transcript()
    cand.events[4].fields["zxid"] = 0  # a notification zxid must be -1, not "some zxid"
    d = diffs_between(ref, cand)
    assert [(x.field, x.real, x.ours) for x in d] == [("zxid", -1, 0)]


def test_an_extra_notification_is_reported_once_as_an_extra_event():
    ref, cand = reference_transcript(), reference_transcript()
    cand.events.insert(5, copy.deepcopy(cand.events[4]))
    d = diffs_between(ref, cand)
    assert len(d) == 1
    assert d[0].ref_index is None and d[0].cand_index == 5 and d[0].real == "(absent)"
    assert "notification" in d[0].ours


def test_a_missing_reply_is_reported():
    ref, cand = reference_transcript(), reference_transcript()
    del cand.events[5]
    cand.add(Event("timeout", "c2", {"waiting_for": "reply xid 1"}))
    d = diffs_between(ref, cand)
    assert any(x.ref_index == 5 and x.ours == "(absent)" for x in d)
    assert any("timeout" in str(x.ours) for x in d)


def test_a_different_order_of_children_is_a_difference_unless_relaxed():
    ref, cand = reference_transcript(children=("a", "b")), reference_transcript(children=("b", "a"))
    d = diffs_between(ref, cand)
    assert [(x.field, x.real, x.ours) for x in d] == [("body.children", ["a", "b"], ["b", "a"])]
    assert diffs_between(ref, cand, children_order="sorted") == []


def test_a_different_set_of_children_differs_even_when_relaxed():
    ref, cand = reference_transcript(children=("a", "b")), reference_transcript(children=("a", "c"))
    assert diffs_between(ref, cand, children_order="sorted") != []


def test_session_identity_is_compared_not_session_value():
    ref, cand = reference_transcript(), reference_transcript(session=5, other=6)
    # the candidate says the node is owned by the *other* session
    cand.events[3].fields["body"]["stat"]["ephemeral_owner"] = 6
    d = diffs_between(ref, cand)
    assert [(x.field, x.real, x.ours) for x in d] == [("body.stat.ephemeral_owner", "session#1", "session#2")]


def test_container_and_ttl_owners_stay_literal():
    ref, cand = reference_transcript(), reference_transcript()
    ref.events[3].fields["body"]["stat"]["ephemeral_owner"] = -(1 << 63)
    cand.events[3].fields["body"]["stat"]["ephemeral_owner"] = -(1 << 56) | 5000
    d = diffs_between(ref, cand)
    assert [(x.real, x.ours) for x in d] == [("0x8000000000000000", "0xff00000000001388")]


def test_passwords_by_identity_and_zero_password_literal():
    ref, cand = reference_transcript(), reference_transcript()
    cand.events[1].fields["passwd"] = cand.events[0].fields["passwd"]  # two sessions, one password
    d = diffs_between(ref, cand)
    assert [(x.field, x.real, x.ours) for x in d] == [("passwd", "passwd#2", "passwd#1")]
    ref2, cand2 = reference_transcript(), reference_transcript()
    cand2.events[0].fields["passwd"] = b"\x00" * 16
    assert diffs_between(ref2, cand2)[0].ours == b"\x00" * 16


def test_time_going_backwards_is_a_difference():
    ref, cand = reference_transcript(), reference_transcript()
    st = cand.events[3].fields["body"]["stat"]
    st["mtime"] = st["ctime"] - 10  # later txn, earlier time
    d = diffs_between(ref, cand)
    assert {x.field for x in d} == {"body.stat.ctime", "body.stat.mtime"}


def test_time_outside_the_scenario_window_is_a_difference():
    ref, cand = reference_transcript(), reference_transcript()
    cand.events[3].fields["body"]["stat"]["mtime"] = 1234  # seconds instead of ms, say
    assert any(x.field == "body.stat.mtime" for x in diffs_between(ref, cand))


def test_one_zxid_with_two_times_is_a_difference():
    ref, cand = reference_transcript(), reference_transcript()
    st = cand.events[3].fields["body"]["stat"]
    st["mzxid"] = st["czxid"]  # same zxid as the create, yet a different time
    assert any(x.field.endswith("mtime") for x in diffs_between(ref, cand))


def test_equal_times_of_distinct_txns_are_not_compared():
    ref, cand = reference_transcript(), reference_transcript()
    st = cand.events[3].fields["body"]["stat"]
    st["mtime"] = st["ctime"]  # both txns in the same millisecond: legitimate
    assert diffs_between(ref, cand) == []


def test_data_bytes_are_compared_literally():
    ref, cand = reference_transcript(), reference_transcript()
    ref.events[2].fields["body"]["data"] = b"abc"
    cand.events[2].fields["body"]["data"] = b"abd"
    assert [x.field for x in diffs_between(ref, cand)] == ["body.data"]


# --- four-letter words ---------------------------------------------------------------------------


def test_srvr_zxid_goes_through_the_zxid_map_and_numbers_are_masked():
    t = Transcript()
    t.add(Event("reply", "c1", {"op": "ping", "xid": -2, "zxid": 0x20, "err": "OK(0)"}))
    t.add(
        Event(
            "4lw",
            "-",
            {
                "cmd": "srvr",
                "output": "Zookeeper version: 3.8.0-x\nLatency min/avg/max: 0/1.5/9\nZxid: 0x22\nMode: standalone\n",
            },
        )
    )
    lines = Normalizer(t).events()[1].fields
    d = dict(lines)
    assert d["output.001"] == "Latency min/avg/max: N/N/N"
    assert d["output.002"] == "Zxid: Z+2"


def test_mntr_keeps_keys_and_text_values():
    out = normalize_4lw("mntr", "zk_version\t3.8.0\nzk_server_state\tstandalone\nzk_avg_latency\t0.5\n")
    assert out[:4] == ["zk_version\t*", "zk_server_state\tstandalone", "zk_avg_latency\t*", ""]
    assert normalize_4lw("mntr", "zk_a\t1\nzk_b\t2\n") != normalize_4lw("mntr", "zk_b\t1\nzk_a\t2\n")


def test_mntr_per_namespace_metrics_reduce_to_the_scenarios_own_root():
    text = ("zk_version\t3.8.0\nzk_avg_other_read_per_namespace\t5\nzk_cnt_mine_write_per_namespace\t3\n"
            "zk_sum_mine_write_per_namespace\t9\nzk_znode_count\t5\n")
    out = normalize_4lw("mntr", text, None, "mine")
    assert out == ["zk_version\t*", "zk_znode_count\t*", "",
                   "per-namespace metrics of this scenario's root: zk_cnt_<root>_write_per_namespace, "
                   "zk_sum_<root>_write_per_namespace"]


def test_envi_keeps_keys_in_order():
    assert normalize_4lw("envi", "Environment:\nhost.name=x\njava.version=17\n") == [
        "Environment:",
        "host.name=*",
        "java.version=*",
        "",
    ]


# --- AdminServer answers ---------------------------------------------------------------------------


def admin_event(answer, command=None, query=None):
    name = command if command is not None else answer.get("command", "")
    return Event("admin", "-", {"command": name, "query": dict(query or {}), "status": 200,
                                "content_type": "application/json", "json": answer})


def admin_transcript(*answers, session=SESSION_A):
    t = reference_transcript(session=session)
    for a in answers:
        t.add(admin_event(a))
    return t


def configuration(port, tick=2000, data_dir="/tmp/x/version-2"):
    return {"client_port": port, "data_dir": data_dir, "data_log_dir": data_dir, "tick_time": tick,
            "command": "configuration", "error": None}


def test_admin_masks_only_what_its_table_names():
    """configuration: the port and data dirs are masked (typed); tick_time and the rest are compared."""
    a = admin_transcript(configuration(2181))
    b = admin_transcript(configuration(40123, data_dir="(in memory)"))
    assert diffs_between(a, b) == []
    fields = dict(Normalizer(a).events()[-1].fields)
    assert fields["json.client_port"] == "<int>" and fields["json.tick_time"] == 2000
    assert fields["json.{}"] == ["client_port", "data_dir", "data_log_dir", "tick_time", "command", "error"]
    [d] = diffs_between(a, admin_transcript(configuration(2181, tick=3000)))
    assert (d.field, d.real, d.ours) == ("json.tick_time", 2000, 3000)
    # a masked value of another type differs too
    [d] = diffs_between(a, admin_transcript(configuration("2181")))
    assert (d.field, d.real, d.ours) == ("json.client_port", "<int>", "<str>")


def test_admin_key_order_and_key_sets_are_compared():
    ref = {"read_only": False, "command": "is_read_only", "error": None}
    swapped = {"command": "is_read_only", "read_only": False, "error": None}
    [d] = diffs_between(admin_transcript(ref), admin_transcript(swapped))
    assert d.field == "json.{}"
    extra = dict(ref, more=1)
    assert {d.field for d in diffs_between(admin_transcript(ref), admin_transcript(extra))} == {"json.{}", "json.more"}


def test_admin_session_ids_map_to_the_scenarios_sessions_and_keyed_maps_are_sorted():
    """Session ids (as values and as map keys) become session#k; an id the scenario never saw is masked."""
    other = 0x0100000ABCDE0777

    def watches(a, b):
        return {"session_id_to_watched_paths": {str(a): ["/r/a"], str(b): ["/r/b", "/r/a"]},
                "command": "watches", "error": None}

    def by_path(ids):
        return {"path_to_session_ids": {"/r/a": ids}, "command": "watches_by_path", "error": None}

    ref = admin_transcript(watches(SESSION_A, SESSION_B), by_path([SESSION_A, SESSION_B, other]))
    a, b = SESSION_A + 10, SESSION_B + 10
    reordered = {"session_id_to_watched_paths": {str(b): ["/r/b", "/r/a"], str(a): ["/r/a"]},
                 "command": "watches", "error": None}
    cand = admin_transcript(reordered, by_path([other + 1, b, a]), session=a)
    cand.events[1].fields["session_id"] = b
    # the keys came in another (hash) order and the set of ids too: the same sessions, the same shape
    assert diffs_between(ref, cand) == []
    fields = dict(Normalizer(ref).events()[-2].fields)
    assert fields["json.session_id_to_watched_paths.{}"] == ["session#1", "session#2"]
    assert fields["json.session_id_to_watched_paths.session#2"] == ["/r/b", "/r/a"]  # paths keep their order
    assert dict(Normalizer(ref).events()[-1].fields)["json.path_to_session_ids./r/a"] == [
        "<other session>", "session#1", "session#2"]
    swapped = admin_transcript(watches(SESSION_B, SESSION_A), by_path([SESSION_A, SESSION_B, other]))
    assert {d.field for d in diffs_between(ref, swapped)} == {
        "json.session_id_to_watched_paths.session#1", "json.session_id_to_watched_paths.session#2"}


def test_admin_zxids_go_through_the_scenarios_zxid_map():
    def srvr(zxid):
        return {"version": "3.8.0", "server_stats": {"last_processed_zxid": zxid, "uptime": 5}, "node_count": 7,
                "command": "server_stats", "error": None}

    ref = admin_transcript(srvr(101))
    assert dict(Normalizer(ref).events()[-1].fields)["json.server_stats.last_processed_zxid"] == "Z+1"
    assert diffs_between(ref, admin_transcript(srvr(101))) == []
    assert {d.field for d in diffs_between(ref, admin_transcript(srvr(102)))} == {
        "json.server_stats.last_processed_zxid"}
    assert {d.field for d in diffs_between(ref, admin_transcript(dict(srvr(101), node_count=6)))} == {
        "json.node_count"}


def test_admin_environment_masks_runtime_facts_not_the_answer():
    """The environment rules mask values by key; the answer, its keys, command and error stay compared."""
    env = {"zookeeper.version": "3.8.0", "host.name": "h", "java.version": "17", "os.name": "Linux",
           "os.memory.free": "1MB", "command": "environment", "error": None}
    out = normalize_admin(admin_event(env).fields)["json"]
    assert out["java.version"] == "<str>" and out["os.memory.free"] == "<str>" and out["host.name"] == "<str>"
    assert out["os.name"] == "Linux" and out["command"] == "environment" and out["error"] is None


def test_admin_command_list_page_becomes_its_links():
    page = '<a href="/commands/dirs">dirs</a>\n<br/>\n<a href="/commands/dump">dump</a>\n<br/>\n'
    out = normalize_admin({"command": "", "query": {}, "status": 200, "content_type": None, "text": page})
    assert out["links"] == {"dirs": "/commands/dirs", "dump": "/commands/dump"}
    assert out["links_in_order"] is True and out["other_text"] == ""


# --- the recording client, against a scripted peer ------------------------------------------------


class ScriptedPeer:
    """A one-connection TCP server that reads what the client sends and writes scripted bytes."""

    def __init__(self, script: bytes, close_after=True):
        self.script = script
        self.close_after = close_after
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conn, _ = self.sock.accept()
        conn.settimeout(2)
        try:
            self.received = conn.recv(65536)
        except OSError:
            pass
        conn.sendall(self.script)
        if self.close_after:
            conn.close()
        else:
            self.conn = conn  # kept open until the test ends


def reply(xid, zxid, err, body=b""):
    return frame(r.ReplyHeader.encode(r.ReplyHeader(xid, zxid, err)) + body)


def test_client_matches_replies_by_xid_and_decodes_notifications_and_close():
    st = r.Stat(1, 1, 2, 2, 0, 0, 0, 0, 0, 0, 1)
    script = (
        frame(r.ConnectResponse.encode(r.ConnectResponse(0, 4000, SESSION_A, b"p" * 16)))  # no readOnly byte
        + reply(-1, -1, 0, r.WatcherEvent(1, 3, "/x").to_bytes())
        + reply(7, 5, 0, r.ExistsResponse(st).to_bytes())
        + reply(-2, 5, 0)
    )
    peer = ScriptedPeer(script)
    t = Transcript()
    c = Connection(t, "c1", "127.0.0.1", peer.port)
    c.send_connect(read_only=None)
    c.submit(3, r.ExistsRequest("/x", True), xid=7)
    c.wait_reply(7)
    kinds = [e.kind for e in t.events]
    assert kinds == ["connect_response", "notification", "reply"]  # the ping reply is not consumed yet
    assert c.wait_close()
    assert [e.kind for e in t.events] == ["connect_response", "notification", "reply", "reply", "closed"]
    assert t.events[0].fields["read_only"] is None
    assert t.events[2].fields["op"] == "exists" and t.events[2].fields["body"]["stat"]["czxid"] == 1
    ping = [e for e in t.events if e.kind == "reply" and e.fields["xid"] == -2]
    assert ping and ping[0].fields["op"] == "ping"


def test_client_records_undecodable_bodies_as_raw_hex():
    # a Stat body cut short, and a WatcherEvent whose bytes do not re-encode (a bool byte of 2 elsewhere)
    script = frame(r.ConnectResponse.encode(r.ConnectResponse(0, 4000, SESSION_A, b"p" * 16)) + b"\x02") + reply(
        1, 5, 0, b"\x00\x01\x02"
    )
    peer = ScriptedPeer(script)
    t = Transcript()
    c = Connection(t, "c1", "127.0.0.1", peer.port)
    c.send_connect()
    c.submit(3, r.ExistsRequest("/x", False), xid=1)
    c.wait_reply(1)
    assert "raw" in t.events[0].fields  # readOnly byte 2 is not a valid jute boolean as ZooKeeper writes it
    assert t.events[1].fields["body"] == {"raw": "000102"}


def test_client_records_a_timeout_when_nothing_comes():
    peer = ScriptedPeer(b"", close_after=False)
    t = Transcript()
    c = Connection(t, "c1", "127.0.0.1", peer.port)
    c.submit(3, r.ExistsRequest("/x", False), xid=1)
    assert c.wait_reply(1, timeout_s=0.3) is None
    assert t.events[-1].kind == "timeout"


def test_multi_decoding_keeps_every_header_field():
    body = (
        r.MultiHeader.encode(r.MultiHeader(-1, False, -101))
        + r.ErrorResponse(-101).to_bytes()
        + r.MultiHeader.encode(r.MultiHeader(-1, True, -1))
    )
    out = decode_multi_body(body)
    assert out == [
        {"type": "error", "done": False, "err": "NONODE(-101)", "body": {"err": -101}},
        {"type": -1, "done": True, "err": -1},
    ]


# --- intended differences, reports, registry -----------------------------------------------------


def _outcome(name, diffs, entries):
    from conformance.harness import Scenario, ScenarioResult

    sc = Scenario(name, lambda t: None, "doc")
    res = ScenarioResult(sc, Transcript(), 0.0)
    unexpected, used = intended_mod.split(name, diffs, entries)
    return Outcome(sc, res, res, [], [], diffs, unexpected, used)


def test_intended_differences_cover_only_what_they_name(tmp_path):
    p = tmp_path / "i.toml"
    p.write_text(
        '[[difference]]\nscenario = "check.*"\nfields = ["err"]\nours = "UNIMPLEMENTED*"\nreason = "ZOOKEEPER-2623"\n'
    )
    entries = intended_mod.load(p)
    ref, cand = reference_transcript(), reference_transcript()
    cand.events[2].fields["err"] = "UNIMPLEMENTED(-6)"
    d = diffs_between(ref, cand)
    assert _outcome("check.x", d, entries).status == "INTENDED"
    assert _outcome("other.x", d, entries).status == "DIFFER"
    cand.events[2].fields["err"] = "NONODE(-101)"
    assert _outcome("check.x", diffs_between(ref, cand), entries).status == "DIFFER"


def test_intended_entries_need_a_reason(tmp_path):
    p = tmp_path / "i.toml"
    p.write_text('[[difference]]\nscenario = "x"\n')
    with pytest.raises(ValueError):
        intended_mod.load(p)


def test_the_shipped_intended_differences_load_and_name_real_scenarios():
    names = [s.name for s in all_scenarios()]
    import fnmatch

    for e in intended_mod.load():
        assert e.reason
        assert any(fnmatch.fnmatchcase(n, e.scenario) for n in names), e.scenario


def test_summary_line_format():
    entries = []
    outs = [
        _outcome("a", [], entries),
        _outcome("b", diffs_between(reference_transcript(), reference_transcript(children=("x",))), entries),
    ]
    assert summary_line(outs) == "conformance: 1 match, 1 differ of 2"


def test_registry_has_enough_documented_unique_scenarios():
    scs = all_scenarios()
    assert len(scs) >= 250
    assert len({s.name for s in scs}) == len(scs)
    assert all(s.doc.strip() for s in scs)


# --- the whole pipeline against two real servers -------------------------------------------------


@pytest.mark.real_zookeeper
@pytest.mark.skipif(not shutil.which("java"), reason="needs java for Apache ZooKeeper")
def test_real_against_real_matches_on_a_few_scenarios():
    from conformance.__main__ import main

    rc = main(
        ["--candidate", "real", "-k", "session.connect.basic", "-k", "multi.failure.middle_op", "-k", "watch.one_shot"]
    )
    assert rc == 0
