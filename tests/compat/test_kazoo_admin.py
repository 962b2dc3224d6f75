"""kazoo's admin surface: server_version (envi), command() four-letter words, reconfig in standalone."""

from __future__ import annotations

import re

import pytest
from compat_helpers import unchrooted
from kazoo.exceptions import ReconfigDisabledError


def _sid(client) -> str:
    return "0x%x" % client.client_id[0]


def _blocks(text: str) -> dict[str, list[str]]:
    """Parse wchc/wchp output: unindented header lines, each followed by tab-indented entries."""
    blocks: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("\t"):
            assert current is not None, text
            blocks[current].append(line.strip())
        else:
            current = line.strip()
            blocks[current] = []
    return blocks


def test_server_version_is_3_8(zk):
    """server_version() (parsed from 'envi') reports ZooKeeper 3.8.x."""
    version = zk.server_version()
    assert version[:2] == (3, 8) and len(version) == 3


def test_ruok_and_isro(zk):
    """ruok answers imok; isro answers rw on a read-write standalone server."""
    assert zk.command(b"ruok") == "imok"
    assert zk.command(b"isro") == "rw"


def test_srvr_shape(zk):
    """srvr answers its nine 'Key: value' lines in ZooKeeper's order, Mode standalone, Zxid in hex."""
    _, stat = zk.create("/n", include_data=True)
    text = zk.command(b"srvr")
    lines = [line for line in text.splitlines() if line]
    keys = [line.split(":", 1)[0] for line in lines]
    assert keys == [
        "Zookeeper version",
        "Latency min/avg/max",
        "Received",
        "Sent",
        "Connections",
        "Outstanding",
        "Zxid",
        "Mode",
        "Node count",
    ]
    values = dict(line.split(": ", 1) for line in lines)
    assert values["Zookeeper version"].startswith("3.8.")
    assert values["Mode"] == "standalone"
    assert re.fullmatch(r"0x[0-9a-f]+", values["Zxid"])
    assert int(values["Zxid"], 16) >= stat.czxid
    assert re.fullmatch(r"\d+/[\d.]+/\d+", values["Latency min/avg/max"])
    assert int(values["Node count"]) >= 5
    assert int(values["Connections"]) >= 1
    assert text.endswith("\n")


def test_stat_lists_clients(zk):
    """stat answers the srvr lines plus a Clients: section."""
    text = zk.command(b"stat")
    assert text.startswith("Zookeeper version: 3.8.")
    assert "\nClients:\n" in text and "\nMode: standalone\n" in text


def test_conf_reports_configuration(zk, zk_server):
    """conf reports the configured port, tickTime and session timeout bounds as key=value lines."""
    conf = dict(line.split("=", 1) for line in zk.command(b"conf").splitlines() if "=" in line)
    assert conf["clientPort"] == str(zk_server.port)
    assert conf["tickTime"] == "2000"
    assert conf["minSessionTimeout"] == "4000"
    assert conf["maxSessionTimeout"] == "40000"


def test_envi_reports_version(zk):
    """envi starts with 'Environment:' and carries zookeeper.version=3.8.x."""
    text = zk.command(b"envi")
    assert text.splitlines()[0] == "Environment:"
    assert re.search(r"^zookeeper\.version=3\.8\.", text, re.MULTILINE)


def test_mntr_reports_tab_separated_metrics(zk):
    """mntr answers tab-separated zk_* metrics, including version, state and ephemerals count."""
    zk.create("/eph", ephemeral=True)
    metrics = dict(line.split("\t", 1) for line in zk.command(b"mntr").splitlines() if "\t" in line)
    assert metrics["zk_version"].startswith("3.8.")
    assert metrics["zk_server_state"] == "standalone"
    assert int(metrics["zk_ephemerals_count"]) >= 1
    assert int(metrics["zk_znode_count"]) >= 5


def test_watch_commands_list_data_watches_only(zk):
    """wchc/wchp list a session's data watches (get/exists) by session and by path; child watches are not listed."""
    zk.create("/data")
    zk.create("/kids")
    zk.get("/data", watch=lambda e: None)
    zk.exists("/missing", watch=lambda e: None)
    zk.get_children("/kids", watch=lambda e: None)
    sid = _sid(zk)
    by_session = _blocks(zk.command(b"wchc"))
    assert sorted(by_session[sid]) == sorted([unchrooted(zk, "/data"), unchrooted(zk, "/missing")])
    by_path = _blocks(zk.command(b"wchp"))
    assert by_path[unchrooted(zk, "/data")] == [sid]
    assert by_path[unchrooted(zk, "/missing")] == [sid]
    assert unchrooted(zk, "/kids") not in by_path
    summary = zk.command(b"wchs")
    assert re.fullmatch(r"\d+ connections watching \d+ paths\nTotal watches:\d+\n", summary), summary


def test_dump_lists_ephemerals_by_session(zk):
    """dump lists every session's ephemeral paths under the session id."""
    zk.create("/e1", ephemeral=True)
    zk.create("/e2", ephemeral=True)
    text = zk.command(b"dump")
    assert text.startswith("SessionTracker dump:\n")
    section = text.split("ephemeral nodes dump:\n", 1)[1]
    blocks = _blocks(section.split("Connections dump:", 1)[0])
    assert sorted(blocks[_sid(zk) + ":"]) == sorted([unchrooted(zk, "/e1"), unchrooted(zk, "/e2")])


def test_cons_lists_this_connection(zk):
    """cons has a line for this connection with its session id and negotiated timeout."""
    text = zk.command(b"cons")
    line = next(line for line in text.splitlines() if "sid=%s," % _sid(zk) in line)
    assert line.startswith(" /127.0.0.1:")
    assert ",to=10000," in line


def test_reconfig_is_disabled_in_standalone(zk):
    """reconfig on a standalone server (reconfigEnabled=false) fails with ReconfigDisabledError."""
    with pytest.raises(ReconfigDisabledError):
        zk.reconfig(joining=None, leaving="1", new_members=None)
    with pytest.raises(ReconfigDisabledError):
        zk.reconfig(joining="server.2=127.0.0.1:2888:3888;2181", leaving=None, new_members=None)
